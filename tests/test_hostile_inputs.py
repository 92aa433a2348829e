"""Hostile checkpoints, config files, data paths and environments, each through ``python -m zoo.run`` as a separate
process: exit status 2, one line on stderr naming the file (and the field), no traceback, nothing exported, and no
time or memory spent building what the input describes. Then processes that race or are killed: two exports into
one directory at once, two runs of one run directory at once, an export killed mid-write, a worker of ``zoo.launch``
killed mid-training."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from zoo.errors import ExportError
from zoo.export.models_config import read_models_config
from zoo.export.preflight import check_export_target
from zoo.export.versions import existing_versions, publish
from zoo_subprocess import PYTHON, env_with, launched_workers, launcher_cleaned_up, run_python

FIXTURES = Path(__file__).parent / "fixtures"
SECONDS = 120  # each refusal comes before any model is built; a run that builds or expands would take longer


def refused(tmp_path: Path, args: list[str]) -> str:
    """``python -m zoo.run ARGS``: exit status 2, nothing exported; the one line it printed."""
    done = run_python(["-m", "zoo.run", *args, "--export-dir", str(tmp_path / "exports")], cwd=tmp_path,
                      timeout=SECONDS)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "exports").exists()
    assert not (tmp_path / "runs").exists()  # nor a run directory
    return lines[0]


def checkpoint_copy(tmp_path: Path, family: str, name: str, **config_changes) -> Path:
    """A copy of a test checkpoint with ``config.json`` fields replaced."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / family / name, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **config_changes}))
    return target


# ------------------------------------------------------------------------------------------ checkpoint configs
@pytest.mark.parametrize("recipe, family, name, changes, expected", [
    ("bert", "hf_encoders", "bert_mlm", {"hidden_size": "256"}, "hidden_size is '256', expected an integer >= 1"),
    ("bert", "hf_encoders", "bert_mlm", {"num_hidden_layers": -1}, "num_hidden_layers is -1, expected an integer >= 1"),
    ("bert", "hf_encoders", "bert_mlm", {"vocab_size": 10 ** 9},
     "'bert.embeddings.word_embeddings.weight' has shape"),
    ("electra", "hf_encoders", "electra_discriminator", {"max_position_embeddings": "512"},
     "max_position_embeddings is '512', expected an integer >= 1"),
    ("electra", "hf_encoders", "electra_discriminator", {"layer_norm_eps": 0},
     "layer_norm_eps is 0, expected a number > 0"),
    ("t5", "hf_t5", "t5_relu_tied", {"num_layers": -1}, "num_layers is -1, expected an integer >= 1"),
    ("t5", "hf_t5", "t5_relu_tied", {"d_model": 1.5}, "d_model is 1.5, expected an integer >= 1"),
    ("t5", "hf_t5", "t5_relu_tied", {"num_layers": 1000, "num_decoder_layers": 1000},
     "no tensor 'encoder.block.999.layer.0.SelfAttention.q.weight' (is config.json's layer count right?)"),
], ids=["bert-size-as-string", "bert-negative-layers", "bert-vocabulary-larger-than-its-weights",
        "electra-positions-as-string", "electra-zero-epsilon", "t5-negative-layers", "t5-fractional-width",
        "t5-more-layers-than-its-weights"])
def test_a_checkpoint_config_with_a_wrong_field_is_refused_before_anything_is_built(
        tmp_path, recipe, family, name, changes, expected):
    directory = checkpoint_copy(tmp_path, family, name, **changes)
    line = refused(tmp_path, [recipe, "--set", f"init={directory}", "--set", "epochs=0"])
    assert "config.json" in line or "model.safetensors" in line
    assert expected in line


def test_a_malformed_tokenizer_config_is_refused(tmp_path):
    directory = checkpoint_copy(tmp_path, "hf_encoders", "bert_mlm")
    (directory / "tokenizer_config.json").write_text('{"do_lower_case": tru')
    line = refused(tmp_path, ["bert", "--set", f"init={directory}", "--set", "epochs=0"])
    assert "tokenizer_config.json: not valid JSON" in line


def test_a_garbage_sentencepiece_model_is_refused(tmp_path):
    directory = checkpoint_copy(tmp_path, "hf_t5", "t5_relu_tied")
    (directory / "spiece.model").write_bytes(b"\x00garbage, not a protobuf\xff" * 10)
    line = refused(tmp_path, ["t5", "--set", f"init={directory}", "--set", "epochs=0"])
    assert "spiece.model: not a T5 SentencePiece model" in line


# ------------------------------------------------------------------------------------------------ config files
BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
)


