"""Serving errors carry a canonical status code, mapped to HTTP and gRPC as TF Serving maps them.

Example:

>>> error = ServingError("NOT_FOUND", "Servable not found for request: Latest(m)")
>>> error.http_status, error.grpc_code.name
(404, 'NOT_FOUND')
"""

from __future__ import annotations

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
    """The canonical code TensorFlow attached to a failed ``session.run``."""
    return ServingError(error_codes_pb2.Code.Name(exc.error_code), exc.message)
