"""Reading a user's text files in a named encoding, with errors that say where the bad byte is.

A UTF-8 byte-order mark (as Excel writes) is dropped. A byte that does not decode is a
:class:`~zoo.errors.BadDataError` naming the file, the line and the byte.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
>>> _ = path.write_bytes(b"caf\\xc3\\xa9\\nna\\xefve\\n")
>>> read_text(path, "utf-8")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
zoo.errors.BadDataError: ...notes.txt line 2: byte 0xef does not decode as utf-8 (set encoding=..., e.g. ...)
>>> read_text(path, "cp1252").splitlines()[1]
'naïve'
"""

from __future__ import annotations

import codecs
import contextlib
import io
from pathlib import Path
from typing import IO, Iterator

from zoo.errors import BadDataError, UsageError


def check_encoding(name: str) -> str:
    """``name`` if Python knows the encoding; a UsageError otherwise."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise UsageError(f"encoding={name!r} is not an encoding Python knows (e.g. utf-8, cp1252, latin-1)") from None
    return name


def _reading_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def decode_error(path: Path, data: bytes, exc: UnicodeDecodeError, encoding: str, first_line: int = 1) -> BadDataError:
    """The error for ``exc`` raised decoding ``data`` (which starts at line ``first_line`` of ``path``)."""
    position = exc.start
    line = first_line + data.count(b"\n", 0, position)
    return BadDataError(f"{path} line {line}: byte 0x{data[position]:02x} does not decode as {encoding} "
                        f"(set encoding=..., e.g. encoding=cp1252)")


def read_text(path: Path, encoding: str) -> str:
    """The whole file decoded in ``encoding``."""
    return decode_text(path, read_bytes(path), encoding)


def decode_text(path: Path, data: bytes, encoding: str) -> str:
    """``data``, the bytes of ``path``, decoded in ``encoding``."""
    try:
        return data.decode(_reading_encoding(encoding))
    except UnicodeDecodeError as exc:
        raise decode_error(path, data, exc, encoding) from None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadDataError(f"cannot read {path}: {exc.strerror or exc}") from None


def open_text(path: Path, encoding: str) -> IO[str]:
    """``path`` opened for reading text (newlines kept as they are, for the csv module); a decode error surfaces
    while reading: wrap the loop in :func:`located_decode_errors`."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise BadDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return io.TextIOWrapper(raw, encoding=_reading_encoding(encoding), newline="")


@contextlib.contextmanager
def located_decode_errors(path: Path, encoding: str) -> Iterator[None]:
    """A UnicodeDecodeError inside becomes a BadDataError naming the line, found by re-reading ``path`` line by line
    (only when there is an error, so reading stays fast)."""
    try:
        yield
    except UnicodeDecodeError:
        for _ in binary_lines(path, encoding):  # raises, naming the line
            pass
        raise BadDataError(f"{path}: does not decode as {encoding}") from None


def binary_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` for each line of ``path``, decoded one line at a time."""
    decoder_name = _reading_encoding(encoding)
    with open(path, "rb") as handle:
        for number, data in enumerate(handle, start=1):
            try:
                text = data.decode(decoder_name if number == 1 else encoding)
            except UnicodeDecodeError as exc:
                raise decode_error(path, data, exc, encoding, first_line=number) from None
            yield number, text
