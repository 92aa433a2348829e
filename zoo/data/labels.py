"""Labels: what a label value may be, the label set a model learns, and the ids it is trained on.

A label is a string or an integer; each becomes its name, a string (``7`` → ``"7"``). The label set is the
training split's distinct names, sorted: numerically when every name is an integer (so ``"10"`` follows
``"9"``), otherwise as strings. Ids index that sorted tuple; the exported model serves the names.

Example:

>>> label_set(np.array(["10", "9", "2", "9"], dtype=object))
('2', '9', '10')
>>> label_ids(np.array(["9", "10"], dtype=object), ("2", "9", "10")).tolist()
[1, 2]
>>> label_name(True), label_name(3)
('true', '3')
"""

from __future__ import annotations

import numpy as np

from zoo.errors import BadDataError


def label_name(value: object) -> str:
    """A label value as its name; ``ValueError`` for what cannot be a class (a fraction, null, a list...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        if not value:
            raise ValueError("a label must not be empty")
        return value
    raise ValueError(f"a label must be a string or an integer, not {_kind_of(value)}")


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _integer(name: str) -> int | None:
    try:
        return int(name) if name.strip() == name and name.lstrip("-").isdigit() else None
    except ValueError:
        return None


def label_set(names: np.ndarray) -> tuple[str, ...]:
    """The distinct names of ``names``, sorted numerically when all are integers, otherwise as strings."""
    distinct = set(names.tolist())
    numbers = {name: _integer(name) for name in distinct}
    if all(n is not None for n in numbers.values()):
        return tuple(sorted(distinct, key=lambda name: (numbers[name], name)))
    return tuple(sorted(distinct))


def label_ids(names: np.ndarray, label_names: tuple[str, ...], where: str = "") -> np.ndarray:
    """int64 ids of ``names`` in ``label_names``; a name the set lacks is a :class:`BadDataError` naming it and
    ``where`` it occurs (e.g. ``"the test split"``)."""
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted(set(names.tolist()) - index.keys())
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise BadDataError(f"{where or 'the data'} has label {shown}, which the training split does not have "
                           f"(its labels: {_listing(label_names)})")
    return np.fromiter((index[name] for name in names.tolist()), dtype=np.int64, count=len(names))


def _listing(names: tuple[str, ...], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
