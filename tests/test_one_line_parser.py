"""``zoo.cli.OneLineParser``, the parser of every command line of the zoo and its benches: a usage error is one
line (exit status 2, or a UsageError for the command to report), ``--help`` still prints the help and exits 0."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zoo.cli import OneLineParser
from zoo.errors import UsageError

REPO = Path(__file__).resolve().parents[1]


def demo_parser(**kwargs) -> OneLineParser:
    parser = OneLineParser(prog="python -m demo", description="A demo command.", **kwargs)
    parser.add_argument("name")
    parser.add_argument("--count", type=int, default=1, help="how many")
    return parser


@pytest.mark.parametrize("argv, message", [
    (["a", "--count", "three"], "argument --count: invalid int value: 'three'"),
    (["a", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: name"),
])
def test_a_usage_error_is_one_line_and_exit_status_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        demo_parser().parse_args(argv)
    assert exited.value.code == 2
    assert capsys.readouterr() == ("", f"python -m demo: error: {message}\n")


def test_a_command_that_reports_its_own_usage_errors_gets_a_usage_error_and_nothing_printed(capsys):
    with pytest.raises(UsageError, match=r"^unrecognized arguments: --bogus$"):
        demo_parser(raises=True).parse_args(["a", "--bogus"])
    assert capsys.readouterr() == ("", "")


def test_the_command_s_own_checks_use_the_same_line(capsys):
    with pytest.raises(SystemExit) as exited:
        demo_parser().error("--count must be at least 1, got 0")
    assert exited.value.code == 2
    assert capsys.readouterr().err == "python -m demo: error: --count must be at least 1, got 0\n"


@pytest.mark.parametrize("raises", [False, True])
def test_help_prints_the_whole_help_and_exits_0(capsys, raises):
    with pytest.raises(SystemExit) as exited:
        demo_parser(raises=raises).parse_args(["--help"])
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: python -m demo [-h] [--count COUNT] name\n") and "how many" in out and err == ""


def test_no_command_line_of_the_tree_builds_another_parser():
    """Every command line's parser is this one: no other ``ArgumentParser`` (or subclass of it) in the source."""
    sources = [path for package in ("zoo", "recipes", "bench") for path in sorted((REPO / package).rglob("*.py"))]
    offenders = [str(path.relative_to(REPO)) for path in sources
                 if path != REPO / "zoo" / "cli.py" and re.search(r"\bArgumentParser\b", path.read_text())]
    assert offenders == []
