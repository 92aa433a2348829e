"""speed: the bert recipe's MiniLM export, float32 and bfloat16, against PyTorch and ONNX Runtime (float32, int8) on
``embed`` and ``classify``, batch 32 × sequence 128 and 256: goal ≥ 2× PyTorch and ahead of ONNX Runtime int8.

Engines, each in a worker process of its own (:mod:`bench.timing`'s protocol: warm-up calls not counted, rounds
alternating between the engines, median with min and max, each worker's libraries and threads, the machine's matmul
GFLOPS beside each engine's achieved GFLOPS):

- ``pytorch``: MiniLM's checkpoint in ``transformers.BertModel`` (float32), tokenized by its ``tokenizer.json``
  (cut at the sequence length, padded to the longest text of a batch), masked mean pooling (:mod:`bench.bert`);
- ``onnxruntime_float32``, ``onnxruntime_int8``: the same model and pooling exported to ONNX by
  ``torch.onnx.export`` (in a process of its own, before any timing) and, for int8, ONNX Runtime's dynamic
  quantization (int8 weights, activations quantized per call); the same tokenizer. Their threads are told not to
  spin between calls: spinning threads of an idle worker would take the cores from the others' rounds;
- ``zoo_float32``: ``python -m zoo.run bert --set epochs=0 --set sequence_length=S``, MiniLM's weights as they
  are; ``zoo_bfloat16``: ``python -m zoo.run bert --set epochs=1 --set sequence_length=S --set
  precision=bfloat16``, fine-tuned on BBC News. Each loaded as TF Serving loads it, raw text in: ``embed``, and
  ``classify`` through ``serving_default`` (text → class probabilities).

Why two kinds of export: an untrained classifier head gives near-even probabilities, and bfloat16 flips the class of
about 2% of the test rows, so the export gate refuses an ``epochs=0`` bfloat16 export; the fine-tuned one passes.
Weights do not change the speed. The quality figures come from where each is meaningful: every engine with MiniLM's
own weights (PyTorch, ONNX Runtime, ``zoo_float32``) has its embeddings compared with PyTorch's
(``min_cosine_to_pytorch``, over every timed text); the bfloat16 export's model card holds the float32 model's BBC
test accuracy and the bfloat16 one's, the share of test rows whose class changed, and the least cosine of its
embeddings to float32's over the test split (:mod:`zoo.export.precision`). PyTorch and ONNX Runtime have no
classifier here: the ``classify`` ratios divide PyTorch's ``embed`` time (its encoder and pooling, without a head's
384 × 5 product and softmax) by the export's ``classify`` time, which understates the export a little.

    python -m bench speed        # needs the bench extra: torch, onnx, onnxscript, onnxruntime

This module is also the workers' program (``python -m bench.speed ENGINE PATH [ARGUMENT ...]``) and converts the
checkpoint (``python -m bench.speed prepare CHECKPOINT FOLDER``): its top level imports neither TensorFlow, torch
nor ONNX Runtime, and each function imports what it needs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from bench import bert, timing

if TYPE_CHECKING:
    from bench.common import BenchRecord

REQUIRES = ("torch", "onnx", "onnxscript", "onnxruntime")
SEQUENCE_LENGTHS = (128, 256)
SENTENCES = 128
BATCH = 32
ROUNDS = 5
WARM_UP_CALLS = 1
BASELINE = "pytorch"
GOAL = 2.0  # the best low-precision export over PyTorch float32
MIN_COSINE = 0.99  # the low-precision export's embeddings to float32's
MAX_ACCURACY_DROP = 0.005  # BBC test accuracy, bfloat16 below float32
ONNX_FILES = {"onnxruntime_float32": "model.onnx", "onnxruntime_int8": "model.int8.onnx"}
# each export's zoo.run settings, beyond init (the checkpoint) and sequence_length
EXPORTS = {"zoo_float32": {"epochs": 0}, "zoo_bfloat16": {"epochs": 1, "precision": "bfloat16"}}
LOW_PRECISION = "zoo_bfloat16"


# ------------------------------------------------------------------------------ the workers (one engine each)
def onnxruntime_handlers(model_file: str, checkpoint: str, sequence_length: str) -> dict[str, Callable[..., Any]]:
    """``embed`` on ONNX Runtime: :func:`bench.bert.wordpiece_tokenizer` → the ONNX model (encoder and pooling)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
    tokenizer = bert.wordpiece_tokenizer(checkpoint, int(sequence_length))

    def embed_batch(texts: list[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        feeds = {"input_ids": np.array([e.ids for e in encodings], np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encodings], np.int64)}
        return session.run(["embeddings"], feeds)[0]

    return bert.embedding_handlers(embed_batch)


def zoo_export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """``embed`` (:func:`bench.bert.zoo_export_handlers`) and ``classify``: ``serving_default``'s probabilities,
    batch by batch, loaded as TF Serving loads the export."""
    from zoo.export.session import SessionModel

    model = SessionModel(version_dir)

    def classify(texts: list[str], batch_size: int) -> dict[str, int]:
        shapes = [model.run("serving_default", {"text": np.array(texts[start:start + batch_size], dtype=object)},
                            ["probabilities"])["probabilities"].shape for start in range(0, len(texts), batch_size)]
        return {"rows": sum(rows for rows, _ in shapes), "classes": shapes[-1][1]}

    return {**bert.zoo_export_handlers(version_dir), "classify": classify}


WORKERS = {"pytorch": bert.pytorch_handlers, "onnxruntime": onnxruntime_handlers, "zoo_export": zoo_export_handlers}


def convert(checkpoint: str | Path, folder: str | Path) -> None:
    """Write ``folder/model.onnx`` (the checkpoint's ``BertModel`` and masked mean pooling, float32, batch and
    sequence dynamic) and ``folder/model.int8.onnx`` (its dynamic int8 quantization)."""
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            sequence = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(sequence.dtype)
            return (sequence * weights).sum(1) / weights.sum(1)

    model = Pooled(transformers.BertModel.from_pretrained(str(checkpoint))).eval()
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "embeddings": {0: "batch"}}
    folder = Path(folder)
    float32, int8 = (folder / ONNX_FILES[name] for name in ("onnxruntime_float32", "onnxruntime_int8"))
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(model, example, str(float32), input_names=["input_ids", "attention_mask"],
                          output_names=["embeddings"], dynamic_axes=axes)
    quantize_dynamic(str(float32), str(int8), weight_type=QuantType.QInt8)


