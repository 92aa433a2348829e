"""The most work one request may ask for, checked on its declared shapes before anything is decoded or run.

A request is measured by the shapes it declares (a REST body's list lengths, a gRPC ``TensorProto``'s
``tensor_shape``), not by the bytes it took on the wire: 46 bytes of protobuf can declare a [20000, 28, 28] tensor.
Each shape must fit the signature's input (its rank and fixed dimensions), and together they must stay within

- ``max_rows``: dimension 0 of any input (``--max-rows``),
- ``max_elements``: elements summed over every input (``--max-elements``),
- ``max_string_bytes``: bytes summed over every string element (``--max-string-bytes``).

A generation request (one feeding a ``max_new_tokens`` scalar, as the exported ``generate`` signatures take) asks
for work no input shape shows, so once decoded it must also stay within

- ``max_generated_tokens``: rows × max(``num_beams``, ``num_return_sequences``) × ``max_new_tokens``
  (``--max-generated-tokens``).

Past a limit the answer is INVALID_ARGUMENT (REST 400), as TF Serving answers a batch larger than its
``max_batch_size``: the same request will never succeed, so it is not RESOURCE_EXHAUSTED (429, "retry later").

Example:

>>> limits = RequestLimits(max_rows=4)
>>> limits.check_shapes({"x": (3, 28, 28)})
>>> limits.check_shapes({"x": (5,)})
Traceback (most recent call last):
...
zoo.serve.errors.ServingError: input 'x' has 5 rows; one request may hold at most 4 (--max-rows)
>>> RequestLimits(max_generated_tokens=1000).check_generated_tokens(  # doctest: +ELLIPSIS
...     {"text": np.array([b"a", b"b"], object), "max_new_tokens": np.array(128), "num_beams": np.array(4)})
Traceback (most recent call last):
...
zoo.serve.errors.ServingError: the request asks for up to 1024 generated tokens ... (--max-generated-tokens)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from zoo.serve.errors import invalid

MAX_RANK = 32  # deepest tensor a request may declare (numpy stops at 64; no zoo signature goes past 4)


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """Per-request bounds; the defaults fit every zoo export's real inputs with room to spare."""

    max_rows: int = 256
    max_elements: int = 1 << 22  # 4,194,304: 5,349 MNIST images
    max_string_bytes: int = 8 << 20  # 8 MiB of text: ~3,700 BBC articles of average length
    max_generated_tokens: int = 256 * 256  # 65,536: 256 rows of 256 new tokens, one beam each

    def check_shapes(self, shapes: Mapping[str, Sequence[int]]) -> None:
        """INVALID_ARGUMENT if ``shapes`` (one per input) hold too many rows or elements in all."""
        for name, shape in shapes.items():
            if shape and shape[0] > self.max_rows:
                raise invalid(f"input {name!r} has {shape[0]} rows; one request may hold at most "
                              f"{self.max_rows} (--max-rows)")
        elements = sum(math.prod(shape) for shape in shapes.values())
        if elements > self.max_elements:
            raise invalid(f"the request's inputs hold {elements} elements; one request may hold at most "
                          f"{self.max_elements} (--max-elements)")

    def check_string_bytes(self, total: int) -> None:
        """INVALID_ARGUMENT if the request's strings hold more than ``max_string_bytes`` bytes in all."""
        if total > self.max_string_bytes:
            raise invalid(f"the request's strings hold {total} bytes; one request may hold at most "
                          f"{self.max_string_bytes} (--max-string-bytes)")

    def check_generated_tokens(self, feeds: Mapping[str, np.ndarray]) -> None:
        """INVALID_ARGUMENT if the decoded ``feeds`` of a generation request (they hold ``max_new_tokens``) ask for
        more than ``max_generated_tokens``: rows × max(num_beams, num_return_sequences) × max_new_tokens.

        Rows are dimension 0 of the non-scalar inputs. Only integer inputs are counted, and a missing ``num_beams``
        or ``num_return_sequences`` (or one below 1) counts as 1; values the model refuses (zero, negative) are left
        to its own checks: they never make the product larger.

        >>> limits = RequestLimits(max_generated_tokens=100)
        >>> limits.check_generated_tokens({"text": np.array([b"a"], object), "max_new_tokens": np.array(100)})
        >>> limits.check_generated_tokens({"text": np.array([b"a"], object), "max_new_tokens": np.array(-8),
        ...                                "num_return_sequences": np.array(1 << 40)})
        """
        new_tokens = _largest_integer(feeds, "max_new_tokens")
        if new_tokens is None:
            return
        width = max(_largest_integer(feeds, name) or 1 for name in ("num_beams", "num_return_sequences"))
        rows = max((array.shape[0] for array in feeds.values() if array.ndim), default=1)
        total = rows * width * new_tokens
        if total > self.max_generated_tokens:
            raise invalid(f"the request asks for up to {total} generated tokens ({rows} rows x {width} beams or "
                          f"sequences x {new_tokens} max_new_tokens); one request may ask for at most "
                          f"{self.max_generated_tokens} (--max-generated-tokens)")


def _largest_integer(feeds: Mapping[str, np.ndarray], name: str) -> int | None:
    """The largest value of the input ``name``, at least 0 (an empty or negative one counts 0), or None when it is
    absent or not an integer tensor (its dtype is then the signature's and the graph's to refuse).

    >>> feeds = {"n": np.array(3, np.int32), "negative": np.array(-2), "text": np.array(b"3", object)}
    >>> [_largest_integer(feeds, name) for name in ("n", "negative", "text", "absent")]
    [3, 0, None, None]
    """
    array = feeds.get(name)
    if array is None or array.dtype.kind not in "iu":
        return None
    return int(array.max(initial=0))


def check_signature_shape(name: str, shape: Sequence[int], tensor_info) -> None:
    """INVALID_ARGUMENT unless ``shape`` has the rank and fixed dimensions of the signature input ``tensor_info``."""
    if len(shape) > MAX_RANK:
        raise invalid(f"input {name!r} is nested {len(shape)} levels deep; at most {MAX_RANK} are accepted")
    if not tensor_info.HasField("tensor_shape") or tensor_info.tensor_shape.unknown_rank:
        return  # a signature that does not say
    expected = [d.size for d in tensor_info.tensor_shape.dim]
    if len(shape) != len(expected) or any(e >= 0 and e != s for e, s in zip(expected, shape)):
        wanted = "[" + ",".join(str(e) if e >= 0 else "?" for e in expected) + "]"
        raise invalid(f"input {name!r} has shape {list(shape)}, but the signature expects {wanted}")


def string_bytes(arrays: Iterable[np.ndarray]) -> int:
    """Bytes held by the string elements of ``arrays`` (numbers count nothing).

    >>> string_bytes([np.array([b"ab", b"cde"], object), np.zeros(3)])
    5
    """
    return sum(len(value) for array in arrays if array.dtype == object for value in array.flat)
