"""The readers of a user's files: CSV/TSV, JSON Lines/JSON, .npz and folders; what they keep, and one clear line for
each way a file can be wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.data.delimited import read_delimited
from zoo.data.folders import read_folder, scan_folder
from zoo.data.json_records import read_json_records
from zoo.data.labels import label_set
from zoo.data.npz import read_npz
from zoo.errors import BadDataError

TEXT = {"text": "text", "label": "label"}


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# ------------------------------------------------------------------------------------------------ CSV / TSV
def test_csv_keeps_only_the_asked_columns_with_quotes_commas_and_newlines(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text('id,body,team,notes\n1,"Printer jams, again\nand again",it,x\n2,Refund please,billing,y\n',
                    encoding="utf-8")
    table = read_delimited(path, {"text": "body", "label": "team"}, "utf-8")
    assert table["text"].tolist() == ["Printer jams, again\nand again", "Refund please"]
    assert table["label"].tolist() == ["it", "billing"] and set(table.columns) == {"text", "label"}
    assert table.origin.kind == "csv" and len(table.origin.sha256) == 64


def test_tsv_excel_bom_blank_lines_and_long_fields(tmp_path):
    path = tmp_path / "reviews.tsv"
    long_text = "word " * 60000  # 300 KB in one field: past the csv module's default field limit
    path.write_bytes("\ufefftext\tlabel\nGreat\t5\n\n".encode("utf-8") + f"{long_text}\t1\n".encode("utf-8"))
    table = read_delimited(path, TEXT, "utf-8")
    assert table["label"].tolist() == ["5", "1"] and len(table["text"][1]) == len(long_text)


def test_another_encoding_is_read_when_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nna\xefve caf\xe9,a\n".encode("latin-1").replace(b"\\xef", b"\xef"))
    assert read_delimited(path, TEXT, "cp1252")["text"].tolist() == ["naïve café"]


@pytest.mark.parametrize("content, expected", [
    (b"", r"data\.csv is empty"),
    (b"text,label\n", r"data\.csv has a header but no rows"),
    (b"body,team\nx,y\n", r"data\.csv has no column 'text' \(text_column\); its columns: body, team"),
    (b"text,label,text\nx,y,z\n", r"names column 'text' 2 times"),
    (b"text,label\nfine,a\ntoo,many,fields\n", r"data\.csv line 3: 3 fields, but the header has 2 \(text, label\)"),
    (b"text,label\nfine,a\nshort\n", r"data\.csv line 3: 1 fields, but the header has 2"),
    (b"text,label\nfine,a\nno label,\n", r"data\.csv line 3: column 'label' \(the label\) is empty"),
    (b"text,label\nfine,a\ncaf\xe9,b\n", r"data\.csv line 3: byte 0xe9 does not decode as utf-8 \(set encoding"),
    (b'text,label\n"unclosed,a\n', r"data\.csv line 2: unexpected end of data \(check this row's quotes\)"),
])
def test_a_bad_csv_is_one_line_naming_file_line_and_column(tmp_path, content, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(BadDataError, match=expected) as excinfo:
        read_delimited(path, TEXT, "utf-8")
    _one_line(excinfo)


def test_a_multi_line_row_is_reported_at_the_line_it_starts(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('text,label\n"one\ntwo\nthree",a\nbad,row,here\n')
    with pytest.raises(BadDataError, match="line 5: 3 fields"):
        read_delimited(path, TEXT, "utf-8")


# ------------------------------------------------------------------------------------------- JSON Lines / JSON
def test_jsonl_and_json_read_strings_and_integer_labels(tmp_path):
    rows = [{"text": "a", "label": 3, "extra": [1]}, {"text": "b", "label": "x"}, {"text": "c", "label": True}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "d.json").write_text(json.dumps(rows))
    for name in ("d.jsonl", "d.json"):
        table = read_json_records(tmp_path / name, TEXT, "utf-8")
        assert table["text"].tolist() == ["a", "b", "c"] and table["label"].tolist() == ["3", "x", "true"]


@pytest.mark.parametrize("name, content, expected", [
    ("d.jsonl", '{"text": "a", "label": 1}\n[1, 2]\n', r"d\.jsonl line 2: a JSON array, not an object"),
    ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b"\n', r"d\.jsonl line 2: not valid JSON"),
    ("d.jsonl", '{"text": "a", "label": 1}\n{"body": "b", "label": 2}\n',
     r"d\.jsonl line 2 has no key 'text' \(text_column\); its keys: body, label"),
    ("d.jsonl", '{"text": 7, "label": 1}\n', r"d\.jsonl line 1: key 'text' \(text\) holds a JSON number, not a string"),
    ("d.jsonl", '{"text": "a", "label": 1.5}\n', r"line 1: key 'label' \(the label\): a label must be a string or an "
                                                  r"integer, not the number 1\.5"),
    ("d.jsonl", '{"text": "a", "label": null}\n', r"line 1: key 'label' \(the label\).*not null"),
    ("d.jsonl", "\n\n", r"d\.jsonl holds no examples"),
    ("d.json", '{"text": "a"}', r"d\.json holds a JSON object; a \.json data file holds a list of objects"),
    ("d.json", '[{"text": "a", "label": 1}, "b"]', r"d\.json item 2: a JSON string, not an object"),
    ("d.json", '[{"text": "a",\n "label": }]', r"d\.json line 2: not valid JSON"),
])
def test_a_bad_json_file_is_one_line_naming_file_line_and_key(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BadDataError, match=expected) as excinfo:
        read_json_records(path, TEXT, "utf-8")
    _one_line(excinfo)


def test_a_jsonl_byte_that_does_not_decode_names_its_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "a", "label": 1}\n{"text": "caf\xe9", "label": 1}\n')
    with pytest.raises(BadDataError, match=r"d\.jsonl line 2: byte 0xe9 does not decode as utf-8"):
        read_json_records(path, TEXT, "utf-8")


# ------------------------------------------------------------------------------------------------------- npz
def test_npz_images_and_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(4 * 6 * 5 * 1, dtype=np.uint8).reshape(4, 6, 5, 1), y=np.array(["a", "b", "a", "c"]))
    table = read_npz(path, {"image": "image", "label": "label"}, None)
    assert table["image"].shape == (4, 6, 5) and table["label"].tolist() == ["a", "b", "a", "c"]
    resized = read_npz(path, {"image": "image", "label": "label"}, (12, 10))["image"]
    assert resized.shape == (4, 12, 10) and resized.dtype == np.uint8


def test_npz_without_labels_when_they_are_optional(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 8, 8, 3), np.uint8))
    table = read_npz(path, {"image": "image", "label": "label"}, None, optional=frozenset({"label"}))
    assert set(table.columns) == {"image"} and table["image"].shape == (3, 8, 8, 3)


@pytest.mark.parametrize("arrays, expected", [
    ({"x": np.zeros((3, 8, 8), np.uint8)}, r"has no array 'y'; its arrays: x"),
    ({"images": np.zeros((3, 8, 8), np.uint8), "y": np.arange(3)}, r"has no array 'x'; its arrays: images, y"),
    ({"x": np.zeros((3, 8, 8), np.uint8), "y": np.arange(4)}, r"x and y have different lengths \(3 and 4\)"),
    ({"x": np.zeros((3, 8, 8), np.float32), "y": np.arange(3)}, r"images must be uint8 pixels 0-255, not float32"),
    ({"x": np.zeros((3, 8, 8, 2), np.uint8), "y": np.arange(3)}, r"images must be \[N, H, W\] or \[N, H, W, C\]"),
    ({"x": np.zeros((3, 8, 8), np.uint8), "y": np.array([0.5, 1, 2])}, r"array y must be 1-D integers or strings"),
    ({"x": np.zeros((0, 8, 8), np.uint8), "y": np.arange(0)}, r"holds no examples"),
])
def test_a_bad_npz_is_one_line(tmp_path, arrays, expected):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(BadDataError, match=expected) as excinfo:
        read_npz(path, {"image": "image", "label": "label"}, None)
    _one_line(excinfo)


def test_an_npz_that_is_not_one_or_needs_pickle_is_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(BadDataError, match=r"junk\.npz is not a readable \.npz"):
        read_npz(tmp_path / "junk.npz", {"image": "image"}, None)
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    with pytest.raises(BadDataError, match=r"objects\.npz is not a readable \.npz of plain arrays"):
        read_npz(tmp_path / "objects.npz", {"image": "image", "label": "label"}, None)


# ----------------------------------------------------------------------------------------------------- folders
def _write(path, text="x", data=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if data is not None else text.encode())
    return path


def test_class_folders_of_text_skip_hidden_and_foreign_files(tmp_path):
    _write(tmp_path / "spam" / "a.txt", "  Win money  \n")
    _write(tmp_path / "ham" / "nested" / "b.txt", "Lunch?")
    _write(tmp_path / "ham" / ".DS_Store", "junk")
    _write(tmp_path / ".ipynb_checkpoints" / "c.txt", "junk")
    _write(tmp_path / "ham" / "notes.md", "ignored")
    layout = scan_folder(tmp_path)
    table = read_folder(layout, "utf-8", None)
    assert table["text"].tolist() == ["Lunch?", "Win money"] and table["label"].tolist() == ["ham", "spam"]
    assert table.origin.files == 2 and table.origin.kind == "folder of labelled text files"


def test_the_manifest_sha256_changes_with_any_file(tmp_path):
    _write(tmp_path / "a" / "1.txt", "one")
    _write(tmp_path / "b" / "2.txt", "two")
    before = read_folder(scan_folder(tmp_path), "utf-8", None).origin.sha256
    _write(tmp_path / "b" / "2.txt", "twO")
    assert read_folder(scan_folder(tmp_path), "utf-8", None).origin.sha256 != before


def test_a_folder_without_classes_is_text_without_labels(tmp_path):
    _write(tmp_path / "1.txt", "first")
    _write(tmp_path / "2.txt", "second")
    layout = scan_folder(tmp_path)
    assert not layout.labelled and read_folder(layout, "utf-8", None)["text"].tolist() == ["first", "second"]


@pytest.mark.parametrize("files, expected", [
    ({}, r"holds no \.txt files or images"),
    ({"a/1.txt": "x", "loose.txt": "y"}, r"holds class subfolders \(a\) and files beside them \(loose\.txt\)"),
    ({"a/1.txt": "x", "b/2.png": "y"}, r"holds both \.txt files and images"),
    ({"a/1.csv": "x"}, r"holds no \.txt files or images"),
])
def test_a_bad_folder_is_one_line(tmp_path, files, expected):
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(BadDataError, match=expected) as excinfo:
        scan_folder(tmp_path)
    _one_line(excinfo)


def test_a_text_file_that_does_not_decode_is_named(tmp_path):
    _write(tmp_path / "a" / "1.txt", "fine")
    _write(tmp_path / "b" / "2.txt", data=b"line one\ncaf\xe9\n")
    with pytest.raises(BadDataError, match=r"b/2\.txt line 2: byte 0xe9 does not decode as utf-8"):
        read_folder(scan_folder(tmp_path), "utf-8", None)
    assert read_folder(scan_folder(tmp_path), "latin-1", None)["text"][1] == "line one\ncafé"


# -------------------------------------------------------------------------------------------------------- labels
def test_integer_labels_sort_as_numbers_and_strings_as_strings():
    assert label_set(np.array(["10", "9", "-1"], dtype=object)) == ("-1", "9", "10")
    assert label_set(np.array(["b", "10", "a"], dtype=object)) == ("10", "a", "b")
    assert label_set(np.array(["01", "1"], dtype=object)) == ("01", "1")  # distinct names, both integers
