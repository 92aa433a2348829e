"""Serving errors carry a canonical status code, mapped to HTTP and gRPC as TF Serving maps them.

Example:

>>> error = ServingError("NOT_FOUND", "Servable not found for request: Latest(m)")
>>> error.http_status, error.grpc_code.name
(404, 'NOT_FOUND')
"""

from __future__ import annotations

import re

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2

# Canonical code → HTTP status (TF Serving's ToHTTPStatusCode); anything unlisted is 500.
_HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class ServingError(Exception):
    """A request failure with a canonical code name (``"INVALID_ARGUMENT"``, ``"NOT_FOUND"``, ...)."""

    def __init__(self, code: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self._http_status = http_status  # where REST answers otherwise than the code maps (413 for a large body)

    @property
    def http_status(self) -> int:
        return self._http_status or _HTTP_STATUS.get(self.code, 500)

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return grpc.StatusCode[self.code] if self.code in grpc.StatusCode.__members__ else grpc.StatusCode.UNKNOWN


def invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def from_tf_error(exc: tf.errors.OpError) -> ServingError:
    """The canonical code TensorFlow attached to a failed ``session.run``, with its message as one line
    (:func:`client_message`)."""
    return ServingError(error_codes_pb2.Code.Name(exc.error_code), client_message(exc.message))


_PREAMBLE = re.compile(r"^\s*Graph execution error:")
_NODE_TRACEBACK = re.compile(r"Detected at node .*?\nNode: '[^\n]*'", re.S)  # where an op was defined in Python
_ANNOTATION = re.compile(r"\n\s*\[\[[^\n]*\]\]")  # "\n\t [[{{node name}}]]", "\n\t [[PartitionedCall]]"
_ASSERTION = re.compile(r"assertion failed: \[(.*)\]", re.S)  # Assert's data, each item in brackets
_ESCAPE = re.compile(r"\\([ntr\\'\"])")  # how the Assert op escapes the strings it prints


def client_message(message: str) -> str:
    """TensorFlow's error message as one line for a client: without the "Graph execution error" preamble, the
    traceback of the op's definition and the ``[[{{node …}}]]`` annotations; a failed assertion's data joined.

    >>> client_message("Graph execution error:\\n\\nassertion failed: [num_beams must be in [1, 16]; got] [0]\\n"
    ...                "\\t [[{{node generation_option_check_1/Assert}}]]")
    'num_beams must be in [1, 16]; got 0'
    >>> client_message("Graph execution error:\\n\\nInput to reshape is a tensor with 3 values, but the requested "
    ...                "shape has 4\\n\\t [[{{node Reshape}}]]\\n\\t [[PartitionedCall]]")
    'Input to reshape is a tensor with 3 values, but the requested shape has 4'
    """
    text = _ANNOTATION.sub("", _NODE_TRACEBACK.sub("", _PREAMBLE.sub("", message))).strip()
    assertion = _ASSERTION.fullmatch(text)
    if assertion:
        text = " ".join(_ESCAPE.sub(_unescaped, item) for item in assertion.group(1).split("] ["))
    return " ".join(text.split()) or " ".join(message.split())


def _unescaped(escape: re.Match) -> str:
    """The character an escape in an assertion's printed string stands for; line breaks and tabs as spaces."""
    character = escape.group(1)
    return " " if character in "ntr" else character
