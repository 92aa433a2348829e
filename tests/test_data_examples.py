"""The data layer's front door (zoo.data.examples): the split, the labels, pairs, the card, tfds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.data.examples import DataSpec, load_images, load_text_classification, load_text_pairs, load_texts
from zoo.errors import BadDataError, UsageError


def _csv(path, rows, header=("text", "label")):
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _rows(n=100, classes=("a", "b")):
    return [(f"example number {i}", classes[i % len(classes)]) for i in range(n)]


def test_the_split_is_stratified_deterministic_and_independent_of_file_order(tmp_path):
    rows = _rows(100, ("a", "b", "c", "d"))
    first = load_text_classification(DataSpec(data=str(_csv(tmp_path / "a.csv", rows))))
    again = load_text_classification(DataSpec(data=str(_csv(tmp_path / "b.csv", rows[::-1]))))
    for one, other in zip((first.train, first.validation, first.test), (again.train, again.validation, again.test)):
        assert one[0].tolist() == other[0].tolist() and one[1].tolist() == other[1].tolist()
    assert [len(part[1]) for part in (first.train, first.validation, first.test)] == [72, 8, 20]
    assert np.bincount(first.test[1]).tolist() == [5, 5, 5, 5]
    assert len(set(first.train[1][:8].tolist())) == 4  # classes interleaved: max_examples keeps every class


def test_split_seed_chooses_the_split(tmp_path):
    path = str(_csv(tmp_path / "d.csv", _rows()))
    zero = load_text_classification(DataSpec(data=path))
    other = load_text_classification(DataSpec(data=path, split_seed=7))
    assert set(zero.test[0]) != set(other.test[0]) and len(zero.test[0]) == len(other.test[0])


def test_exact_duplicates_land_in_one_split(tmp_path):
    rows = _rows(60) + [("the same words", "a")] * 5 + [("another copy", "b")] * 4
    splits = load_text_classification(DataSpec(data=str(_csv(tmp_path / "d.csv", rows))))
    for text in ("the same words", "another copy"):
        homes = [name for name, part in (("train", splits.train), ("validation", splits.validation),
                                         ("test", splits.test)) if text in part[0].tolist()]
        assert len(homes) == 1


def test_given_test_data_is_kept_and_validation_is_cut_from_data(tmp_path):
    train = _csv(tmp_path / "train.csv", _rows(50))
    test = _csv(tmp_path / "test.csv", [("held out one", "b"), ("held out two", "a")])
    splits = load_text_classification(DataSpec(data=str(train), test_data=str(test)))
    assert sorted(splits.test[0].tolist()) == ["held out one", "held out two"]
    assert len(splits.validation[0]) == 4 and len(splits.train[0]) == 46
    card = splits.card()
    assert [f["key"] for f in card["files"]] == ["data", "test_data"]
    assert all(len(f["sha256"]) == 64 for f in card["files"])
    assert card["rows"] == {"train": 46, "validation": 4, "test": 2} and card["label_names"] == ["a", "b"]
    assert card["split"] == {"split_seed": 0, "made": ["validation"], "validation_fraction": 0.1}


def test_too_few_examples_for_a_validation_split_train_without_one_and_say_so(tmp_path, capsys):
    splits = load_text_classification(DataSpec(data=str(_csv(tmp_path / "d.csv", _rows(10))), recipe="lstm"))
    assert splits.validation is None and [len(splits.train[0]), len(splits.test[0])] == [8, 2]
    assert "too few examples for a validation split" in capsys.readouterr().err
    assert splits.card()["split"]["made"] == ["test"]


def test_validation_fraction_zero_makes_no_validation_split(tmp_path):
    splits = load_text_classification(DataSpec(data=str(_csv(tmp_path / "d.csv", _rows())), validation_fraction=0))
    assert splits.validation is None and len(splits.train[0]) == 80


def test_labels_keep_their_names_and_integers_sort_as_numbers(tmp_path):
    rows = [(f"text {i}", str(label)) for i, label in enumerate([10, 9, 2] * 20)]
    splits = load_text_classification(DataSpec(data=str(_csv(tmp_path / "d.csv", rows))))
    assert splits.label_names == ("2", "9", "10")
    truth = dict(rows)
    assert [splits.label_names[y] for y in splits.test[1]] == [truth[text] for text in splits.test[0]]


@pytest.mark.parametrize("spec, expected", [
    (dict(test_rows=[("seen", "a"), ("never seen", "zebra")]),
     r"test_data=.*test\.csv has label 'zebra', which the training split does not have \(its labels: a, b\)"),
    (dict(rows=[(f"t{i}", "a") for i in range(30)]), r"has fewer than two classes \(only 'a'\)"),
    (dict(rows=_rows(40) + [("rare one", "c"), ("rare two", "c")], validation_fraction=0.3, test_fraction=0.3),
     r"class 'c' \(2 examples\) is too small for the split"),
    (dict(rows=_rows(3)), r"the test split would be empty: data=.* has 3 examples, too few"),
    (dict(rows=_rows(20), test_fraction=0.0), r"no test split: give test_data, or set test_fraction above 0"),
])
def test_data_that_cannot_be_split_or_labelled_is_one_line(tmp_path, spec, expected):
    data = _csv(tmp_path / "d.csv", spec.get("rows", _rows(40)))
    test = str(_csv(tmp_path / "test.csv", spec["test_rows"])) if "test_rows" in spec else ""
    fractions = {k: spec[k] for k in ("validation_fraction", "test_fraction") if k in spec}
    with pytest.raises(BadDataError, match=expected) as excinfo:
        load_text_classification(DataSpec(data=str(data), test_data=test, **fractions))
    assert "\n" not in str(excinfo.value)


def test_fractions_that_leave_nothing_for_training_are_a_usage_error():
    with pytest.raises(UsageError, match="sum below 1"):
        DataSpec(validation_fraction=0.5, test_fraction=0.5)


def test_a_path_that_does_not_exist_or_is_of_no_known_kind(tmp_path):
    with pytest.raises(BadDataError, match=r"data=.*nothing\.csv: no such file or folder"):
        load_text_classification(DataSpec(data=str(tmp_path / "nothing.csv")))
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    with pytest.raises(BadDataError, match=r"a \.xlsx file is not a data source; data takes package, tfds:NAME"):
        load_text_classification(DataSpec(data=str(tmp_path / "sheet.xlsx")))


def test_a_text_recipe_given_images_and_an_image_recipe_given_a_csv_say_so(tmp_path):
    from data_support import write_image_folders

    write_image_folders(tmp_path / "pics", np.zeros((4, 8, 8), np.uint8), [0, 1, 0, 1])
    with pytest.raises(BadDataError, match=r"a folder of images, but t5 reads text"):
        load_text_pairs(DataSpec(data=str(tmp_path / "pics"), recipe="t5"))
    with pytest.raises(BadDataError, match=r"cnn_mnist reads images; give a folder of images"):
        load_images(DataSpec(data=str(_csv(tmp_path / "d.csv", _rows())), recipe="cnn_mnist"))


def test_a_classifier_given_a_folder_without_classes_asks_for_subfolders(tmp_path):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "1.txt").write_text("hello")
    with pytest.raises(BadDataError, match=r"its 1 files are not in class subfolders; lstm needs labels"):
        load_text_classification(DataSpec(data=str(tmp_path / "texts"), recipe="lstm"))


# ----------------------------------------------------------------------------------------------------- pairs
def test_pairs_get_the_source_prefix_and_rouge_targets(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"article": f"long text {i}", "title": f"t{i}"}) + "\n" for i in range(30)))
    splits = load_text_pairs(DataSpec(data=str(path), source_column="article", target_column="title",
                                      source_prefix="summarize: "))
    assert splits.label_names == ()
    source, target = splits.train[0][0], splits.train[1][0]
    assert source.startswith("summarize: long text ") and target == "t" + source.rsplit(" ", 1)[1]


def test_labelled_text_becomes_text_to_label_name_pairs(tmp_path):
    splits = load_text_pairs(DataSpec(data=str(_csv(tmp_path / "d.csv", _rows(40, ("spam", "ham"))))))
    assert splits.label_names == ("ham", "spam") and set(splits.train[1].tolist()) == {"ham", "spam"}


def test_pairs_from_a_file_with_neither_kind_of_columns_list_both(tmp_path):
    path = _csv(tmp_path / "d.csv", [("x", "y")], header=("question", "answer"))
    with pytest.raises(BadDataError, match=r"has neither columns 'source' and 'target' .* nor 'text' and 'label' .*"
                                           r"its columns: question, answer"):
        load_text_pairs(DataSpec(data=str(path)))


def test_unlabelled_texts_from_a_folder(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"document {i}")
    assert sorted(load_texts(DataSpec(data=str(tmp_path))).tolist()) == ["document 0", "document 1", "document 2"]


# ------------------------------------------------------------------------------------------------------ images
def test_image_folders_keep_grey_as_one_channel_and_splits_agree_on_layout(tmp_path):
    from data_support import write_image_folders

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (20, 10, 12), dtype=np.uint8)
    colour = rng.integers(0, 256, (4, 10, 12, 3), dtype=np.uint8)
    write_image_folders(tmp_path / "train", grey, [i % 2 for i in range(20)], names=("cat", "dog"))
    write_image_folders(tmp_path / "test", colour, [0, 1, 0, 1], names=("cat", "dog"))
    splits = load_images(DataSpec(data=str(tmp_path / "train"), test_data=str(tmp_path / "test")))
    assert splits.train[0].shape[1:] == (10, 12, 3) and splits.test[0].shape == (4, 10, 12, 3)
    assert np.array_equal(splits.train[0][..., 0], splits.train[0][..., 2])  # grey, replicated to match the test set
    assert splits.label_names == ("cat", "dog")
    only_grey = load_images(DataSpec(data=str(tmp_path / "train")))
    assert only_grey.train[0].shape[1:] == (10, 12)
    kept = {image.tobytes() for part in (only_grey.train, only_grey.validation, only_grey.test) for image in part[0]}
    assert kept == {image.tobytes() for image in grey}  # every pixel as written


def test_images_of_different_sizes_need_image_size(tmp_path):
    from data_support import write_image_folders

    rng = np.random.default_rng(0)
    write_image_folders(tmp_path / "a", rng.integers(0, 256, (3, 8, 8), dtype=np.uint8), [0, 0, 0])
    write_image_folders(tmp_path / "b", rng.integers(0, 256, (3, 12, 9), dtype=np.uint8), [1, 1, 1])
    for folder in ("a/0", "b/1"):
        (tmp_path / "all" / folder.split("/")[1]).mkdir(parents=True, exist_ok=True)
        for path in (tmp_path / folder).iterdir():
            path.rename(tmp_path / "all" / folder.split("/")[1] / path.name)
    with pytest.raises(BadDataError, match=r"images differ in size: .* is 8x8, .* is 12x9; set image_size=HxW"):
        load_images(DataSpec(data=str(tmp_path / "all"), validation_fraction=0, test_fraction=0.3))
    splits = load_images(DataSpec(data=str(tmp_path / "all"), image_size="16x16", validation_fraction=0,
                                  test_fraction=0.3))
    assert splits.train[0].shape[1:] == (16, 16)


def test_a_corrupt_image_is_named(tmp_path):
    from data_support import write_image_folders

    write_image_folders(tmp_path, np.zeros((4, 8, 8), np.uint8), [0, 0, 1, 1])
    (tmp_path / "1" / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(BadDataError, match=r"1/0002\.png is not an image TensorFlow can decode"):
        load_images(DataSpec(data=str(tmp_path)))


def test_images_without_labels_for_recipes_that_do_not_need_them(tmp_path):
    from data_support import write_image_folders

    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8), dtype=np.uint8)
    write_image_folders(tmp_path / "pics", images, [0] * 10)
    for path in (tmp_path / "pics" / "0").iterdir():
        path.rename(tmp_path / "pics" / path.name)
    (tmp_path / "pics" / "0").rmdir()
    splits = load_images(DataSpec(data=str(tmp_path / "pics")), labels_required=False)
    assert splits.train[1] is None and splits.label_names == () and len(splits.test[0]) == 2


# -------------------------------------------------------------------------------------------------------- tfds
def test_tfds_text_features_are_named_by_the_column_keys():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=30):
        splits = load_text_classification(DataSpec(data="tfds:ag_news_subset", text_column="description"))
    assert splits.label_names == ("Business", "Sci/Tech", "Sports", "World")
    assert isinstance(splits.train[0][0], str) and len(splits.test[0]) == 30  # its own test split, not a cut
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(BadDataError, match=r"tfds:ag_news_subset has no feature 'body'; its features: "):
            load_text_classification(DataSpec(data="tfds:ag_news_subset", text_column="body"))


def test_tfds_images_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        splits = load_images(DataSpec(data="tfds:mnist"))
    assert splits.train[0].shape[1:] == (28, 28) and splits.train[0].dtype == np.uint8
    assert splits.provenance.source.startswith("tfds:mnist")


def test_tfds_without_prepared_data_or_unknown_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(BadDataError, match="not prepared"):
        load_images(DataSpec(data="tfds:mnist"))
    with pytest.raises(BadDataError, match="tfds has no dataset 'no_such_dataset'"):
        load_images(DataSpec(data="tfds:no_such_dataset"))


def test_tfds_pairs_are_named_by_source_and_target_column():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=10):
        splits = load_text_pairs(DataSpec(data="tfds:cnn_dailymail", source_column="article",
                                          target_column="highlights", source_prefix="summarize: "))
    assert splits.label_names == () and all(s.startswith("summarize: ") for s in splits.train[0])
    assert len(splits.test[0]) == 10 and isinstance(splits.test[1][0], str)
