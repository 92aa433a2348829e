"""The argument parser of every command line of the zoo and its benches: a usage error is one line.

argparse answers a bad flag with its whole usage block above the error line; the house rule for a usage error is
one line on stderr, exit status 2, nothing written. :class:`OneLineParser` is argparse with that one change:
``--help`` still prints the help and exits 0.

>>> import contextlib, io
>>> parser = OneLineParser(prog="python -m demo")
>>> _ = parser.add_argument("--count", type=int)
>>> parser.parse_args(["--count", "3"])
Namespace(count=3)
>>> stderr = io.StringIO()
>>> with contextlib.redirect_stderr(stderr):
...     parser.parse_args(["--count", "three"])
Traceback (most recent call last):
SystemExit: 2
>>> stderr.getvalue()
"python -m demo: error: argument --count: invalid int value: 'three'\\n"

A command that reports every usage error of its own in one place (``zoo.run``'s ``zoo: error: ...``) has the
parser raise instead:

>>> OneLineParser(prog="python -m demo", raises=True).parse_args(["--bogus"])
Traceback (most recent call last):
zoo.errors.UsageError: unrecognized arguments: --bogus
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from zoo.errors import UsageError


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage error is ``PROG: error: MESSAGE``, one line on stderr, exit status 2;
    with ``raises=True`` it raises :class:`zoo.errors.UsageError` (MESSAGE) for the caller to report instead."""

    def __init__(self, *args: Any, raises: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raises = raises

    def error(self, message: str) -> NoReturn:
        if self.raises:
            raise UsageError(message)
        self.exit(2, f"{self.prog}: error: {message}\n")
