"""unseen_data: the recipes' defaults on data they were not tuned on (neither BBC News nor MNIST), each beside a
simple baseline measured on the same split in the same run.

- ``packages``: Debian's package descriptions (short + long) labelled by their archive section: ten sections,
  a fifth of each section's packages (so the classes stay as unbalanced as the archive's: libs has 8× the
  packages of sound). lstm with its defaults, against TF-IDF + logistic regression.
- ``summaries``: the same archive as pairs, long description → short description (one line): t5 with its defaults,
  against the lead baseline (the long description's first N words, N the training summaries' mean length).
- ``fashion``: Fashion-MNIST (clothes, grey 28×28), as ``.npz`` files: cnn_mnist with its defaults, against
  logistic regression on the pixels.
- ``icons``: the Adwaita icon theme's 48×48 colour PNGs (with alpha), one class folder per icon category:
  cnn_mnist with its defaults, against logistic regression on the pixels.

The data comes from Debian packages installed by hand (nothing here is needed by the zoo or its tests):
``apt-get update -o Acquire::Languages=en`` (package descriptions), ``apt-get install dataset-fashion-mnist
adwaita-icon-theme``. A part whose data is missing is skipped with the command that installs it.

    python -m bench unseen_data           # every part
    python -m bench.unseen_data [PART ...]
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import zoo
from bench.common import BenchRecord, run_recipe
from zoo.cli import OneLineParser
from zoo.quiet import known_notices_quieted

SECTIONS = ("libs", "python", "doc", "perl", "devel", "utils", "net", "science", "games", "sound")
SECTION_SHARE = 0.2
SUMMARY_PAIRS = 4000
SEED = 0
APT_LISTS = Path("/var/lib/apt/lists")
FASHION = Path("/usr/share/datasets/fashion-mnist")
ICONS = Path("/usr/share/icons/Adwaita/48x48")
ICON_CATEGORIES = ("actions", "devices", "emotes", "mimetypes", "places", "status")


class Missing(Exception):
    """The data of a part is not on this machine; the message says how to install it."""


# ------------------------------------------------------------------------------------------------ the data
def debian_packages() -> list[dict[str, str]]:
    """Every package of the archive's main component with its section, short and long description."""
    translations = sorted(APT_LISTS.glob("*_main_i18n_Translation-en*"))
    packages = sorted(APT_LISTS.glob("*_main_binary-*_Packages*"))
    if not translations or not packages or not shutil.which("lz4"):
        raise Missing("run `apt-get update -o Acquire::Languages=en` (package descriptions in English)")
    sections = {}
    for stanza in _stanzas(packages):
        sections[stanza["Package"]] = stanza.get("Section", "").split("/")[-1]
    rows = []
    for stanza in _stanzas(translations):
        short, _, long = stanza.get("Description-en", "").partition("\n")
        long = " ".join(line.strip() for line in long.splitlines() if line.strip() != ".")
        if stanza["Package"] in sections and short.strip() and long:
            rows.append({"package": stanza["Package"], "section": sections[stanza["Package"]],
                         "summary": short.strip(), "description": long})
    return rows


def _stanzas(paths: list[Path]):
    for path in paths:
        text = subprocess.run(["lz4", "-dc", str(path)], capture_output=True, check=True).stdout.decode("utf-8",
                                                                                                        "replace")
        for block in text.split("\n\n"):
            fields, key = {}, None
            for line in block.splitlines():
                if line.startswith(" ") and key:
                    fields[key] += "\n" + line
                elif ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            if "Package" in fields:
                yield fields


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def fashion_npz(folder: Path) -> tuple[Path, Path]:
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        raise Missing("run `apt-get install dataset-fashion-mnist`")

    def idx(name: str) -> np.ndarray:
        with gzip.open(FASHION / name) as handle:
            data = handle.read()
        dims = data[3]
        shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
        return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)

    names = np.array(["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle-boot"])
    paths = []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        path = folder / f"fashion_{split}.npz"
        np.savez(path, x=idx(f"{prefix}-images-idx3-ubyte.gz"), y=names[idx(f"{prefix}-labels-idx1-ubyte.gz")])
        paths.append(path)
    return paths[0], paths[1]


def icon_folders(folder: Path) -> Path:
    if not ICONS.is_dir():
        raise Missing("run `apt-get install adwaita-icon-theme`")
    for category in ICON_CATEGORIES:
        (folder / category).mkdir(parents=True)
        for icon in sorted((ICONS / category).glob("*.png")):
            shutil.copy(icon, folder / category / icon.name)
    return folder


