"""serve: bert ``classify`` and t5 ``serving_default`` through ``python -m zoo.serve`` (REST, gRPC, with and without
batching) against the same SavedModel called in-process: goal, batched gRPC ≥ 0.9× in-process.

The models, at full size: the bert recipe's default export with MiniLM's weights as they are (``python -m zoo.run bert
--set epochs=0``: 256 tokens a text on BBC News; ``serving_default``: text → class probabilities; the untrained head
does not change the speed) and the t5 recipe's export of a random-init checkpoint of t5-small's shapes (the one
``python -m bench generate`` times; ``serving_default``: text → greedy generation, up to 32 new tokens). Requests: BBC
test texts, one per request (bert: the first 64 articles, cut by the model; t5: the 32 ``summarize:`` inputs of
``python -m bench generate``).

Every side runs in a process of its own (:mod:`bench.timing`, :mod:`bench.server_process`): two ``python -m
zoo.serve`` processes serving both models (one started with ``--enable-batching --max-batch-size 16
--batch-timeout-micros 10000``: :data:`BATCH_TIMEOUT_MICROS`), one process of 16 clients (:mod:`bench.serve_load`:
aiohttp for REST, a gRPC channel for gRPC), and for each model one process calling its SavedModel directly, loaded as
``zoo.serve`` loads it. Each mode keeps its callers busy for a fixed time (:data:`SECONDS`); a warm-up pass of every
mode is not counted; then :data:`ROUNDS` rounds, each one pass over every mode of every model; each figure is the
median over rounds, with min and max. The modes:

- ``in-process, batches of 16``: one caller running the signature on 16 rows at a time, the batches the batching
  server forms at most: the baseline of the goal;
- ``in-process, 16 callers``: 16 threads, one row per call, the load the server without batching sees;
- ``REST``, ``gRPC``, ``REST + batching``, ``gRPC + batching``: 16 clients, one row per request.

Throughput counts rows (texts) per second; latency is per call as its caller saw it (for the batched in-process
caller, one call of 16 rows); for the batching server, the mean rows of the batches it merged (from its Prometheus
metrics, ``--monitoring-config-file``: both servers get it alike, the batching server's are read). The table goes
to stdout and to ``bench/results/serve.json``; the README's table is generated from it (``python -m bench.table
--write``).

    python -m bench serve                              # exports both models to a scratch directory (needs torch)
    python -m bench.serve_bench --model-base saved_models --model cnn_mnist [--model ...] [--seconds 10]
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from bench import timing
from bench.server_process import ServerProcess, ServerStartError, serve_process

if TYPE_CHECKING:
    from bench.common import BenchRecord

REQUIRES = ("torch", "transformers", "sentencepiece")  # to write the t5 checkpoint (bench.generate)
CONCURRENCY = 16
SECONDS = {"bert": 10.0, "t5": 20.0}  # per mode and round: t5 answers a batch of 16 in about 1.5 s
DEFAULT_SECONDS = 10.0  # a model not in SECONDS
WARM_UP_SECONDS = 2.0
ROUNDS = 3
BERT_TEXTS = 64
SIGNATURE = "serving_default"
BASELINE = "in-process, batches of {concurrency}"
# The batching server's wait for a batch to fill (zoo.serve's default is 2 ms): 16 clients' next requests arrive
# spread over more than 2 ms once a batch is answered, and a 2 ms wait ran t5 in batches of 6 rows on average.
BATCH_TIMEOUT_MICROS = 10_000
GOAL = 0.9  # gRPC + batching over the baseline, in rows per second
GOAL_MODE = "gRPC + batching"
METRICS_PATH = "/metrics"
BATCHING = " + batching"  # the label of the server with --enable-batching, the one whose batch sizes are read
MONITORING_CONFIG = f'prometheus_config {{ enable: true, path: "{METRICS_PATH}" }}\n'
BATCH_SIZE_LINE = re.compile(
    r'^:tensorflow:serving:batching:processed_batch_size_v2\{(?P<labels>[^}]*)\} (?P<count>\S+)$', re.M)


def modes(concurrency: int) -> list[str]:
    """Every mode, in the order each round runs them; the baseline first."""
    return [BASELINE.format(concurrency=concurrency), f"in-process, {concurrency} callers", "REST", "gRPC",
            "REST + batching", "gRPC + batching"]


def over_rounds(rounds: Sequence[Mapping[str, Mapping[str, float]]], baseline: str) -> dict[str, dict[str, Any]]:
    """Per mode: rows per second and p50/p99 latency over the rounds (:func:`bench.timing.spread`), the calls made,
    and the ratio of the median rows per second to ``baseline``'s.

    >>> r = [{"a": {"rows_per_second": t, "p50_ms": 1.0, "p99_ms": 2.0, "calls": 5}} for t in (10.0, 30.0, 20.0)]
    >>> table = over_rounds(r, "a")["a"]
    >>> table["rows_per_second"]["median"], table["calls"], table["ratio_vs_in_process"]
    (20.0, 15, 1.0)
    """
    table: dict[str, dict[str, Any]] = {}
    for mode in rounds[0]:
        table[mode] = {key: timing.spread([r[mode][key] for r in rounds])
                       for key in ("rows_per_second", "p50_ms", "p99_ms", "rows_per_batch") if key in rounds[0][mode]}
        table[mode]["calls"] = sum(r[mode]["calls"] for r in rounds)
    base = table[baseline]["rows_per_second"]["median"]
    for figures in table.values():
        figures["ratio_vs_in_process"] = round(figures["rows_per_second"]["median"] / base, 3)
    return table


def summary_lines(model: str, table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The table of one model for the console."""
    lines = [f"{model}: {'mode':<28}{'rows/s':>9}{'× in-process':>14}{'p50 ms':>10}{'p99 ms':>10}{'rows/batch':>12}"]
    for mode, figures in table.items():
        merged = f"{figures['rows_per_batch']['median']:.1f}" if "rows_per_batch" in figures else "—"
        lines.append(f"{'':<{len(model) + 2}}{mode:<28}{figures['rows_per_second']['median']:>9.1f}"
                     f"{figures['ratio_vs_in_process']:>14.2f}{figures['p50_ms']['median']:>10.1f}"
                     f"{figures['p99_ms']['median']:>10.1f}{merged:>12}")
    return lines


