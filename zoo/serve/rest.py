"""TF Serving's REST API on aiohttp: ``/v1/models/NAME[/versions/N|/labels/L][:predict|:classify|:regress|/metadata]``.

Routing uses TF Serving's own (case-insensitive, full-match) patterns on the raw path, so names are
URL-decoded once and a ``%2F`` cannot change the route. Inference runs on a thread pool, off the event loop.
Every failure is ``{"error": message}`` with the status TF Serving gives its canonical code; a body over
``max_body_bytes`` is 413.

Example:

>>> app = create_app(models, max_body_bytes=1 << 20)        # doctest: +SKIP
>>> aiohttp.web.run_app(app, host="127.0.0.1", port=8501)     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from aiohttp import web
from google.protobuf import json_format

from zoo.export.signatures import CLASSIFY, REGRESS
from zoo.serve import methods
from zoo.serve.errors import ServingError, invalid
from zoo.serve.examples import example_from_json
from zoo.serve.json_codec import encode_tensor, parse_json
from zoo.serve.limits import RequestLimits, string_bytes
from zoo.serve.predict_json import decode_predict_request, encode_predict_response
from zoo.serve.loaded_models import LoadedModels

_PREDICTION_PATH = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
_STATUS_PATH = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?")
_INT64_MAX = 2**63 - 1
log = logging.getLogger("zoo.serve")


def _json_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="application/json")


def _error_response(error: ServingError) -> web.Response:
    return _json_response(json.dumps({"error": error.message}), error.http_status)


def _target(match: re.Match) -> tuple[str, int | None, str | None]:
    name, version, label = match.group(1), match.group(2), match.group(3)
    digits = version.lstrip("0") or "0" if version is not None else None
    if digits is not None and (len(digits) > len(str(_INT64_MAX)) or int(digits) > _INT64_MAX):
        raise invalid(f"Failed to convert version: {version[:32]}{'...' if len(version) > 32 else ''} to numeric.")
    return (urllib.parse.unquote(name) if name else name, int(digits) if digits is not None else None,
            urllib.parse.unquote(label) if label is not None else None)


def _proto_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


class RestApi:
    """The request handlers, each a blocking function of the parsed route and body."""

    def __init__(self, models: LoadedModels, limits: RequestLimits = RequestLimits()):
        self.models = models
        self.limits = limits

    def predict(self, name: str, version: int | None, label: str | None, body: bytes) -> str:
        request = _json_object(body)
        with self.models.use(name, version, label) as model:
            signature_name = _signature_name(request)
            feeds, row = decode_predict_request(request, model.signature(signature_name), self.limits)
            return encode_predict_response(model.run(signature_name, feeds), row)

    def classify(self, name: str, version: int | None, label: str | None, body: bytes) -> str:
        results = self._run_examples(name, version, label, body, CLASSIFY, methods.classification_results)
        return '{"results": [' + ", ".join(
            "[" + ", ".join(f"[{json.dumps(c, ensure_ascii=False)}, {encode_tensor(s)}]" for c, s in example) + "]"
            for example in results) + "]}"

    def regress(self, name: str, version: int | None, label: str | None, body: bytes) -> str:
        results = self._run_examples(name, version, label, body, REGRESS, methods.regression_results)
        return '{"results": [' + ", ".join(encode_tensor(v) for v in results) + "]}"

    def _run_examples(self, name, version, label, body, method: str, shape: Callable):
        request = _json_object(body)
        if not isinstance(request.get("examples"), list):
            raise invalid("'examples' must be a list of objects")
        self.limits.check_shapes({"examples": (len(request["examples"]),)})
        examples = [example_from_json(e) for e in request["examples"]]
        context = example_from_json(request["context"]) if "context" in request else None
        serialized = methods.serialized_examples(examples, context)
        self.limits.check_string_bytes(string_bytes([serialized]))
        with self.models.use(name, version, label) as model:
            signature_name = _signature_name(request)
            methods.example_signature(model, signature_name, method)
            outputs = model.run(signature_name, {"inputs": serialized})
        return shape(outputs)

    def status(self, name: str, version: int | None, label: str | None) -> str:
        states = self.models.status(name, version, label)
        return json.dumps({"model_version_status": [
            {"version": str(s.version), "state": s.state,
             "status": {"error_code": s.error_code, "error_message": s.error_message}} for s in states]})

    def metadata(self, name: str, version: int | None, label: str | None) -> str:
        with self.models.use(name, version, label) as model:
            return json.dumps({
                "model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
                "metadata": {"signature_def": _proto_json(methods.metadata(model))},
            })


def _json_object(body: bytes) -> dict:
    request = parse_json(body)
    if not isinstance(request, dict):
        raise invalid("Request body must be a JSON object")
    return request


def _signature_name(request: dict) -> str:
    name = request.get("signature_name", "serving_default")
    if not isinstance(name, str):
        raise invalid("'signature_name' must be a string")
    return name


class _HttpFrontEnd:
    """The aiohttp side of :class:`RestApi`: matches each request to its route, runs the handler on a thread pool
    (off the event loop), turns the answer or the failure into a response and records prediction requests in the
    models' metrics."""

    def __init__(self, models: LoadedModels, *, max_body_bytes: int, threads: int, limits: RequestLimits,
                 metrics_path: str | None):
        self.models = models
        self.api = RestApi(models, limits)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="zoo-rest")
        self.max_body_bytes = max_body_bytes
        self.metrics_path = metrics_path

    async def handle(self, request: web.Request) -> web.Response:
        """The response to any request: the metrics on ``GET metrics_path``, else the REST API's JSON answer."""
        raw = request.raw_path
        path = raw.split("?", 1)[0]
        if self.metrics_path is not None and request.method == "GET" and path == self.metrics_path:
            return self._metrics_response()
        prediction = _PREDICTION_PATH.fullmatch(path) if request.method == "POST" else None
        started, code = time.perf_counter(), "OK"
        try:
            return _json_response(await self._answer(request, raw, path, prediction))
        except ServingError as error:
            code = error.code
            return _error_response(error)
        except Exception as exc:  # a bug, not bad input: report it as TF Serving reports INTERNAL
            code = "INTERNAL"
            log.exception("internal error on %s %s", request.method, raw)
            return _error_response(ServingError("INTERNAL", f"{type(exc).__name__}: {exc}"))
        finally:
            if prediction:
                self._record_prediction(prediction, code, time.perf_counter() - started)

    async def shutdown(self, _app: web.Application) -> None:
        """Stop the thread pool, dropping the handlers that have not started."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _metrics_response(self) -> web.Response:
        """The models' metrics in Prometheus' text format."""
        return web.Response(text=self.models.metrics.render(), content_type="text/plain",
                            headers={"X-Prometheus-Format": "0.0.4"})

    def _record_prediction(self, prediction: re.Match, code: str, seconds: float) -> None:
        """Count one predict/classify/regress request of the model it names, with its canonical code and latency."""
        self.models.metrics.record_request(urllib.parse.unquote(prediction.group(1)), prediction.group(4).capitalize(),
                                           "REST", code, seconds)

    async def _answer(self, request: web.Request, raw: str, path: str, prediction: re.Match | None) -> str:
        """The JSON answer to one request (``prediction``: its match of the predict/classify/regress route), or a
        ServingError."""
        if prediction:
            return await self._predict(request, raw, prediction)
        status = _STATUS_PATH.fullmatch(path) if request.method == "GET" else None
        if status:
            return await self._status(status)
        raise invalid(f"Malformed request: {request.method} {raw}")

    async def _predict(self, request: web.Request, raw: str, prediction: re.Match) -> str:
        """The answer of ``:predict``, ``:classify`` or ``:regress``."""
        name, version, label = _target(prediction)
        body = await self._read_body(request, raw)
        handler = getattr(self.api, prediction.group(4).lower())
        return await self._in_thread(handler, name, version, label, body)

    async def _status(self, status: re.Match) -> str:
        """The answer of a model's status or ``/metadata``."""
        name, version, label = _target(status)
        if not name:
            raise invalid("Missing model name in request.")
        handler = self.api.metadata if status.group(4) else self.api.status
        return await self._in_thread(handler, name, version, label)

    async def _read_body(self, request: web.Request, raw: str) -> bytes:
        """The request's body; a ServingError when it is over ``max_body_bytes`` (413) or the client left mid-upload."""
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ServingError("RESOURCE_EXHAUSTED", f"Request body is larger than the limit of {self.max_body_bytes} "
                                                     "bytes (--max-body-bytes)", http_status=413) from None
        except ConnectionError as exc:  # the client went away mid-upload: nobody to answer
            log.info("%s %s: client disconnected before sending the whole body (%s)", request.method, raw, exc)
            raise invalid("incomplete request body") from None

    async def _in_thread(self, handler: Callable[..., str], *args) -> str:
        """``handler(*args)`` run on the thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, handler, *args)


def create_app(models: LoadedModels, *, max_body_bytes: int = 16 << 20, threads: int = 16,
               limits: RequestLimits = RequestLimits(), metrics_path: str | None = None) -> web.Application:
    """An aiohttp application serving ``models`` with TF Serving's REST API (each request within ``limits``), and
    their metrics in Prometheus' format on ``GET metrics_path`` when it is given (``--monitoring-config-file``)."""
    front_end = _HttpFrontEnd(models, max_body_bytes=max_body_bytes, threads=threads, limits=limits,
                              metrics_path=metrics_path)
    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_route("*", "/{tail:.*}", front_end.handle)
    app.on_cleanup.append(front_end.shutdown)
    return app
