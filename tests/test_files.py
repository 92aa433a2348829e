"""Files the zoo writes for reuse are reused only while they hold what was written."""

from zoo.data.files import matches_recorded_sha256, record_sha256, sha256_of


def test_a_file_matches_the_sha256_recorded_when_it_was_written(tmp_path):
    path = tmp_path / "pretrained.weights.h5"
    path.write_bytes(b"weights after pretraining")
    assert record_sha256(path) == sha256_of(path)
    assert matches_recorded_sha256(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pretrained.weights.h5", "pretrained.weights.h5.sha256"]


def test_a_changed_unrecorded_or_missing_file_does_not_match(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"original")
    assert not matches_recorded_sha256(path)  # never recorded: not trusted
    record_sha256(path)
    path.write_bytes(b"forged")
    assert not matches_recorded_sha256(path)
    path.unlink()
    assert not matches_recorded_sha256(path)
    (tmp_path / "w.h5.sha256").write_bytes(b"\xff\xfe")
    assert not matches_recorded_sha256(path)
