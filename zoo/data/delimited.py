"""CSV and TSV files: a header row naming the columns, then one example a row.

The file is read once, as a stream; only the columns a recipe asks for are kept. Quoted fields may hold commas,
tabs and newlines (RFC 4180, as Python's ``csv`` module and spreadsheets write them). Blank lines are skipped.
Errors name the file, the line and the column: a column the header lacks (with the columns it has), a row with
more or fewer fields than the header, an empty label, a byte that does not decode.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tickets.csv"
>>> _ = path.write_text('body,team\\n"Printer jams, again",it\\nRefund please,billing\\n')
>>> table = read_delimited(path, {"text": "body", "label": "team"}, "utf-8")
>>> table["text"].tolist(), table["label"].tolist()
(['Printer jams, again', 'Refund please'], ['it', 'billing'])
>>> read_delimited(path, {"text": "message"}, "utf-8")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
zoo.errors.BadDataError: ...tickets.csv has no column 'message' (text_column); its columns: body, team
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Mapping

from zoo.data.table import Origin, Table, object_array
from zoo.data.text_files import located_decode_errors, open_text
from zoo.data.files import sha256_of
from zoo.errors import BadDataError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long article is one field; the default limit is 128 KiB


def delimiter_of(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def delimited_columns(path: Path, encoding: str) -> list[str]:
    """The header's column names."""
    with open_text(path, encoding) as handle, located_decode_errors(path, encoding):
        return _header(path, csv.reader(handle, delimiter=delimiter_of(path), strict=True))


def _header(path: Path, rows) -> list[str]:
    try:
        for header in rows:
            if header:
                return header
    except csv.Error as exc:
        raise BadDataError(f"{path} line {rows.line_num}: {exc}") from None
    raise BadDataError(f"{path} is empty: a CSV/TSV file needs a header row naming its columns")


def read_delimited(path: Path, roles: Mapping[str, str], encoding: str) -> Table:
    """The columns ``roles`` names (role → column name), one value per row, as a :class:`Table` keyed by role."""
    values: dict[str, list] = {role: [] for role in roles}
    with open_text(path, encoding) as handle, located_decode_errors(path, encoding):
        rows = csv.reader(handle, delimiter=delimiter_of(path), strict=True)
        header = _header(path, rows)
        where = {role: column_index(path, header, role, name) for role, name in roles.items()}
        width = len(header)
        try:
            line = rows.line_num + 1
            for row in rows:
                if not row:
                    line = rows.line_num + 1
                    continue
                if len(row) != width:
                    raise BadDataError(f"{path} line {line}: {len(row)} fields, but the header has {width} "
                                       f"({', '.join(header)})")
                for role, index in where.items():
                    value = row[index]
                    if role == "label" and not value:
                        raise BadDataError(f"{path} line {line}: column {header[index]!r} (the label) is "
                                           "empty")
                    values[role].append(value)
                line = rows.line_num + 1
        except csv.Error as exc:
            raise BadDataError(f"{path} line {line}: {exc} (check this row's quotes)") from None
    if not values or not next(iter(values.values())):
        raise BadDataError(f"{path} has a header but no rows")
    return Table({role: object_array(column) for role, column in values.items()},
                 Origin(str(path), path.suffix.lower().lstrip("."), sha256_of(path)))


def column_index(path: Path, header: list[str], role: str, name: str) -> int:
    """Where column ``name`` is in ``header``; a BadDataError listing the columns when it is absent or repeated."""
    found = [i for i, column in enumerate(header) if column == name]
    if not found:
        raise BadDataError(f"{path} has no column {name!r} ({role}_column); its columns: {', '.join(header)}")
    if len(found) > 1:
        raise BadDataError(f"{path} names column {name!r} {len(found)} times in its header")
    return found[0]
