"""``ModelServer``: the loaded models, their file-system poll, the REST server and the gRPC server, started together.

Example (ports 0 pick free ones):

>>> import tempfile
>>> server = ModelServer(tempfile.mkdtemp(), rest_port=0, grpc_port=0).start()   # an empty model base
>>> server.rest_port > 0 and server.grpc_port > 0
True
>>> server.stop()
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from aiohttp import web

from zoo.serve.batching import BatchingOptions
from zoo.serve.grpc_service import add_services
from zoo.serve.limits import RequestLimits
from zoo.serve.loaded_models import LoadedModels
from zoo.serve.rest import create_app

log = logging.getLogger("zoo.serve")


class HalfCloseHandler(web.RequestHandler):
    """aiohttp's HTTP connection, except that a client which sends a whole request and then half-closes its
    socket (``shutdown(SHUT_WR)``) still gets the response; the connection closes after it.

    aiohttp closes the socket on the client's EOF, which drops the answer being computed. Here the socket stays
    open for writing, and what happens next depends on what had arrived: complete requests are answered, then
    the connection closes; a body cut short, or an idle connection, closes at once (as aiohttp would). The state
    is read from aiohttp's connection (``_current_request``, ``_messages``, ``_waiter``).
    """

    _LOOKS = 1000  # loop turns to wait for aiohttp to pick up a parsed request (it takes one or two)

    def eof_received(self) -> bool:
        self._after_eof(self._LOOKS)
        return True  # keep the socket open for writing; _after_eof closes it when nothing is left to answer

    def _after_eof(self, looks: int) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        current = getattr(self, "_current_request", None)
        payloads = [current.content] if current is not None else []
        payloads += [payload for _, payload in getattr(self, "_messages", ())]
        if payloads:
            if all(payload.is_eof() for payload in payloads):
                self.close()  # answer what arrived, take nothing more, then close
            else:
                self.transport.close()  # a body cut short: its reader sees the disconnect
        elif getattr(self, "_waiter", None) is not None or looks <= 0:
            self.transport.close()  # idle: nothing to answer
        else:  # a request is between parsing and its handler: look again on the next loop turn
            self._loop.call_soon(self._after_eof, looks - 1)


class ModelServer:
    """Serve every model under ``model_base`` over REST and gRPC on ``host``; poll for versions every ``poll_seconds``;
    with ``metrics_path``, the server's metrics in Prometheus' format on ``GET metrics_path`` of the REST port."""

    def __init__(
        self,
        model_base: str | Path = "saved_models",
        *,
        rest_port: int = 8501,
        grpc_port: int = 8500,
        host: str = "127.0.0.1",
        poll_seconds: float = 1.0,
        batching: BatchingOptions | None = None,
        max_body_bytes: int = 16 << 20,
        limits: RequestLimits = RequestLimits(),
        threads: int = 16,
        metrics_path: str | None = None,
    ):
        self.models = LoadedModels(model_base, batching)
        self.metrics_path = metrics_path
        self.host = host
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.poll_seconds = poll_seconds
        self.max_body_bytes = max_body_bytes
        self.limits = limits
        self.threads = threads
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._grpc: grpc.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> "ModelServer":
        """Load what is on disk, then start serving (returns once both ports accept connections)."""
        self.models.refresh()
        self._grpc = grpc.server(
            ThreadPoolExecutor(self.threads, thread_name_prefix="zoo-grpc"),
            options=[("grpc.max_receive_message_length", self.max_body_bytes),
                     ("grpc.max_send_message_length", self.max_body_bytes)],
        )
        add_services(self._grpc, self.models, self.limits)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
        if not self.grpc_port:
            raise OSError(f"cannot bind gRPC to {self.host}:{self.grpc_port}")
        self._grpc.start()
        sock = socket.create_server((self.host, self.rest_port))
        self.rest_port = sock.getsockname()[1]
        ready = threading.Event()
        self._spawn(self._serve_rest, sock, ready)
        ready.wait()
        self._spawn(self._poll)
        log.info("serving %s: REST %s:%d, gRPC %s:%d", self.models.base, self.host, self.rest_port,
                 self.host, self.grpc_port)
        return self

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"zoo-serve-{target.__name__}")
        thread.start()
        self._threads.append(thread)

    def _serve_rest(self, sock: socket.socket, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = create_app(self.models, max_body_bytes=self.max_body_bytes, threads=self.threads, limits=self.limits,
                         metrics_path=self.metrics_path)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        manager = self._runner.server
        listener = self._loop.run_until_complete(self._loop.create_server(
            lambda: HalfCloseHandler(manager, loop=self._loop, access_log=None), sock=sock))
        ready.set()
        self._loop.run_forever()
        listener.close()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def _poll(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            try:
                self.models.refresh()
            except Exception:  # keep polling: a bad moment on disk must not stop version pick-up for good
                log.exception("polling %s failed", self.models.base)

    def request_stop(self) -> None:
        """Ask ``wait`` to return (safe from a signal handler)."""
        self._stopping.set()

    def wait(self) -> None:
        """Block until ``request_stop`` or ``stop`` is called."""
        self._stopping.wait()

    def stop(self) -> None:
        """Stop both servers and the poll, then unload every model."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._grpc is not None:
            self._grpc.stop(grace=1.0).wait()
        for thread in self._threads:
            thread.join(timeout=10)
        self.models.close()