# ------------------------------------------------------------------------------------------------ baselines
def tfidf_baseline(splits) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2))
    model = LogisticRegression(max_iter=2000, C=10.0)
    model.fit(vectorizer.fit_transform(list(splits.train[0])), splits.train[1])
    return float(np.mean(model.predict(vectorizer.transform(list(splits.test[0]))) == splits.test[1]))


def pixel_baseline(splits) -> float:
    from sklearn.linear_model import LogisticRegression

    def flat(x):
        return x.reshape(len(x), -1).astype(np.float32) / 255.0

    model = LogisticRegression(max_iter=300)
    model.fit(flat(splits.train[0]), splits.train[1])
    return float(np.mean(model.predict(flat(splits.test[0])) == splits.test[1]))


# ---------------------------------------------------------------------------------------------------- parts
def _recipe_part(name: str, baseline: Callable[[Any], float] | None, **data: Any) -> dict[str, Any]:
    result = run_recipe(name, seed=SEED, **data)
    entry = {"recipe": name, "config": result.config, "metrics": result.metrics,
             "train_examples": result.train_examples, "wall_seconds": round(result.wall_seconds, 1),
             "history": result.trained.history}
    if baseline is not None:
        cls = zoo.get_recipe(name)
        splits = cls(cls.Config(**{k: v for k, v in result.config.items()})).load_data()
        entry["baseline_test_accuracy"] = round(baseline(splits), 4)
    return entry


def packages(folder: Path) -> dict[str, Any]:
    rows = [row for row in debian_packages() if row["section"] in SECTIONS]
    rng = np.random.default_rng(SEED)
    chosen = [row for row in rows if rng.random() < SECTION_SHARE]
    texts = [{"text": f"{row['summary']}. {row['description']}", "section": row["section"]} for row in chosen]
    path = write_jsonl(folder / "packages.jsonl", texts)
    counts = {section: sum(row["section"] == section for row in texts) for section in SECTIONS}
    return {"rows": len(texts), "per_section": counts,
            **_recipe_part("lstm", tfidf_baseline, data=str(path), label_column="section")}


def summaries(folder: Path) -> dict[str, Any]:
    from bench.t5 import lead_baseline

    rows = debian_packages()
    rng = np.random.default_rng(SEED)
    chosen = [rows[i] for i in rng.choice(len(rows), size=min(SUMMARY_PAIRS, len(rows)), replace=False)]
    path = write_jsonl(folder / "summaries.jsonl", chosen)
    data = {"data": str(path), "source_column": "description", "target_column": "summary"}
    entry = _recipe_part("t5", None, **data)
    t5 = zoo.get_recipe("t5")
    splits = t5(t5.Config(**data)).load_data()
    return {"rows": len(chosen), **entry, "lead_baseline": lead_baseline(splits.train[1], splits.test[0],
                                                                          splits.test[1])}


def fashion(folder: Path) -> dict[str, Any]:
    train, test = fashion_npz(folder)
    return _recipe_part("cnn_mnist", pixel_baseline, data=str(train), test_data=str(test))


def icons(folder: Path) -> dict[str, Any]:
    return _recipe_part("cnn_mnist", pixel_baseline, data=str(icon_folders(folder / "icons")))


PARTS = {"packages": packages, "summaries": summaries, "fashion": fashion, "icons": icons}


def run(record: BenchRecord, seeds: Sequence[int], parts: Sequence[str] = tuple(PARTS)) -> None:
    """``parts`` (each on seed 0, the recipes' default; ``seeds`` is not used), into ``record`` beside the parts
    not run now, which keep their last figures, dated."""
    previous = json.loads(record.path.read_text()) if record.path.is_file() else {}
    for part in PARTS:
        if part in previous and part not in parts:
            record.add(part, previous[part])
    for part in parts:
        with tempfile.TemporaryDirectory(prefix=f"zoo-unseen-{part}-") as folder:
            try:
                record.add(part, {"date": record.payload["date"], **PARTS[part](Path(folder))})
            except Missing as exc:
                print(f"unseen_data: {part} skipped: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench.unseen_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"some of {', '.join(PARTS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; known: {list(PARTS)}")
    record = BenchRecord("unseen_data")
    with known_notices_quieted():
        run(record, [0], args.parts or tuple(PARTS))
    print(record.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