def merged_batches(metrics: str, model: str, signature: str = SIGNATURE) -> dict[int, int]:
    """How many merged batches of each size a batching server has run for ``model``'s ``signature``, from its
    Prometheus ``metrics`` text.

    >>> text = (':tensorflow:serving:batching:processed_batch_size_v2{model_name="t5",op_name="serving_default",'
    ...         'batch_size="16"} 3\\n')
    >>> merged_batches(text, "t5")
    {16: 3}
    """
    counts: dict[int, int] = {}
    for match in BATCH_SIZE_LINE.finditer(metrics):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("model_name") == model and labels.get("op_name") == signature:
            counts[int(labels["batch_size"])] = int(float(match["count"]))
    return counts


def rows_per_batch(before: dict[int, int], after: dict[int, int]) -> float | None:
    """The mean rows of the batches run between two readings of :func:`merged_batches` (None: there were none).

    >>> rows_per_batch({16: 2}, {16: 4, 8: 2})
    12.0
    """
    batches = {size: after[size] - before.get(size, 0) for size in after}
    total = sum(batches.values())
    return round(sum(size * n for size, n in batches.items()) / total, 2) if total else None


def metrics_text(server: ServerProcess) -> str:
    with urllib.request.urlopen(server.rest_url + METRICS_PATH, timeout=30) as response:
        return response.read().decode()


