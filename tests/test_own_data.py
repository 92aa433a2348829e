"""Recipes on a user's own files, run as a user runs them (``python -m zoo.run`` in a clean subprocess): BBC News
written out as CSV, JSON Lines and class folders trains exactly as ``data=package``; MNIST as PNG class folders
trains the image recipes and is served from encoded files; t5 learns pairs from JSON Lines; two workers share a
CSV."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf

from data_support import write_bbc_csv, write_bbc_folders, write_bbc_jsonl, write_mnist_folders
from signature_support import session_run
from zoo.data import bbc_news
from zoo.data.examples import DataSpec, load_text_classification
from zoo_subprocess import only_version, run_python, set_options

LSTM = {"epochs": 2, "max_examples": 160, "batch_size": 16, "sequence_length": 64, "lstm_units": 8,
        "learning_rate": 0.01, "deterministic": True}
BBC_FORMS = {  # how each form names its files and columns
    "csv": (write_bbc_csv, {"text_column": "article", "label_column": "topic"}),
    "jsonl": (write_bbc_jsonl, {"text_column": "article", "label_column": "topic"}),
    "folders": (write_bbc_folders, {}),
}


@pytest.fixture(scope="module")
def bbc_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bbc")
    return {form: (write(root / form), columns) for form, (write, columns) in BBC_FORMS.items()}


def _card(version_dir):
    return json.loads((version_dir / "assets.extra" / "zoo.json").read_text())


def _forms(paths, columns):
    return {"data": paths["train"], "validation_data": paths["validation"], "test_data": paths["test"], **columns}


@pytest.mark.parametrize("form", list(BBC_FORMS))
def test_each_form_gives_the_package_test_set(bbc_files, form):
    package = load_text_classification(DataSpec(), bbc_news.SOURCE)
    paths, columns = bbc_files[form]
    own = load_text_classification(DataSpec(**{k: str(v) for k, v in _forms(paths, columns).items()}))
    assert own.label_names == package.label_names
    for mine, theirs in zip((own.train, own.validation, own.test), (package.train, package.validation, package.test)):
        assert mine[0].tolist() == theirs[0].tolist() and mine[1].tolist() == theirs[1].tolist()


@pytest.mark.slow
def test_bbc_as_csv_jsonl_and_folders_trains_exactly_like_the_package(bbc_files, tmp_path):
    runs = {"package": {}, **{form: _forms(*bbc_files[form]) for form in BBC_FORMS}}

    def run(item):
        form, data = item
        args = ["-m", "zoo.run", "lstm", *set_options({**LSTM, **data}), "--export-dir", str(tmp_path / form)]
        return form, run_python(args, cwd=tmp_path, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(run, runs.items()))
    cards = {}
    for form, process in done.items():
        assert process.returncode == 0, f"{form}:\n{process.stderr[-3000:]}"
        cards[form] = _card(only_version(tmp_path / form, "lstm"))
    assert cards["package"]["metrics"]["test_accuracy"] > 0.3  # it learned something, so equality means something
    for form in BBC_FORMS:
        assert cards[form]["metrics"] == cards["package"]["metrics"], form
        assert cards[form]["data"]["rows"] == cards["package"]["data"]["rows"] == {"train": 160, "validation": 160,
                                                                                   "test": 160}
        assert cards[form]["data"]["label_names"] == list(bbc_news.LABEL_NAMES)
        assert [f["key"] for f in cards[form]["data"]["files"]] == ["data", "validation_data", "test_data"]


@pytest.fixture(scope="module")
def mnist_folders(tmp_path_factory):
    return write_mnist_folders(tmp_path_factory.mktemp("mnist_png"), per_class=30, test_per_class=5)


@pytest.mark.slow
def test_image_recipes_train_on_png_class_folders_and_serve_encoded_files(mnist_folders, tmp_path):
    import zoo

    overrides = {
        "cnn_mnist": {**zoo.get_recipe("cnn_mnist").tiny, "max_examples": 0, "epochs": 3},
        "autoencoder": {**zoo.get_recipe("autoencoder").tiny, "max_examples": 0},
        "kmeans": {**zoo.get_recipe("kmeans").tiny, "max_examples": 0},
    }
    data = {"data": mnist_folders["train"], "test_data": mnist_folders["test"]}

    def run(name):
        args = ["-m", "zoo.run", name, *set_options({**overrides[name], **data}), "--export-dir", str(tmp_path)]
        return name, run_python(args, cwd=tmp_path, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(run, overrides))
    for name, process in done.items():
        assert process.returncode == 0, f"{name}:\n{process.stderr[-3000:]}"
        card = _card(only_version(tmp_path, name))
        assert card["data"]["rows"]["test"] == 50 and card["data"]["files"][0]["files"] == 300

    files = sorted(mnist_folders["test"].glob("*/*.png"))
    encoded = np.array([path.read_bytes() for path in files], dtype=object)
    pixels = np.stack([tf.io.decode_png(data).numpy()[..., 0] for data in encoded])
    version = tmp_path / "cnn_mnist" / "1"
    _, from_pixels = session_run(version, "serving_default", {"images": pixels})
    _, from_files = session_run(version, "image_bytes", {"image_bytes": encoded})
    assert from_files["classes"].tolist() == from_pixels["classes"].tolist()
    np.testing.assert_allclose(from_files["probabilities"], from_pixels["probabilities"], atol=1e-6)
    assert set(from_pixels["classes"].tolist()) <= {str(d).encode() for d in range(10)}  # label names, as strings
    _, clusters = session_run(tmp_path / "kmeans" / "1", "image_bytes", {"image_bytes": encoded[:5]})
    _, direct = session_run(tmp_path / "kmeans" / "1", "serving_default", {"images": pixels[:5]})
    assert clusters["cluster"].tolist() == direct["cluster"].tolist()


@pytest.mark.slow
def test_t5_learns_pairs_from_jsonl_with_a_source_prefix_and_reports_rouge(tmp_path):
    import zoo

    table = bbc_news.read_bbc_news()
    rows = [{"article": body, "title": headline} for body, headline in zip(table["body"][:120], table["headline"])]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    overrides = {**zoo.get_recipe("t5").tiny, "max_new_tokens": 0, "data": tmp_path / "pairs.jsonl",
                 "source_column": "article", "target_column": "title", "source_prefix": "summarize: "}
    process = run_python(["-m", "zoo.run", "t5", *set_options(overrides), "--export-dir", str(tmp_path / "exp")],
                         cwd=tmp_path, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    card = _card(only_version(tmp_path / "exp", "t5"))
    assert {"test_rouge1", "test_rouge2", "test_rougeL", "test_exact_match"} <= set(card["metrics"])
    assert card["config"]["source_prefix"] == "summarize: " and card["config"]["max_new_tokens"] > 5
    assert card["data"]["label_names"] == [] and card["data"]["files"][0]["kind"] == "jsonl"


@pytest.mark.slow
def test_two_workers_read_the_same_split_of_a_csv_and_the_chief_publishes(bbc_files, tmp_path):
    paths, columns = bbc_files["csv"]
    overrides = {"epochs": 1, "max_examples": 64, "batch_size": 16, "sequence_length": 32, "lstm_units": 4,
                 "data": paths["train"], **columns}
    process = run_python(["-m", "zoo.launch", "--workers", "2", "--timeout", "500", "lstm", *set_options(overrides),
                          "--export-dir", str(tmp_path / "exp"), "--run-dir", str(tmp_path / "run")],
                         cwd=tmp_path, timeout=560)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-2000:]
    chief = [line.split("]", 1)[1].strip() for line in process.stdout.splitlines() if "  test_accuracy " in line]
    other = [line.strip() for line in (tmp_path / "run" / "worker-1" / "output.log").read_text().splitlines()
             if "  test_accuracy " in line]  # worker 1's full output goes to its log
    assert len(chief) == len(other) == 1 and chief[0] == other[0]  # both evaluated the same test split alike
    card = _card(only_version(tmp_path / "exp", "lstm"))
    assert card["data"]["files"][0]["kind"] == "csv" and card["data"]["rows"]["train"] == 64


@pytest.mark.slow
def test_two_workers_train_cnn_mnist_on_an_image_folder_and_the_chief_publishes(mnist_folders, tmp_path):
    overrides = {"epochs": 1, "filters": 4, "dense_units": 16, "min_epoch_examples": 0, "batch_size": 32,
                 "data": mnist_folders["train"], "test_data": mnist_folders["test"]}
    process = run_python(["-m", "zoo.launch", "--workers", "2", "--timeout", "500", "cnn_mnist",
                          *set_options(overrides), "--export-dir", str(tmp_path / "exp"),
                          "--run-dir", str(tmp_path / "run")], cwd=tmp_path, timeout=560)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-2000:]
    card = _card(only_version(tmp_path / "exp", "cnn_mnist"))
    assert card["data"]["rows"]["train"] + card["data"]["rows"]["validation"] == 300  # 30 PNGs of each digit
    assert card["data"]["label_names"] == [str(d) for d in range(10)]
