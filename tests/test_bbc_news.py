"""The BBC News loader: every article once, stratified and leak-free splits, determinism, the sha256 check."""

import shutil
from collections import Counter

import numpy as np
import pytest

from zoo.data import bbc_news
from zoo.data.bbc_news import LABEL_NAMES, load_bbc_news
from zoo.errors import DataError, UsageError

PER_TOPIC = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}


@pytest.fixture(scope="module")
def splits():
    return load_bbc_news()


def _parts(splits):
    return {"train": splits.train, "validation": splits.validation, "test": splits.test}


def test_every_article_is_loaded_once_with_its_topic(splits):
    assert splits.label_names == LABEL_NAMES
    counts = Counter()
    for texts, labels in _parts(splits).values():
        assert texts.dtype == object and labels.dtype == np.int64 and len(texts) == len(labels)
        counts.update(LABEL_NAMES[y] for y in labels)
    assert dict(counts) == PER_TOPIC and sum(counts.values()) == 2225
    assert [len(s[1]) for s in _parts(splits).values()] == [1557, 221, 447]


def test_texts_are_headline_then_body(splits):
    first = splits.train[0][0]
    headline, _, body = first.partition("\n")
    assert 5 < len(headline) < 120 and len(body) > 200
    assert any("£15.8m" in t for t in np.concatenate([s[0] for s in _parts(splits).values()]))  # the cp1252 file


def test_splits_are_stratified_and_share_no_article(splits):
    for name, fraction in (("test", 0.2), ("validation", 0.1)):
        labels = _parts(splits)[name][1]
        for label, total in enumerate(PER_TOPIC.values()):
            assert abs(np.sum(labels == label) - fraction * total) <= 3, (name, label)
    train, validation, test = (set(s[0]) for s in _parts(splits).values())
    assert not (train & test) and not (train & validation) and not (validation & test)  # duplicates stay together
    assert len(set(splits.train[1][:50])) == 5  # topics interleaved, so a capped split keeps them all


def test_split_is_deterministic_and_seeded(splits):
    again = load_bbc_news()
    for a, b in zip(_parts(splits).values(), _parts(again).values()):
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    other = load_bbc_news(seed=1)
    assert set(other.test[0]) != set(splits.test[0]) and abs(len(other.test[1]) - len(splits.test[1])) <= 5
    assert splits.provenance.sha256 == bbc_news.MANIFEST_SHA256


def test_a_modified_file_is_refused(tmp_path, monkeypatch):
    source = bbc_news.package_file(bbc_news.PACKAGE, bbc_news.PACKAGE_PATH, "")
    copy = tmp_path / "data"
    shutil.copytree(source, copy)
    (copy / "tech" / "001.txt").write_text("tampered", encoding="utf-8")
    monkeypatch.setattr(bbc_news, "package_file", lambda *args: copy)
    with pytest.raises(DataError, match="pinned manifest sha256"):
        load_bbc_news()
    (copy / "tech" / "001.txt").unlink()
    with pytest.raises(DataError, match="2224 articles"):
        load_bbc_news()


def test_bad_fractions_are_refused():
    with pytest.raises(UsageError, match="sum below 1"):
        load_bbc_news(validation_fraction=0.5, test_fraction=0.5)