@pytest.mark.parametrize("name, text, expected", [
    ("laughs.yaml", BILLION_LAUGHS, "line 2: YAML aliases (*a) are not accepted"),
    ("deep.yaml", "epochs: " + "[" * 50 + "]" * 50, "nests deeper than 8 levels"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "cannot parse config file"),
    ("huge.yaml", "# padding\n" * 200_000, "a config is at most 1,000,000"),
], ids=["yaml-billion-laughs", "yaml-deep-nesting", "json-deep-nesting", "oversized-file"])
def test_a_config_file_that_would_exhaust_memory_is_refused_at_once(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    line = refused(tmp_path, ["cnn_mnist", "--config", str(path)])
    assert str(path) in line and expected in line


# ---------------------------------------------------------------------------------------------- odd arguments
@pytest.mark.parametrize("args, expected", [
    (["cnn_mnist", "--version", str(2**63)], "is not a version number (ASCII digits, at most 9223372036854775807)"),
    (["lstm", "--set", "data=tfds:../x"], "tfds has no dataset '../x'"),
    (["lstm", "--set", "data={tmp}/notes"], "a file without a suffix is not a data source"),
], ids=["version-beyond-int64", "tfds-name-with-a-path", "file-without-a-suffix-as-data"])
def test_an_odd_argument_is_refused(tmp_path, args, expected):
    (tmp_path / "notes").write_text("text,label\n")
    line = refused(tmp_path, [arg.format(tmp=tmp_path) for arg in args])
    assert expected in line


# ------------------------------------------------------------------------------------------ odd data paths
@pytest.mark.parametrize("setting, expected", [
    ("data=", "data='': give 'package', 'tfds:NAME' or a path"),
    ("data={tmp}/notes.txt", "a .txt file is not a data source"),
    ("data={tmp}/table.csv", "cnn_mnist reads images; give a folder of images"),
    ("data={tmp}/empty", "empty holds no .txt files or images"),
    ("validation_data={tmp}/missing", "validation_data={tmp}/missing: no such file or folder"),
], ids=["empty-data", "text-file-for-images", "csv-for-images", "empty-folder", "missing-validation-data"])
def test_an_odd_data_path_is_refused_naming_it(tmp_path, setting, expected):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "table.csv").write_text("text,label\na,b\n")
    (tmp_path / "empty").mkdir()
    line = refused(tmp_path, ["cnn_mnist", "--set", setting.format(tmp=tmp_path)])
    assert expected.format(tmp=tmp_path) in line


T5_TINY = ["--set", "epochs=0", "--set", "max_examples=24", "--set", "vocab_size=300", "--set", "num_sentinels=20"]


@pytest.mark.parametrize("setting, expected", [
    ("data=", "data='': give 'package', 'tfds:NAME' or a path"),
    ("data={tmp}/missing.csv", "data={tmp}/missing.csv: no such file or folder"),
    ("data={tmp}/notes.txt", "data={tmp}/notes.txt: a .txt file is not a data source"),
    ("data={tmp}/images", "data={tmp}/images: a folder of images, but t5 reads text"),
    ("data=tfds:../x", "tfds has no dataset '../x'"),
    ("data={tmp}/table.csv", "data={tmp}/table.csv has neither columns 'source' and 'target' (source_column, "
                             "target_column: pairs) nor 'text' and 'label'"),
    ("validation_data={tmp}/missing.jsonl", "validation_data={tmp}/missing.jsonl: no such file or folder"),
], ids=["empty-data", "missing-path", "text-file", "image-folder-for-text", "tfds-name-with-a-path",
        "csv-without-source-and-target", "missing-validation-data"])
def test_t5_refuses_data_it_cannot_read_with_one_line(tmp_path, setting, expected):
    """t5 learns pairs, or labelled text as text → label name; its notice of the latter came before the data was
    checked, so a path it could not read cost two lines. The data layer's one line is all that is printed now."""
    from PIL import Image

    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "table.csv").write_text("question,answer\nwhy,because\n")
    (tmp_path / "images" / "cats").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "images" / "cats" / "a.png")
    line = refused(tmp_path, ["t5", *T5_TINY, "--set", setting.format(tmp=tmp_path)])
    assert line.startswith("zoo: error: ") and expected.format(tmp=tmp_path) in line


# ----------------------------------------------------------------------------------- an unusable cache folder
TINY_RUN = ["cnn_mnist", "--set", "epochs=1", "--set", "max_examples=64", "--set", "filters=4",
            "--set", "dense_units=8", "--set", "min_epoch_examples=0"]