# ------------------------------------------------------------------------------ the parent
def onnx_models(checkpoint: Path, folder: Path) -> dict[str, Path]:
    """:func:`convert` in a process of its own (torch and ONNX Runtime stay out of the parent): engine → file."""
    timing.prepare("bench.speed", "onnxruntime", str(checkpoint), str(folder))
    return {engine: folder / name for engine, name in ONNX_FILES.items()}


def workers_for(checkpoint: Path, sequence_length: int, onnx: Mapping[str, Path],
                exports: Mapping[str, Path]) -> dict[str, timing.Worker]:
    """One worker per engine, started (each loads while the next starts); the caller closes them."""
    def worker(name: str, engine: str, path: Path | str, *arguments: str) -> timing.Worker:
        return timing.Worker(timing.engine_command("bench.speed", engine, path, *arguments), name)

    workers = {BASELINE: worker(BASELINE, "pytorch", checkpoint, str(sequence_length))}
    for name, path in onnx.items():
        workers[name] = worker(name, "onnxruntime", path, str(checkpoint), str(sequence_length))
    for name, path in exports.items():
        workers[name] = worker(name, "zoo_export", path)
    return workers


def timed_calls(workers: Mapping[str, timing.Worker], call: str, texts: list[str], flops: int,
                matmul: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """``call`` timed on ``workers`` under the protocol: seconds, texts per second, achieved GFLOPS."""
    timed = timing.alternating_rounds(workers, call, {"texts": texts, "batch_size": BATCH}, rounds, WARM_UP_CALLS)
    seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
    return {"seconds": seconds,
            "texts_per_second": {name: round(len(texts) / s["median"], 1) for name, s in seconds.items()},
            **timing.achieved({name: flops for name in seconds}, seconds, matmul),
            "load_average": timing.load_average()}


def with_ratios(figures: dict[str, Any], baseline_median: float) -> dict[str, Any]:
    """``figures`` with each engine's speed over PyTorch's ``embed`` (its median seconds over the engine's)."""
    ratios = {name: round(baseline_median / s["median"], 3) for name, s in figures["seconds"].items()}
    return {**figures, "ratio_to_pytorch": ratios}


def at_length(checkpoint: Path, sequence_length: int, texts: list[str], onnx: Mapping[str, Path],
              exports: Mapping[str, Path], matmul: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """Every engine's ``embed`` and the exports' ``classify`` at one sequence length; the embeddings of the engines
    with the checkpoint's own weights against PyTorch's; the low-precision export's :func:`precision_card`."""
    from zoo.export.precision import min_cosine

    config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    flops = bert.embed_flops(config, bert.token_counts(checkpoint, sequence_length, texts))
    workers = workers_for(checkpoint, sequence_length, onnx, exports)
    same_weights = [name for name in workers if name != LOW_PRECISION]  # the bfloat16 export is fine-tuned
    try:
        embed = timed_calls(workers, "embed", texts, flops, matmul, rounds)
        classify = timed_calls({name: workers[name] for name in exports}, "classify", texts, flops, matmul, rounds)
        vectors = {name: workers[name].call("embeddings", texts=texts, batch_size=BATCH).value
                   for name in same_weights}
        described = timing.processes(workers)
    finally:
        for worker in workers.values():
            worker.close()
    baseline = embed["seconds"][BASELINE]["median"]
    return {"sequence_length": sequence_length, "texts": len(texts), "batch_size": BATCH, "rounds": rounds,
            "embed": with_ratios(embed, baseline), "classify": with_ratios(classify, baseline),
            "min_cosine_to_pytorch": {name: round(min_cosine(np.array(v), np.array(vectors[BASELINE])), 6)
                                      for name, v in vectors.items()},
            LOW_PRECISION: precision_card(exports[LOW_PRECISION]), "processes": described}


def precision_card(version_dir: Path) -> dict[str, Any]:
    """What an export's model card says of its precision: the float32 model's test metrics, and the ``precision``
    section (the low-precision model's test accuracy, class changes, least embedding cosine to float32)."""
    from zoo.export.model_card import read_model_card

    card = read_model_card(version_dir)
    return {"float32_metrics": card["metrics"], "precision": card["precision"]}


def goals(lengths: Sequence[dict[str, Any]]) -> dict[str, bool]:
    """The goals, judged on the medians, per sequence length: for ``embed`` and ``classify``, the bfloat16 export
    ≥ :data:`GOAL`× PyTorch and faster than ONNX Runtime int8's ``embed``, the float32 export ≥ 1.0× PyTorch; the
    bfloat16 export's least embedding cosine to float32 ≥ :data:`MIN_COSINE` and its BBC test accuracy at most
    :data:`MAX_ACCURACY_DROP` below float32's (its model card)."""
    judged: dict[str, bool] = {}
    for figures in lengths:
        length = figures["sequence_length"]
        for call in ("embed", "classify"):
            ratio = figures[call]["ratio_to_pytorch"]
            judged[f"{call}@{length}: {LOW_PRECISION} >= {GOAL:g}x pytorch"] = ratio[LOW_PRECISION] >= GOAL
            judged[f"{call}@{length}: {LOW_PRECISION} faster than onnxruntime_int8"] = (
                ratio[LOW_PRECISION] > figures["embed"]["ratio_to_pytorch"]["onnxruntime_int8"])
            judged[f"{call}@{length}: zoo_float32 >= 1x pytorch"] = ratio["zoo_float32"] >= 1.0
        card = figures[LOW_PRECISION]
        judged[f"@{length}: {LOW_PRECISION} embedding cosine to float32 >= {MIN_COSINE}"] = (
            card["precision"]["min_embedding_cosine"] >= MIN_COSINE)
        drop = card["float32_metrics"]["test_accuracy"] - card["precision"]["test_accuracy"]
        judged[f"@{length}: {LOW_PRECISION} test accuracy within {MAX_ACCURACY_DROP * 100:g} point of float32"] = (
            drop <= MAX_ACCURACY_DROP)
    return judged


def summary_line(figures: dict[str, Any]) -> str:
    """One sequence length in a line: each engine's ``embed`` ratio to PyTorch."""
    ratios = figures["embed"]["ratio_to_pytorch"]
    return (f"speed: embed @ {figures['sequence_length']} tokens, times PyTorch: "
            + ", ".join(f"{name} {ratio:g}" for name, ratio in ratios.items()))


def run(record: BenchRecord, seeds: Sequence[int], checkpoint: Path | None = None,
        sequence_lengths: Sequence[int] = SEQUENCE_LENGTHS, texts: Sequence[str] | None = None,
        exports: Mapping[str, Mapping[str, Any]] = EXPORTS, rounds: int = ROUNDS) -> None:
    """Every engine at every sequence length on MiniLM (one fine-tuning run per length; ``seeds`` is not used).
    The keyword arguments (a checkpoint directory, a few texts, tiny export settings) are for tests."""
    from bench.common import export_with_cli
    from zoo.data.bbc_news import load_bbc_news
    from zoo.models.hf.bert_checkpoint import minilm_directory

    checkpoint = Path(checkpoint or minilm_directory())
    texts = list(texts or [str(t) for t in load_bbc_news().test[0][:SENTENCES]])
    record.describe("setup", {"checkpoint": str(checkpoint), "texts": len(texts), "batch_size": BATCH,
                              "sequence_lengths": list(sequence_lengths), "exports": exports, "rounds": rounds,
                              "warm_up_calls": WARM_UP_CALLS})
    record.add("matmul", timing.matmul_speeds())  # before any worker starts: the machine alone
    lengths: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="zoo-bench-speed-") as scratch:
        onnx = onnx_models(checkpoint, Path(scratch))
        for length in sequence_lengths:
            versions = {name: export_with_cli("bert", {**settings, "init": str(checkpoint), "sequence_length": length},
                                              Path(scratch) / f"{name}-{length}")
                        for name, settings in exports.items()}
            lengths.append(at_length(checkpoint, length, texts, onnx, versions, record.payload["matmul"], rounds))
            record.add("lengths", lengths)
            print(summary_line(lengths[-1]), flush=True)
    record.add("goals", goals(lengths))


def main(argv: list[str] | None = None) -> int:
    """A worker (``python -m bench.speed ENGINE PATH [ARGUMENT ...]``), or the conversion of a checkpoint for
    an engine (``python -m bench.speed prepare CHECKPOINT FOLDER``): :func:`bench.timing.engine_main`."""
    return timing.engine_main(WORKERS, argv if argv is not None else sys.argv[1:], convert)


if __name__ == "__main__":
    sys.exit(main())
