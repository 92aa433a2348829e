"""Every kind of bad data given to ``python -m zoo.run``: exit status 2, one line naming the file (and the line, the
column, the label or the image where it applies), and nothing written: no export, no run directory."""

from __future__ import annotations

import re

import numpy as np
import pytest

from data_support import write_image_folders
from zoo.run import main
from zoo_subprocess import run_python

GOOD_CSV = "text,label\n" + "".join(f"ticket number {i},{'it' if i % 2 else 'billing'}\n" for i in range(40))
RNG = np.random.default_rng(0)


def _images(folder, count=6, side=8, label=0):
    return write_image_folders(folder, RNG.integers(0, 256, (count, side, side), dtype=np.uint8), [label] * count)


def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def missing_column(tmp):
    _write(tmp / "d.csv", GOOD_CSV)
    return "lstm", {"data": "d.csv", "text_column": "body"}, r"d\.csv has no column 'body' \(text_column\); its " \
                                                             r"columns: text, label"


def empty_file(tmp):
    _write(tmp / "d.csv", "")
    return "lstm", {"data": "d.csv"}, r"d\.csv is empty"


def no_rows(tmp):
    _write(tmp / "d.jsonl", "\n\n")
    return "lstm", {"data": "d.jsonl"}, r"d\.jsonl holds no examples"


def undecodable_byte(tmp):
    _write(tmp / "d.csv", GOOD_CSV.encode() + b"caf\xe9,it\n")
    return "lstm", {"data": "d.csv"}, r"d\.csv line 42: byte 0xe9 does not decode as utf-8"


def ragged_row(tmp):
    _write(tmp / "d.tsv", GOOD_CSV.replace(",", "\t") + "one\ttwo\tthree\n")
    return "bert", {"data": "d.tsv"}, r"d\.tsv line 42: 3 fields, but the header has 2"


def json_line_not_an_object(tmp):
    _write(tmp / "d.jsonl", '{"text": "a", "label": "x"}\n"just a string"\n')
    return "electra", {"data": "d.jsonl"}, r"d\.jsonl line 2: a JSON string, not an object"


def label_unseen_in_training(tmp):
    _write(tmp / "d.csv", GOOD_CSV)
    _write(tmp / "t.csv", "text,label\nmy screen is dark,hardware\n")
    return "lstm", {"data": "d.csv", "test_data": "t.csv"}, r"test_data=t\.csv has label 'hardware', which the " \
                                                            r"training split does not have"


def one_class(tmp):
    _write(tmp / "d.csv", "text,label\n" + "".join(f"t{i},same\n" for i in range(20)))
    return "lstm", {"data": "d.csv"}, r"fewer than two classes \(only 'same'\)"


def class_too_small(tmp):
    _write(tmp / "d.csv", GOOD_CSV + "rare one,rare\nrare two,rare\n")
    return "lstm", {"data": "d.csv", "validation_fraction": "0.3", "test_fraction": "0.3"}, \
        r"class 'rare' \(2 examples\) is too small for the split"


def corrupt_image(tmp):
    _images(tmp / "pics" / "a", label=0)
    _images(tmp / "pics" / "b", label=1)
    _write(tmp / "pics" / "1" / "0003.png", b"\x89PNG\r\n\x1a\nbroken")
    return "cnn_mnist", {"data": "pics"}, r"pics/1/0003\.png is not an image TensorFlow can decode"


def images_of_different_sizes(tmp):
    _images(tmp / "pics", side=8, label=0)
    _images(tmp / "pics", side=10, label=1)
    return "autoencoder", {"data": "pics"}, r"images differ in size: .*8x8.*10x10; set image_size=HxW"


def npz_without_y(tmp):
    np.savez(tmp / "d.npz", x=np.zeros((4, 8, 8), np.uint8))
    return "cnn_mnist", {"data": "d.npz"}, r"d\.npz has no array 'y'; its arrays: x"


def npz_lengths_differ(tmp):
    np.savez(tmp / "d.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.arange(5))
    return "kmeans", {"data": "d.npz"}, r"d\.npz: x and y have different lengths \(4 and 5\)"


def path_does_not_exist(tmp):
    return "lstm", {"data": "tickets.csv"}, r"data=tickets\.csv: no such file or folder"


def file_where_a_folder_goes(tmp):
    _write(tmp / "pics.png", b"\x89PNG")
    return "cnn_mnist", {"data": "pics.png"}, r"a \.png file is not a data source; data takes package, tfds:NAME"


def tfds_not_prepared(tmp):
    return "cnn_mnist", {"data": "tfds:mnist"}, r"tfds dataset 'mnist' is not prepared in .* \(no download is " \
                                                r"attempted\)"


def t5_given_images(tmp):
    _images(tmp / "pics" / "a", label=0)
    return "t5", {"data": "pics"}, r"data=pics: a folder of images, but t5 reads text"


def unknown_encoding(tmp):
    _write(tmp / "d.csv", GOOD_CSV)
    return "lstm", {"data": "d.csv", "encoding": "utf-9"}, r"encoding='utf-9' is not an encoding Python knows"


def bad_image_size(tmp):
    return "cnn_mnist", {"image_size": "28 by 28"}, r"image_size='28 by 28' is not HxW"


CASES = [missing_column, empty_file, no_rows, undecodable_byte, ragged_row, json_line_not_an_object,
         label_unseen_in_training, one_class, class_too_small, corrupt_image, images_of_different_sizes,
         npz_without_y, npz_lengths_differ, path_does_not_exist, file_where_a_folder_goes, tfds_not_prepared,
         t5_given_images, unknown_encoding, bad_image_size]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_bad_data_is_exit_2_one_line_and_nothing_written(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    recipe, overrides, expected = case(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = [recipe, *[a for k, v in overrides.items() for a in ("--set", f"{k}={v}")], "--export-dir", "exports"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    problems = [line for line in err if line.startswith("zoo: error:")]
    assert len(problems) == 1 and "Traceback" not in "\n".join(err), err
    assert re.search(expected, problems[0]), problems[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_a_user_sees_exactly_one_line(tmp_path):
    """The same through a real process, as a shell runs it (no TensorFlow start-up chatter either)."""
    recipe, overrides, expected = missing_column(tmp_path)
    process = run_python(["-m", "zoo.run", recipe, *[a for k, v in overrides.items() for a in ("--set", f"{k}={v}")],
                          "--export-dir", "exports"], cwd=tmp_path, timeout=120)
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and process.stderr.startswith("zoo: error: "), process.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]
