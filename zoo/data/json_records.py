"""JSON Lines (``.jsonl``: one JSON object a line) and JSON (``.json``: a list of objects) files.

JSON Lines are read as a stream, one line at a time; a ``.json`` file is parsed whole. Each object is one example;
only the keys a recipe asks for are kept. A text must be a string; a label a string or an integer. Errors name the
file, the line (for ``.json``: the item) and the key: a line that is not valid JSON or not an object, a missing
key (with the keys the object has), a value of the wrong kind.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
>>> _ = path.write_text('{"source": "A long article", "target": "Short"}\\n\\n{"source": "More", "target": "M"}\\n')
>>> read_json_records(path, {"source": "source", "target": "target"}, "utf-8")["target"].tolist()
['Short', 'M']
>>> _ = path.write_text('{"source": "A long article", "target": "Short"}\\n["not", "an", "object"]\\n')
>>> read_json_records(path, {"source": "source"}, "utf-8")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
zoo.errors.BadDataError: ...pairs.jsonl line 2: a JSON array, not an object with keys
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from zoo.data.files import sha256_of
from zoo.data.labels import label_name
from zoo.data.table import Origin, Table, object_array
from zoo.data.text_files import binary_lines, read_text
from zoo.errors import BadDataError

_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def _kind(value: Any) -> str:
    return "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


def records(path: Path, encoding: str) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` for each example: ``where`` is ``"line N"`` (JSON Lines) or ``"item N"`` (JSON)."""
    if path.suffix.lower() == ".jsonl":
        for number, line in binary_lines(path, encoding):
            if line.strip():
                try:
                    yield f"line {number}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadDataError(f"{path} line {number}: not valid JSON ({exc.msg}, column "
                                       f"{exc.colno})") from None
        return
    try:
        document = json.loads(read_text(path, encoding))
    except json.JSONDecodeError as exc:
        raise BadDataError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(document, list):
        raise BadDataError(f"{path} holds a JSON {_kind(document)}; a .json data file holds a list of "
                           "objects, one per example (or use .jsonl: one object a line)")
    for index, item in enumerate(document, start=1):
        yield f"item {index}", item


def json_columns(path: Path, encoding: str) -> list[str]:
    """The keys of the first object."""
    for where, record in records(path, encoding):
        return list(record) if isinstance(record, dict) else []
    return []


def read_json_records(path: Path, roles: Mapping[str, str], encoding: str) -> Table:
    """The keys ``roles`` names (role → key) of every object, as a :class:`Table` keyed by role."""
    values: dict[str, list] = {role: [] for role in roles}
    count = 0
    for where, record in records(path, encoding):
        count += 1
        if not isinstance(record, dict):
            raise BadDataError(f"{path} {where}: a JSON {_kind(record)}, not an object with keys")
        for role, key in roles.items():
            if key not in record:
                keys = ", ".join(record) or "none"
                raise BadDataError(f"{path} {where} has no key {key!r} ({role}_column); its keys: {keys}")
            values[role].append(_value(path, where, role, key, record[key]))
    if not count:
        raise BadDataError(f"{path} holds no examples")
    return Table({role: object_array(column) for role, column in values.items()},
                 Origin(str(path), path.suffix.lower().lstrip("."), sha256_of(path)))


def _value(path: Path, where: str, role: str, key: str, value: Any) -> str:
    if role == "label":
        try:
            return label_name(value)
        except ValueError as exc:
            raise BadDataError(f"{path} {where}: key {key!r} (the label): {exc}") from None
    if not isinstance(value, str):
        raise BadDataError(f"{path} {where}: key {key!r} ({role}) holds a JSON {_kind(value)}, not a string")
    return value
