"""bert: the default run (fine-tune MiniLM on BBC News) against its bar (test accuracy ≥ 0.97), and the speed of the
exported ``embed`` signature against PyTorch ``transformers`` on the same sentences, batch and sequence length,
both from raw text to mean-pooled embeddings, measured side by side on the first seed's export (goal: ratio ≥ 1.0).

One seed by default: a fine-tuning run takes 8 to 30 minutes on 2 cores; ``--seeds 3`` when the cores allow.

    python -m bench bert [--seeds N]         (needs the bench extra: torch, checked before training)
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from bench.common import BenchRecord, run_seeds
from zoo.data.bbc_news import load_bbc_news
from zoo.models.hf.bert_checkpoint import minilm_directory

DEFAULT_SEEDS = 1
REQUIRES = ("torch",)  # the bench extra; transformers and tokenizers are installed with the zoo
SPEED_SENTENCES = 256
SPEED_BATCH = 32
ROUNDS = 5


def torch_embedder(sequence_length: int) -> Callable[[Sequence[str]], np.ndarray]:
    """PyTorch: the checkpoint's tokenizer.json (truncate, pad to longest) → BertModel → masked mean."""
    import tokenizers
    import torch
    import transformers

    tokenizer = tokenizers.Tokenizer.from_file(str(minilm_directory() / "tokenizer.json"))
    tokenizer.enable_truncation(sequence_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    model = transformers.BertModel.from_pretrained(minilm_directory()).eval()

    def embed(texts):
        encodings = tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings])
        mask = torch.tensor([e.attention_mask for e in encodings])
        with torch.inference_mode():
            sequence = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        weights = mask.unsqueeze(-1).to(sequence.dtype)
        return ((sequence * weights).sum(1) / weights.sum(1)).numpy()

    return embed


def exported_embedder(version_dir: Path) -> Callable[[Sequence[str]], np.ndarray]:
    signature = tf.saved_model.load(str(version_dir)).signatures["embed"]
    return lambda texts: signature(text=tf.constant(list(texts)))["embeddings"].numpy()


def sentences_per_second(embed: Callable, sentences: Sequence[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(sentences), SPEED_BATCH):
        embed(sentences[start: start + SPEED_BATCH])
    return len(sentences) / (time.perf_counter() - started)


def speed(version_dir: Path, sequence_length: int) -> dict[str, Any]:
    """Interleaved rounds of both embedders on the same BBC test articles; median throughput of each."""
    sentences = [str(t) for t in load_bbc_news().test[0][:SPEED_SENTENCES]]
    embedders = {"zoo_export": exported_embedder(version_dir), "pytorch": torch_embedder(sequence_length)}
    for embed in embedders.values():
        embed(sentences[:SPEED_BATCH])  # warm up (tracing, allocators)
    rates: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(ROUNDS):
        for name, embed in embedders.items():
            rates[name].append(sentences_per_second(embed, sentences))
    medians = {name: statistics.median(r) for name, r in rates.items()}
    return {
        "sentences": len(sentences), "batch_size": SPEED_BATCH, "sequence_length": sequence_length,
        "sentences_per_second": {k: round(v, 1) for k, v in medians.items()},
        "ratio": round(medians["zoo_export"] / medians["pytorch"], 3),
        "note": "both from raw text: tokenization + forward + masked mean pooling; median of interleaved rounds",
    }


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    result = run_seeds(record, seeds)
    record.add("embed_speed_vs_pytorch", speed(result.export.path, result.config["sequence_length"]))