RUN_SECONDS = 240  # a tiny cnn_mnist run takes about 15 s alone, 30 s beside another


@pytest.mark.parametrize("where", ["a-regular-file", "read-only-folder"])
def test_an_unusable_cache_folder_costs_one_warning_and_the_run_goes_on(tmp_path, where):
    """The cache is a convenience: the run trains and exports uncached, saying once why (array_cache's policy)."""
    cache = tmp_path / "cache"
    if where == "a-regular-file":
        cache.write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a 0500 folder; the file case covers the same path through write_cache")
        cache.mkdir(mode=0o500)
    done = subprocess.run([PYTHON, "-m", "zoo.run", *TINY_RUN, "--export-dir", str(tmp_path / "exports")],
                          cwd=tmp_path, env=env_with(ZOO_CACHE_DIR=str(cache)), capture_output=True, text=True,
                          timeout=RUN_SECONDS, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: warning: not caching mnist-"), done.stderr[-3000:]
    assert str(cache) in lines[0] and "ZOO_CACHE_DIR" in lines[0]
    assert existing_versions(tmp_path / "exports" / "cnn_mnist") == [1]
    if where == "a-regular-file":
        assert cache.read_text() == "not a folder"
    else:
        assert list(cache.iterdir()) == []


# ----------------------------------------------------------------------------------- exports that race
def assert_only_complete_versions(export_dir: Path, expected: list[int]) -> None:
    """``cnn_mnist/`` holds exactly the ``expected`` versions, each complete, no temporary; models.config parses."""
    model_dir = export_dir / "cnn_mnist"
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(map(str, expected))
    for version in expected:
        assert (model_dir / str(version) / "saved_model.pb").is_file()
        card = json.loads((model_dir / str(version) / "assets.extra" / "zoo.json").read_text())
        assert card["version"] == version
    assert "cnn_mnist" in (export_dir / "models.config").read_text()
    read_models_config(export_dir / "models.config")


def test_two_exports_into_one_directory_at_once_publish_two_complete_versions(tmp_path):
    exports = tmp_path / "exports"
    processes = [subprocess.Popen([PYTHON, "-m", "zoo.run", *TINY_RUN, "--export-dir", str(exports),
                                   "--run-dir", str(tmp_path / f"run{i}")],
                                  cwd=tmp_path, env=env_with(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, stdin=subprocess.DEVNULL) for i in range(2)]
    try:
        ended = [process.communicate(timeout=RUN_SECONDS) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for process, (_, err) in zip(processes, ended):
        assert process.returncode == 0 and "Traceback" not in err, err[-3000:]
    assert sorted(out.split("exported ")[1].split()[0] for out, _ in ended) == [str(exports / "cnn_mnist" / n)
                                                                                for n in ("1", "2")]
    assert_only_complete_versions(exports, [1, 2])


def test_exports_that_choose_their_version_at_the_same_moment_get_distinct_versions(tmp_path):
    """Both writers are inside ``write`` at once, so both chose a version before either published."""
    both_writing = threading.Barrier(2, timeout=30)
    published, errors = [], []

    def write(directory: Path, version: int) -> None:
        (directory / "saved_model.pb").write_bytes(b"x")
        (directory / "version").write_text(str(version))
        both_writing.wait()

    def export() -> None:
        try:
            published.append(publish(tmp_path / "m", None, write).name)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sorted(published) == ["1", "2"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "2"]
    assert all((tmp_path / "m" / n / "version").read_text() == n for n in ("1", "2"))


def test_a_version_another_export_is_writing_is_refused_at_once(tmp_path):
    writing, release = threading.Event(), threading.Event()

    def slow_write(directory: Path, version: int) -> None:
        (directory / "saved_model.pb").write_bytes(b"x")
        writing.set()
        release.wait(30)

    first = threading.Thread(target=publish, args=(tmp_path / "exports" / "m", 3, slow_write))
    first.start()
    try:
        assert writing.wait(30)
        with pytest.raises(ExportError, match=r"m/3 is being exported by process \d+"):
            check_export_target(tmp_path / "exports", "m", 3)  # zoo.run's check before any training
        with pytest.raises(ExportError, match="is being exported by process"):
            publish(tmp_path / "exports" / "m", 3, lambda d, v: pytest.fail("wrote a reserved version"))
    finally:
        release.set()
        first.join(30)
    assert existing_versions(tmp_path / "exports" / "m") == [3]


def test_a_second_run_of_a_run_directory_in_use_is_refused_at_once_and_the_first_completes(tmp_path):
    """Two runs of one recipe and config from one folder share ``runs/RECIPE/CONFIG_HASH``; the second would resume
    from, or delete, the first's per-epoch backup. It is refused before it reads any data, naming the directory."""
    args = [PYTHON, "-m", "zoo.run", *TINY_RUN, "--set", "epochs=2", "--export-dir", str(tmp_path / "exports")]
    with open(tmp_path / "first.err", "w") as first_err:
        first = subprocess.Popen(args, cwd=tmp_path, env=env_with(), stdout=subprocess.PIPE, stderr=first_err,
                                 text=True, stdin=subprocess.DEVNULL)
    try:
        for line in first.stdout:  # ends if the first run exits; bounded by the finally below
            if line.startswith("Epoch 1/2"):  # training: it holds its run directory
                break
        [lock] = tmp_path.glob("runs/cnn_mnist/*/run.lock")
        held = lock.read_bytes()
        first.send_signal(signal.SIGSTOP)  # it stays mid-training, holding the lock, while the second starts
        try:
            started = time.monotonic()
            second = run_python(args[1:], cwd=tmp_path, timeout=SECONDS)
            took = time.monotonic() - started
        finally:
            first.send_signal(signal.SIGCONT)
        out, _ = first.communicate(timeout=RUN_SECONDS)
    finally:
        first.kill()
        first.wait()
    err = (tmp_path / "first.err").read_text()
    run_dir = lock.parent.relative_to(tmp_path)
    assert second.returncode == 2, second.stderr[-3000:]
    assert second.stderr.strip().splitlines() == [
        f"zoo: error: run directory {run_dir} is in use by another run (process {first.pid}); wait for it to "
        "finish, or pass --run-dir DIR (run_dir= in Python) to run beside it"], second.stderr[-3000:]
    assert held == f"{first.pid}\n".encode() and "Epoch" not in second.stdout and took < SECONDS
    assert first.returncode == 0 and "Traceback" not in err, err[-3000:]
    assert "Epoch 2/2" in out and f"exported {tmp_path / 'exports' / 'cnn_mnist' / '1'}" in out
    assert_only_complete_versions(tmp_path / "exports", [1])
    assert not (tmp_path / run_dir / "backup").exists()  # the first finished: its backup is gone, as it should


# ------------------------------------------------------------------------------------------ killed processes
def test_an_export_killed_mid_write_leaves_no_version_and_the_next_run_removes_its_temporary(tmp_path):
    exports = tmp_path / "exports"
    model_dir = exports / "cnn_mnist"
    run = [PYTHON, "-m", "zoo.run", *TINY_RUN, "--export-dir", str(exports)]
    process = subprocess.Popen(run, cwd=tmp_path, env=env_with(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + RUN_SECONDS
        temporary = None
        while temporary is None and process.poll() is None and time.monotonic() < deadline:
            found = list(model_dir.glob(".tmp-*/*")) if model_dir.is_dir() else []  # writing has begun
            temporary = found[0].parent if found else None
            time.sleep(0.02)
        assert temporary is not None, f"the export ended ({process.returncode}) before it was seen writing"
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()
    assert existing_versions(model_dir) == [] and temporary.is_dir()  # nothing TF Serving would load
    assert not (exports / "models.config").exists()

    done = run_python(run[1:], cwd=tmp_path, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not temporary.exists()
    assert_only_complete_versions(exports, [1])


def test_a_launcher_worker_killed_mid_training_stops_the_other_and_names_it(tmp_path):
    launch = [PYTHON, "-m", "zoo.launch", "--workers", "2", "--timeout", "300", *TINY_RUN, "--set", "epochs=3",
              "--export-dir", str(tmp_path / "exports")]
    launcher = subprocess.Popen(launch, cwd=tmp_path, env=env_with(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    with launcher_cleaned_up(launcher) as workers:
        for line in launcher.stdout:  # ends if the launcher exits; bounded by --timeout and the cleanup
            if line.startswith("[worker 0] Epoch 1/"):  # worker 1's progress goes to its output.log
                break
        workers.update(launched_workers(launcher))
        assert sorted(workers) == [0, 1]
        workers[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _, err = launcher.communicate(timeout=60)
        stopped_after = time.monotonic() - killed
    assert launcher.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(r"zoo\.launch: worker 1 was killed by SIGKILL( during epoch [123]/3)?; "
                                            r"stopped the other workers", lines[0]), err[-3000:]
    assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE
    assert stopped_after < 30
    assert not (tmp_path / "exports" / "cnn_mnist").exists() or existing_versions(tmp_path / "exports" / "cnn_mnist") == []