class Sides:
    """The running processes of one measurement: the in-process callers of each model, the clients, two servers."""

    def __init__(self, stack: contextlib.ExitStack, model_base: Path, versions: Mapping[str, int],
                 concurrency: int, monitoring_config: Path, batching_flags: Sequence[str]) -> None:
        self.concurrency = concurrency
        self.in_process = {model: stack.enter_context(timing.Worker(timing.engine_command(
            "bench.serve_load", "in_process", model_base / model / str(version)), f"in-process {model}"))
            for model, version in versions.items()}
        self.clients = stack.enter_context(timing.engine_worker("bench.serve_load", "clients", "-"))
        monitoring = ("--monitoring-config-file", str(monitoring_config))  # the batching server's batch sizes
        self.servers = {"": stack.enter_context(serve_process(model_base, *monitoring, start_timeout=900)),
                        BATCHING: stack.enter_context(serve_process(
                            model_base, *monitoring, *batching_flags, start_timeout=900))}
        for label, server in self.servers.items():
            for model in versions:
                state = server.model_state(model)
                if state != "AVAILABLE":
                    raise timing.WorkerError(f"engine zoo.serve{label}: {model} is {state}", server.stderr_tail())

    def one_pass(self, model: str, requests: Mapping[str, Any], seconds: float) -> dict[str, dict[str, float]]:
        """Every mode of ``model`` once, for ``seconds`` each: the figures of :func:`bench.serve_load.load_figures`."""
        n = self.concurrency
        own = self.in_process[model]
        figures = {
            modes(n)[0]: own.call("call", requests=requests, batch=n, concurrency=1, seconds=seconds).value,
            modes(n)[1]: own.call("call", requests=requests, batch=1, concurrency=n, seconds=seconds).value}
        for label, server in self.servers.items():
            for protocol, handler, address in (("REST", "rest", {"url": server.rest_url}),
                                               ("gRPC", "grpc", {"target": server.grpc_target})):
                if label == BATCHING:  # only the batching server merges requests
                    before = merged_batches(metrics_text(server), model)
                figures[protocol + label] = self.clients.call(handler, **address, model=model, requests=requests,
                                                              concurrency=n, seconds=seconds).value
                if label == BATCHING:
                    merged = rows_per_batch(before, merged_batches(metrics_text(server), model))
                    if merged is not None:
                        figures[protocol + label]["rows_per_batch"] = merged
        return {mode: figures[mode] for mode in modes(n)}

    def processes(self) -> dict[str, Any]:
        """Each worker's :func:`bench.timing.process_description`, and each server's command line."""
        described = timing.processes({"clients": self.clients, **{f"in-process {m}": w
                                                                    for m, w in self.in_process.items()}})
        servers = {f"zoo.serve{label}": {"argv": server.process.args, "pid": server.process.pid}
                   for label, server in self.servers.items()}
        return {**described, **servers}


