"""bert: the default run (fine-tune MiniLM on BBC News) against its bar (test accuracy ≥ 0.97), and the speed of the
exported ``embed`` signature against PyTorch ``transformers`` on the same sentences, batch and sequence length,
both from raw text to mean-pooled embeddings, timed on the first seed's export (goal: ratio ≥ 1.0).

One seed by default: a fine-tuning run takes 8 to 30 minutes on 2 cores; ``--seeds 3`` when the cores allow.

Speed, recorded under ``embed_speed_vs_pytorch`` (:mod:`bench.timing`'s protocol): each engine in a worker process
of its own. ``zoo_export`` is the export's ``embed`` signature loaded with the TF1 session loader as TF Serving
loads it (TensorFlow alone in its process); ``pytorch`` is the MiniLM checkpoint's ``tokenizer.json`` (cut at the
run's sequence length, padded to the longest text of a batch) → ``transformers.BertModel`` → masked mean (torch
alone in its process): the same shapes, the export's weights fine-tuned. A call embeds the first 256 BBC test
articles in batches of 32; one warm-up call each, not counted, then 5 rounds alternating between the engines.
Recorded: each engine's median seconds with min and max, sentences per second from the median, the ratio, each
worker's libraries and threads, and each engine's achieved GFLOPS (:func:`embed_flops`) beside the machine's
float32 and bfloat16 matmul GFLOPS (``matmul``, measured after training, before the workers start).

    python -m bench bert [--seeds N]         (needs the bench extra: torch, checked before training)

This module is also the workers' program (``python -m bench.bert ENGINE PATH [SEQUENCE_LENGTH]``): its top level
imports neither TensorFlow nor torch, and each function imports what it needs.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bench import timing

if TYPE_CHECKING:
    from bench.common import BenchRecord

DEFAULT_SEEDS = 1
REQUIRES = ("torch",)  # the bench extra; transformers and tokenizers are installed with the zoo
SPEED_SENTENCES = 256
SPEED_BATCH = 32
ROUNDS = 5
WARM_UP_CALLS = 1


# ------------------------------------------------------------------------------ the workers (one engine each)
def embedding_handlers(embed_batch: Callable[[list[str]], np.ndarray]) -> dict[str, Callable[..., Any]]:
    """``embed_batch`` over the texts in batches of ``batch_size``, as two calls: ``embed`` (the timed one) answers
    how many embeddings and how wide, keeping them in the worker; ``embeddings`` answers the vectors themselves, to
    compare engines."""
    def batches(texts: list[str], batch_size: int) -> list[np.ndarray]:
        return [embed_batch(texts[start:start + batch_size]) for start in range(0, len(texts), batch_size)]

    def embed(texts: list[str], batch_size: int) -> dict[str, int]:
        shapes = [batch.shape for batch in batches(texts, batch_size)]
        return {"rows": sum(rows for rows, _ in shapes), "width": shapes[-1][1]}

    def embeddings(texts: list[str], batch_size: int) -> list[list[float]]:
        return np.concatenate(batches(texts, batch_size)).astype(float).tolist()

    return {"embed": embed, "embeddings": embeddings}


def wordpiece_tokenizer(checkpoint: str | Path, sequence_length: int):
    """The checkpoint's ``tokenizer.json``, cutting at ``sequence_length`` tokens ([CLS] and [SEP] included) and
    padding to the longest text of a batch."""
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(Path(checkpoint) / "tokenizer.json"))
    tokenizer.enable_truncation(sequence_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def pytorch_handlers(checkpoint: str, sequence_length: str) -> dict[str, Callable[..., Any]]:
    """``embed`` in PyTorch: :func:`wordpiece_tokenizer` → ``BertModel`` of the checkpoint → masked mean."""
    import torch
    import transformers

    tokenizer = wordpiece_tokenizer(checkpoint, int(sequence_length))
    model = transformers.BertModel.from_pretrained(checkpoint).eval()

    def embed_batch(texts: list[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        mask = torch.tensor([e.attention_mask for e in encodings])
        with torch.inference_mode():
            sequence = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        weights = mask.unsqueeze(-1).to(sequence.dtype)
        return ((sequence * weights).sum(1) / weights.sum(1)).numpy()

    return embedding_handlers(embed_batch)


def zoo_export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """``embed`` on the export's ``embed`` signature, loaded with the TF1 session loader as TF Serving loads it."""
    from zoo.export.session import SessionModel

    model = SessionModel(version_dir)
    return embedding_handlers(
        lambda texts: model.run("embed", {"text": np.array(texts, dtype=object)}, ["embeddings"])["embeddings"])


