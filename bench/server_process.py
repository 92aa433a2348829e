"""``python -m zoo.serve`` as a process of its own, on free 127.0.0.1 ports, as users start it; shared by the serve
bench (:mod:`bench.serve_bench`) and the tests that serve through a real server process.

>>> with serve_process("saved_models", "--enable-batching") as server:          # doctest: +SKIP
...     server.model_state("cnn_mnist")
'AVAILABLE'
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping

READY = re.compile(r"zoo\.serve: REST (http://127\.0\.0\.1:\d+)  gRPC (127\.0\.0\.1:\d+)")


class ServerStartError(RuntimeError):
    """The server did not print its ready line in time; the message ends with the tail of its stderr."""


@dataclasses.dataclass
class ServerProcess:
    """A running ``python -m zoo.serve``: the process, its REST base URL, its gRPC target, its stderr file."""

    process: subprocess.Popen
    rest_url: str
    grpc_target: str
    stderr_path: Path

    def stderr_tail(self, chars: int = 3000) -> str:
        return self.stderr_path.read_text(errors="replace")[-chars:]

    def rss_bytes(self) -> int:
        """The server's resident set size now (VmRSS of /proc/PID/status)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024

    def model_state(self, model: str) -> str:
        """The state of ``model``'s newest version from TF Serving's model status API (``AVAILABLE`` when it
        answers), or the error the server gave."""
        try:
            with urllib.request.urlopen(f"{self.rest_url}/v1/models/{model}", timeout=30) as response:
                states = json.loads(response.read())["model_version_status"]
        except urllib.error.HTTPError as error:
            with contextlib.closing(error):
                return f"HTTP {error.code}: {error.read().decode(errors='replace')}"
        return max(states, key=lambda status: int(status["version"]))["state"]


@contextlib.contextmanager
def serve_process(model_base: str | os.PathLike, *flags: str, start_timeout: float = 300,
                  env: Mapping[str, str] | None = None) -> Iterator[ServerProcess]:
    """``python -m zoo.serve --model-base MODEL_BASE`` with ``flags`` on free ports, in environment ``env`` (default:
    this one); the block gets a :class:`ServerProcess` once the server has loaded what is on disk and accepts
    connections. SIGTERM after the block (killed if it has not ended 30 s later, and the end of its stderr printed to
    this process's stderr)."""
    stderr_path = Path(tempfile.mkstemp(prefix="zoo-serve-", suffix=".log")[1])
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoo.serve", "--model-base", str(model_base), "--rest-port", "0", "--grpc-port",
             "0", *flags], stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True,
            env=None if env is None else dict(env))
    try:
        ready, _, _ = select.select([process.stdout], [], [], start_timeout)
        line = process.stdout.readline() if ready else ""
        match = READY.match(line)
        if not match:
            raise ServerStartError(f"zoo.serve did not start within {start_timeout:g} s (got {line!r}); stderr:\n"
                                   f"{stderr_path.read_text(errors='replace')[-3000:]}")
        yield ServerProcess(process, match.group(1), match.group(2), stderr_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            print(f"zoo.serve (pid {process.pid}) did not stop within 30 s of SIGTERM and was killed; its stderr "
                  f"ended:\n{stderr_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        process.stdout.close()
        stderr_path.unlink(missing_ok=True)
