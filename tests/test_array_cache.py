"""Array caches are used only when their content matches the expected digest."""

import numpy as np
import pytest

from zoo.data.array_cache import arrays_digest, read_cache, write_cache


@pytest.fixture
def arrays():
    return {"x": np.arange(12, dtype=np.uint8).reshape(3, 4), "y": np.array([1, 2, 3], np.int64)}


def test_a_written_cache_reads_back_and_is_world_readable(tmp_path, arrays):
    path = tmp_path / "sub" / "c.npz"
    write_cache(path, arrays)
    loaded = read_cache(path, arrays_digest(arrays))
    assert loaded.keys() == arrays.keys()
    for name in arrays:
        np.testing.assert_array_equal(loaded[name], arrays[name])
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["c.npz"]  # no temporary left behind


@pytest.mark.parametrize(
    "forge",
    [
        lambda a: {**a, "y": np.full(3, 3, np.int64)},  # same shapes and dtypes, other labels
        lambda a: {**a, "y": a["y"].astype(np.int32)},  # same values, other dtype
        lambda a: {**a, "x": a["x"].reshape(4, 3)},  # same bytes, other shape
        lambda a: {"x": a["x"]},  # an array missing
        lambda a: {**a, "z": np.zeros(1)},  # an array more
    ],
    ids=["values", "dtype", "shape", "missing", "extra"],
)
def test_a_cache_that_differs_in_any_way_is_not_used(tmp_path, arrays, forge, capsys):
    path = tmp_path / "c.npz"
    np.savez(path, **forge(arrays))
    assert read_cache(path, arrays_digest(arrays)) is None
    assert "does not match the digest" in capsys.readouterr().err


def test_an_unreadable_cache_is_not_used(tmp_path, arrays, capsys):
    path = tmp_path / "c.npz"
    write_cache(path, arrays)
    path.write_bytes(path.read_bytes()[:50])
    assert read_cache(path, arrays_digest(arrays)) is None
    assert "is unreadable" in capsys.readouterr().err
    assert read_cache(tmp_path / "missing.npz", arrays_digest(arrays)) is None


@pytest.mark.parametrize("where", ["a_file", "beneath_a_file"])
def test_a_cache_folder_that_is_a_file_is_skipped_with_one_warning(tmp_path, arrays, where, capsys):
    (tmp_path / "file").write_text("not a folder")
    path = tmp_path / "file" / ("c.npz" if where == "a_file" else "sub/c.npz")
    assert read_cache(path, arrays_digest(arrays)) is None
    assert write_cache(path, arrays) == arrays_digest(arrays)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not caching c.npz" in err[0] and "a regular file stands where a folder is needed" in err[0]
    assert (tmp_path / "file").read_text() == "not a folder"
