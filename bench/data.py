"""data: what reading a user's data costs. A CSV of about 1 GB of text, read and tokenised by the data layer; and
the time reading BBC News as a CSV adds to one lstm epoch, against ``data=package``.

- **Scale**: BBC articles, each row made distinct by its number, written to a CSV of ``TARGET_BYTES``. A fresh
  process reads it with :func:`zoo.data.examples.load_text_classification` (stream, split, label) and tokenises
  every kept text with lstm's WordPiece tokenizer in batches; it reports rows per second for each step, and
  its peak resident memory while reading and tokenising (``VmHWM``, reset when reading starts) above what it held
  before (``VmRSS``), against the UTF-8 bytes of the texts it keeps (goal: at most 2×).
- **Overhead**: seconds to load BBC News from ``data=package`` and from the same articles as one CSV
  (alternating, 3 rounds each, medians), against the seconds of one epoch of the lstm recipe's default training
  on the same split (goal: the CSV adds at most 5% of an epoch).

    python -m bench data
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from bench.common import BenchRecord

TARGET_BYTES = 1_000_000_000
STRIDE = 7919
TOKENIZE_BATCH = 1024
ROUNDS = 3

SCALE_CHILD = """
import json, sys, time
import zoo
import tensorflow as tf
from zoo.data.examples import DataSpec, load_text_classification
from zoo.data.minilm import load_vocab
from zoo.models.text.wordpiece import WordpieceTokenizer

def kib(key):  # this process's memory now (VmRSS) or at its peak since the last reset (VmHWM), in KiB
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
tokenizer = WordpieceTokenizer(load_vocab(), sequence_length=512)
tokenizer.tokenize(tf.constant(["warm up"]))
before = kib("VmRSS")
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak (VmHWM) to what is resident now
started = time.perf_counter()
splits = load_text_classification(DataSpec(data=sys.argv[1]))
read_seconds = time.perf_counter() - started
texts = [part[0] for part in (splits.train, splits.validation, splits.test)]
rows = sum(len(t) for t in texts)
kept = sum(len(s.encode("utf-8")) for t in texts for s in t)
after_read, peak_read = kib("VmRSS"), kib("VmHWM")
started = time.perf_counter()
tokens = 0
for part in texts:
    for start in range(0, len(part), int(sys.argv[2])):
        batch = tf.constant(part[start:start + int(sys.argv[2])].tolist())
        tokens += int(tokenizer.tokenize(batch).flat_values.shape[0])
tokenize_seconds = time.perf_counter() - started
print(json.dumps({"rows": rows, "text_bytes_kept": kept, "read_seconds": read_seconds,
                  "tokenize_seconds": tokenize_seconds, "tokens": tokens, "rss_before_kib": before,
                  "rss_after_read_kib": after_read, "peak_rss_reading_kib": peak_read, "peak_rss_kib": kib("VmHWM")}))
"""


def write_big_csv(path: Path, target_bytes: int) -> dict[str, Any]:
    """BBC articles, over and over, each row made distinct by its number, until ``target_bytes``."""
    from zoo.data.bbc_news import read_bbc_news

    table = read_bbc_news()
    articles, labels = table["text"].tolist(), table["label"].tolist()
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        while handle.tell() < target_bytes:
            index = rows * STRIDE % len(articles)  # a stride coprime to 2,225: every topic from the first rows
            writer.writerow([f"{rows} {articles[index]}", labels[index]])
            rows += 1
    return {"rows": rows, "bytes": path.stat().st_size}


def scale(record: BenchRecord, folder: Path) -> None:
    path = folder / "big.csv"
    started = time.perf_counter()
    written = write_big_csv(path, TARGET_BYTES)
    written["write_seconds"] = round(time.perf_counter() - started, 1)
    child = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(path), str(TOKENIZE_BATCH)], capture_output=True,
                           text=True, check=True)
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    growth = (measured["peak_rss_kib"] - measured["rss_before_kib"]) * 1024
    held = (measured["rss_after_read_kib"] - measured["rss_before_kib"]) * 1024
    record.add("scale", {
        "csv": written, **measured,
        "read_rows_per_second": round(measured["rows"] / measured["read_seconds"], 1),
        "tokenize_rows_per_second": round(measured["rows"] / measured["tokenize_seconds"], 1),
        "read_and_tokenize_rows_per_second": round(
            measured["rows"] / (measured["read_seconds"] + measured["tokenize_seconds"]), 1),
        "held_after_reading_bytes": held,
        "held_after_reading_over_text_kept": round(held / measured["text_bytes_kept"], 3),
        "peak_rss_growth_bytes": growth,
        "peak_rss_growth_over_text_kept": round(growth / measured["text_bytes_kept"], 3),
        "goal_at_most": 2.0,
    })


def overhead(record: BenchRecord, folder: Path) -> None:
    import zoo
    from zoo.data import bbc_news
    from zoo.data.examples import DataSpec, load_text_classification

    path = folder / "bbc.csv"
    table = bbc_news.read_bbc_news()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(table["text"].tolist(), table["label"].tolist()))

    def timed(load) -> float:
        started = time.perf_counter()
        load()
        return time.perf_counter() - started

    package_seconds, csv_seconds = [], []
    for _ in range(ROUNDS):
        package_seconds.append(timed(lambda: load_text_classification(DataSpec(), bbc_news.SOURCE)))
        csv_seconds.append(timed(lambda: load_text_classification(DataSpec(data=str(path)))))
    lstm = zoo.get_recipe("lstm")
    recipe = lstm(lstm.Config(epochs=1), run_dir=folder / "run", verbose=0)
    splits = recipe.load_data()
    recipe.config = recipe.resolve_config(splits)
    started = time.perf_counter()
    recipe.fit(splits)
    epoch = time.perf_counter() - started
    added = statistics.median(csv_seconds) - statistics.median(package_seconds)
    record.add("overhead", {
        "package_load_seconds": [round(s, 3) for s in package_seconds],
        "csv_load_seconds": [round(s, 3) for s in csv_seconds],
        "lstm_epoch_seconds": round(epoch, 1),
        "csv_load_over_epoch": round(statistics.median(csv_seconds) / epoch, 4),
        "added_over_package_per_epoch": round(added / epoch, 4),
        "goal_at_most": 0.05,
    })


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """Reading cost and lstm-epoch overhead (no seed-dependent figure: ``seeds`` is not used)."""
    with tempfile.TemporaryDirectory(prefix="zoo-bench-data-") as folder:
        overhead(record, Path(folder))
        scale(record, Path(folder))