def measure(record: BenchRecord, model_base: Path, texts: Mapping[str, Sequence[str] | None],
            seconds: Mapping[str, float], concurrency: int = CONCURRENCY, rounds: int = ROUNDS,
            warm_up_seconds: float = WARM_UP_SECONDS, batch_timeout_micros: int | None = None) -> None:
    """Serve the newest version of each model of ``texts`` under ``model_base`` and measure every mode; ``texts``
    gives each model's request texts (None: its warmup request's rows); ``batch_timeout_micros`` is the batching
    server's ``--batch-timeout-micros`` (None: zoo.serve's default). Recorded after each round."""
    from zoo.export.model_card import read_model_card
    from zoo.export.versions import existing_versions

    batching_flags = ["--enable-batching", "--max-batch-size", str(concurrency)]
    if batch_timeout_micros is not None:
        batching_flags += ["--batch-timeout-micros", str(batch_timeout_micros)]
    versions = {}
    for model in texts:
        found = existing_versions(model_base / model)
        if not found:
            raise SystemExit(f"no versions under {model_base / model}: export one first (python -m zoo.run {model})")
        versions[model] = found[-1]
    record.describe("setup", {"models": {m: {"version": v, "signature": SIGNATURE, "seconds_per_mode": seconds[m],
                                             "config": read_model_card(model_base / m / str(v)).get("config")}
                                         for m, v in versions.items()},
                              "concurrency": concurrency, "rounds": rounds, "warm_up_seconds": warm_up_seconds,
                              "modes": modes(concurrency), "baseline": modes(concurrency)[0],
                              "batching_server_flags": batching_flags})
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoo-bench-serve-")))
        (scratch / "monitoring.config").write_text(MONITORING_CONFIG)
        sides = Sides(stack, model_base, versions, concurrency, scratch / "monitoring.config", batching_flags)
        requests = {model: sides.in_process[model].call("requests", signature=SIGNATURE, texts=texts[model]).value
                    for model in versions}
        record.describe("requests", {model: len(next(iter(r["inputs"].values()))["rows"])
                                     for model, r in requests.items()})
        for model in versions:
            sides.one_pass(model, requests[model], warm_up_seconds)
        measured: dict[str, list] = {model: [] for model in versions}
        for _ in range(rounds):
            for model in versions:
                measured[model].append(sides.one_pass(model, requests[model], seconds[model]))
            record.add("results", {model: over_rounds(done, modes(concurrency)[0]) for model, done in measured.items()})
            record.add("load_average", timing.load_average())
        record.add("processes", sides.processes())
    record.add("goals", {f"{model}: {GOAL_MODE} >= {GOAL:g} x {modes(concurrency)[0]}":
                         table[GOAL_MODE]["ratio_vs_in_process"] >= GOAL
                         for model, table in record.payload["results"].items()})
    for model, table in record.payload["results"].items():
        print("\n".join(summary_lines(model, table)), flush=True)


def exported_models(scratch: Path) -> Path:
    """Both full-size exports under ``scratch/models`` (``bert/1``, ``t5/1``), each made by ``python -m zoo.run``
    in a process of its own."""
    from bench.common import export_with_cli
    from bench.generate import export_settings, write_checkpoint

    base = scratch / "models"
    base.mkdir()
    settings = {"bert": {"epochs": 0},
                "t5": {"init": str(write_checkpoint(scratch)), **export_settings()}}
    for recipe, chosen in settings.items():
        version = export_with_cli(recipe, chosen, scratch / recipe)
        shutil.move(str(version.parent), base / recipe)
    return base


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """``python -m bench serve``: both full-size exports, served and measured (a speed: ``seeds`` is not used)."""
    from bench.hf_t5 import t5_texts
    from zoo.data.bbc_news import load_bbc_news

    texts = {"bert": [str(t) for t in load_bbc_news().test[0][:BERT_TEXTS]], "t5": t5_texts()}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-serve-") as scratch:
        measure(record, exported_models(Path(scratch)), texts, SECONDS, batch_timeout_micros=BATCH_TIMEOUT_MICROS)


def main(argv: list[str] | None = None) -> int:
    from bench.common import BenchRecord, RESULTS_DIR
    from zoo.cli import OneLineParser

    parser = OneLineParser(prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", type=Path, default=Path("saved_models"))
    parser.add_argument("--model", action="append", required=True, help="a model to serve (repeat for more); its "
                        f"{SIGNATURE} warmup request's rows are sent")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="per mode and round")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--batch-timeout-micros", type=int, default=None,
                        help="the batching server's wait for a batch to fill (default: zoo.serve's)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.concurrency < 1 or args.rounds < 1 or (args.batch_timeout_micros or 0) < 0:
        parser.error("--seconds must be positive, --concurrency and --rounds at least 1, --batch-timeout-micros "
                     "not negative")
    try:
        measure(BenchRecord("serve", args.results_dir), args.model_base, dict.fromkeys(args.model),
                dict.fromkeys(args.model, args.seconds), args.concurrency, args.rounds,
                warm_up_seconds=min(WARM_UP_SECONDS, args.seconds), batch_timeout_micros=args.batch_timeout_micros)
    except (timing.WorkerError, ServerStartError) as error:  # the worker's or server's stderr stays out of it
        print(f"{parser.prog}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