WORKERS = {"zoo_export": zoo_export_handlers, "pytorch": pytorch_handlers}


# ------------------------------------------------------------------------------ the parent
def embed_flops(config: dict[str, Any], lengths: Sequence[int]) -> int:
    """The FLOPs of embedding texts of ``lengths`` tokens with a BERT of ``config`` (``config.json``'s fields):
    every layer's query, key, value and output projections, attention and feed-forward block over each text's own
    tokens (:func:`bench.timing.encoder_layer_flops`: a multiply and an add per weight and token). Not counted:
    padding, embedding lookups, layer norms, softmax, the mean pooling, and the pooler layer PyTorch's
    ``BertModel`` computes and the embedding does not use.

    >>> embed_flops({"hidden_size": 4, "num_hidden_layers": 2, "intermediate_size": 16}, [10])
    10880
    """
    width = config["hidden_size"]
    layer = functools.partial(timing.encoder_layer_flops, width=width, attention_width=width,
                              feed_forward_weights=2 * width * config["intermediate_size"])
    return config["num_hidden_layers"] * sum(layer(tokens) for tokens in lengths)


def token_counts(checkpoint: str | Path, sequence_length: int, texts: Sequence[str]) -> list[int]:
    """Each text's tokens as both engines see them (:func:`wordpiece_tokenizer`), padding not counted."""
    return [sum(e.attention_mask) for e in wordpiece_tokenizer(checkpoint, sequence_length).encode_batch(list(texts))]


def speed(version_dir: str | Path, checkpoint: str | Path, sequence_length: int, sentences: list[str],
          matmul: dict[str, Any], rounds: int = ROUNDS) -> dict[str, Any]:
    """The export's ``embed`` against PyTorch on ``checkpoint`` (its shapes, its tokenizer), each engine in a worker
    of its own, ``rounds`` alternating rounds over ``sentences``: seconds, sentences per second, the ratio (export
    over PyTorch), achieved GFLOPS beside the machine's ``matmul`` (:func:`bench.timing.matmul_speeds`)."""
    with timing.engine_worker("bench.bert", "zoo_export", version_dir) as zoo_export, \
            timing.engine_worker("bench.bert", "pytorch", checkpoint, str(sequence_length)) as pytorch:
        workers = {"zoo_export": zoo_export, "pytorch": pytorch}
        timed = timing.alternating_rounds(workers, "embed", {"texts": sentences, "batch_size": SPEED_BATCH}, rounds,
                                          WARM_UP_CALLS)
        extra = {"load_average": timing.load_average(), "processes": timing.processes(workers)}
    seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
    config = json.loads((Path(checkpoint) / "config.json").read_text(encoding="utf-8"))
    flops = embed_flops(config, token_counts(checkpoint, sequence_length, sentences))
    return {
        "sentences": len(sentences), "batch_size": SPEED_BATCH, "sequence_length": sequence_length, "rounds": rounds,
        "warm_up_calls": WARM_UP_CALLS, "seconds": seconds,
        "sentences_per_second": {name: round(len(sentences) / s["median"], 1) for name, s in seconds.items()},
        "ratio": round(timing.speedup(seconds, "zoo_export", "pytorch"), 3),
        "embeddings": {name: t.last for name, t in timed.items()},
        **timing.achieved({name: flops for name in seconds}, seconds, matmul),
        "note": "both from raw text: tokenization + forward + masked mean pooling; each engine in a process of its "
                "own, median of alternating rounds",
        **extra,
    }


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    from bench.common import run_seeds
    from zoo.data.bbc_news import load_bbc_news
    from zoo.models.hf.bert_checkpoint import minilm_directory

    result = run_seeds(record, seeds)
    record.add("matmul", timing.matmul_speeds())  # after training, before the workers start: the machine alone
    sentences = [str(t) for t in load_bbc_news().test[0][:SPEED_SENTENCES]]
    record.add("embed_speed_vs_pytorch", speed(result.export.path, minilm_directory(),
                                               result.config["sequence_length"], sentences, record.payload["matmul"]))


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.bert ENGINE PATH [SEQUENCE_LENGTH]`` serves ENGINE's ``embed``
    (:mod:`bench.timing`)."""
    timing.serve_engine(WORKERS, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
