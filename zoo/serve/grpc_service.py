"""TF Serving's gRPC API: ``tensorflow.serving.PredictionService`` and ``tensorflow.serving.ModelService``.

Servicers built on the stubs ``tensorflow-serving-api`` ships, so any TF Serving client works unchanged.

Example:

>>> server = grpc.server(ThreadPoolExecutor(8))                        # doctest: +SKIP
>>> add_services(server, models)                                     # doctest: +SKIP
>>> server.add_insecure_port("127.0.0.1:8500"); server.start()         # doctest: +SKIP
"""

from __future__ import annotations

import functools
import time
import logging

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from zoo.export.signatures import CLASSIFY, REGRESS
from zoo.serve import methods
from zoo.serve.errors import ServingError, invalid
from zoo.serve.limits import RequestLimits, check_signature_shape, string_bytes
from zoo.serve.loaded_models import LoadedModels

log = logging.getLogger("zoo.serve")


RECORDED_APIS = ("Predict", "Classify", "Regress")  # counted in the metrics, as TF Serving counts them


def _aborting(method):
    """Turn a ServingError (or a bug) into the gRPC status TF Serving would send; count Predict, Classify and
    Regress requests in the server's metrics."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        started, code = time.perf_counter(), "OK"
        try:
            return method(self, request, context)
        except ServingError as error:
            code = error.code
            context.abort(error.grpc_code, error.message)
        except Exception as exc:
            code = "INTERNAL"
            log.exception("internal error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            if method.__name__ in RECORDED_APIS:
                self.models.metrics.record_request(request.model_spec.name, method.__name__, "GRPC", code,
                                                   time.perf_counter() - started)

    return wrapper


def _target(spec) -> tuple[str, int | None, str | None]:
    choice = spec.WhichOneof("version_choice")
    return (spec.name, spec.version.value if choice == "version" else None,
            spec.version_label if choice == "version_label" else None)


def _fill_spec(response_spec, model, signature_name: str) -> None:
    response_spec.name = model.name
    response_spec.version.value = model.version
    response_spec.signature_name = signature_name or "serving_default"


def _declared_shape(alias: str, proto) -> tuple[int, ...]:
    """The shape a TensorProto declares (INVALID_ARGUMENT for a negative size or a dtype that does not exist)."""
    if proto.dtype == types_pb2.DT_INVALID or proto.dtype not in types_pb2.DataType.values():
        raise invalid(f"input {alias!r} has dtype {proto.dtype}, which is not a TensorFlow dtype")
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise invalid(f"input {alias!r} has a negative dimension in its shape {list(shape)}")
    return shape


def _string_bytes(proto, elements: int) -> int:
    """Bytes of a string TensorProto once filled: missing elements repeat the last value, as make_ndarray fills."""
    values = proto.string_val
    filler = len(values[-1]) * max(0, elements - len(values)) if values else 0
    return sum(len(v) for v in values) + filler


def _dtype_name(dtype: int) -> str:
    return tf.dtypes.as_dtype(dtype).name


def _examples(request_input) -> tuple[list, tf.train.Example | None]:
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        return list(request_input.example_list.examples), None
    if kind == "example_list_with_context":
        with_context = request_input.example_list_with_context
        return list(with_context.examples), with_context.context
    raise invalid("Input is empty")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress and GetModelMetadata over the loaded versions."""

    def __init__(self, models: LoadedModels, limits: RequestLimits = RequestLimits()):
        self.models = models
        self.limits = limits

    def _feeds(self, inputs, signature) -> dict[str, np.ndarray]:
        """The request's TensorProtos as arrays, once their declared shapes fit the signature and the limits (and,
        decoded, the tokens a generation request asks for do)."""
        shapes = {alias: _declared_shape(alias, proto) for alias, proto in inputs.items()}
        for alias, proto in inputs.items():
            if alias in signature.inputs:  # an unknown alias is reported by the run, with TF Serving's wording
                expected = signature.inputs[alias].dtype
                if proto.dtype != expected:
                    raise invalid(f"Expects arg {alias!r} to be {_dtype_name(expected)} "
                                  f"but {_dtype_name(proto.dtype)} is provided")
                check_signature_shape(alias, shapes[alias], signature.inputs[alias])
        self.limits.check_shapes(shapes)
        self.limits.check_string_bytes(sum(_string_bytes(proto, int(np.prod(shapes[alias], dtype=np.int64)))
                                           for alias, proto in inputs.items() if proto.dtype == types_pb2.DT_STRING))
        feeds = {}
        for alias, proto in inputs.items():
            try:
                feeds[alias] = tf.make_ndarray(proto)
            except Exception as exc:  # a TensorProto whose content does not match its shape or dtype
                raise invalid(f"input {alias!r} is not a valid TensorProto: {exc}") from None
        self.limits.check_generated_tokens(feeds)
        return feeds

    @_aborting
    def Predict(self, request, context):
        with self.models.use(*_target(request.model_spec)) as model:
            signature = model.signature(request.model_spec.signature_name)
            feeds = self._feeds(request.inputs, signature)
            outputs = model.run(request.model_spec.signature_name, feeds, tuple(request.output_filter))
            response = predict_pb2.PredictResponse()
            _fill_spec(response.model_spec, model, request.model_spec.signature_name)
            for alias, value in outputs.items():
                response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
            return response

    @_aborting
    def Classify(self, request, context):
        response, outputs = self._run_examples(request, CLASSIFY, classification_pb2.ClassificationResponse())
        for pairs in methods.classification_results(outputs):
            classification = response.result.classifications.add()
            for label, score in pairs:
                classification.classes.add(label=label, score=score)
        return response

    @_aborting
    def Regress(self, request, context):
        response, outputs = self._run_examples(request, REGRESS, regression_pb2.RegressionResponse())
        for value in methods.regression_results(outputs):
            response.result.regressions.add(value=value)
        return response

    def _run_examples(self, request, method: str, response):
        """Run the request's tf.Examples through a ``method`` signature; the response gets its model spec."""
        examples, context_example = _examples(request.input)
        self.limits.check_shapes({"examples": (len(examples),)})
        serialized = methods.serialized_examples(examples, context_example)
        self.limits.check_string_bytes(string_bytes([serialized]))
        with self.models.use(*_target(request.model_spec)) as model:
            name = request.model_spec.signature_name
            methods.example_signature(model, name, method)
            outputs = model.run(name, {"inputs": serialized})
            _fill_spec(response.model_spec, model, name)
        return response, outputs

    @_aborting
    def GetModelMetadata(self, request, context):
        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            raise invalid(f"Metadata field(s) not supported: {fields}; only 'signature_def' is")
        with self.models.use(*_target(request.model_spec)) as model:
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            _fill_spec(response.model_spec, model, "")
            response.model_spec.signature_name = ""
            response.metadata["signature_def"].Pack(methods.metadata(model))
            return response


class ModelStatusServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus (HandleReloadConfigRequest stays UNIMPLEMENTED: the base directory is the config)."""

    def __init__(self, models: LoadedModels):
        self.models = models

    @_aborting
    def GetModelStatus(self, request, context):
        response = get_model_status_pb2.GetModelStatusResponse()
        for state in self.models.status(*_target(request.model_spec)):
            status = response.model_version_status.add(version=state.version)
            status.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
            status.status.error_code = error_codes_pb2.Code.Value(state.error_code)
            status.status.error_message = state.error_message
        return response


def add_services(server: grpc.Server, models: LoadedModels, limits: RequestLimits = RequestLimits()) -> None:
    """Register both TF Serving services on ``server`` (each request within ``limits``)."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(models, limits), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelStatusServicer(models), server)
