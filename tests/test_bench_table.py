"""``python -m bench.table``: the README's results table is what the committed ``bench/results/*.json`` say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common import RESULTS_DIR, BenchRecord
from bench.table import (
    BEGIN, END, README, SECTIONS, documents, headline_row, recipe_row, render, replace_section, section_text,
)
from zoo import QualityBar
from zoo_subprocess import REPO, run_python


def test_readme_results_section_equals_the_table_generated_from_the_json() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(BEGIN) + len(BEGIN): text.index(END)]
    assert section == "\n" + render(RESULTS_DIR), "README is stale: run `python -m bench.table --write`"


def test_every_generated_section_of_the_readme_and_docs_is_what_the_json_say() -> None:
    found = set()
    for path in documents():
        text = path.read_text(encoding="utf-8")
        for name, renderer in SECTIONS.items():
            section = section_text(text, name)
            if section is not None:
                found.add(name)
                assert section == renderer(RESULTS_DIR), f"{path.name} [{name}] is stale: run `python -m bench.table --write`"
    assert found == set(SECTIONS)  # every renderer has a place, so none renders for nobody


def test_a_multi_seed_result_renders_mean_sd_range_and_seed_count(tmp_path: Path) -> None:
    record = BenchRecord("lstm", tmp_path, bars=(QualityBar("test_accuracy", ">=", 0.96),))
    for seed, accuracy in enumerate([0.9664, 0.9597, 0.9709]):
        record.add_run(seed, {"metrics": {"test_accuracy": accuracy, "test_loss": 0.1}})
    row = recipe_row("lstm", json.loads(record.path.read_text()))
    assert row.startswith("| `lstm` | `test_accuracy` | 0.9657 ± 0.0056 | 0.9597 – 0.9709 | 3 | ≥ 0.96 | yes | ")


def test_a_single_run_result_renders_as_one_seed_and_a_missed_bar_says_no() -> None:
    old = {"date": "2026-11-23T19:31:31+00:00", "metrics": {"test_accuracy": 0.955, "test_loss": 0.2},
           "bars": {"test_accuracy >= 0.96": False}}
    assert recipe_row("lstm", old) == "| `lstm` | `test_accuracy` | 0.9550 | — | 1 | ≥ 0.96 | **no** | 2026-11-23 |"


def test_the_headline_task_renders_rouge_against_the_lead_baseline() -> None:
    stats = {"mean": 0.2, "sd": 0.01, "min": 0.19, "max": 0.21, "n": 3}
    result = {"date": "2026-12-06T10:00:00+00:00", "headlines": {
        "metrics": {"test_rouge1": stats, "test_rouge2": {**stats, "mean": 0.05}, "test_rougeL": stats},
        "lead_baseline": {"words": 6, "test_rouge1": 0.15, "test_rouge2": 0.06, "test_rougeL": 0.14},
        "above_lead_baseline": {"rouge1": True, "rouge2": False, "rougeL": True}}}
    row = headline_row("t5", result)
    assert row.startswith("| `t5` | `test_rouge1` (headlines)<br>`test_rouge2` (headlines)<br>"
                          "`test_rougeL` (headlines) | 0.2000 ± 0.0100<br>0.0500 ± 0.0100<br>0.2000 ± 0.0100 | ")
    assert "> lead-6 0.1500<br>> lead-6 0.0600<br>> lead-6 0.1400 | yes<br>**no**<br>yes | 2026-12-06 |" in row


def test_replace_section_keeps_everything_outside_the_markers_and_needs_both() -> None:
    text = f"# zoo\n{BEGIN}\nold table\n{END}\n## Serving\n"
    assert replace_section(text, "new table\n") == f"# zoo\n{BEGIN}\nnew table\n{END}\n## Serving\n"
    with pytest.raises(ValueError):
        replace_section("# zoo\nno markers\n", "new table\n")


def test_write_without_markers_exits_2_with_one_line_and_leaves_the_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# zoo\n")
    done = run_python(["-m", "bench.table", "--write", "--readme", str(readme)], cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "results:begin" in done.stderr
    assert readme.read_text() == "# zoo\n"


def test_write_rewrites_only_the_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# zoo\n{BEGIN}\nstale\n{END}\nrest\n")
    done = run_python(["-m", "bench.table", "--write", "--readme", str(readme)], cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert readme.read_text() == f"# zoo\n{BEGIN}\n{render(RESULTS_DIR)}{END}\nrest\n"
