"""Hugging Face GPT-2 checkpoint directories (gpt2, distilgpt2, gpt2-medium, …) as KerasHub models with their
byte-level BPE tokenizer in the graph.

A directory as ``save_pretrained`` writes it or the hub ships it: ``config.json`` (``model_type`` gpt2),
``model.safetensors``, and ``vocab.json`` + ``merges.txt`` and/or ``tokenizer.json``. Everything is checked before a
model is built, and every problem is one :class:`zoo.errors.UsageError` naming the file: a directory holding only the
pickled ``pytorch_model.bin``, a setting KerasHub's GPT-2 cannot express (another activation, an inner width other
than 4 × ``n_embd``, an untied ``lm_head``), tensors whose shapes disagree with ``config.json``, no tokenizer files.
KerasHub's own converter then ports the weights (``GPT2Backbone.from_preset``); the logits equal PyTorch
``transformers``' (tests/test_gpt2_decoding.py).

Example:

>>> load_gpt2_checkpoint("tests/fixtures/hf_gpt2/tiny").backbone.num_layers      # doctest: +SKIP
2
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from zoo.errors import UsageError
from zoo.models.hf.checkpoint_files import (COUNT, EPSILON, FLAG, NAME, TOKENIZER, CheckpointWeights,
                                            checkpoint_directory, read_config, refuse)

FIELDS = {"vocab_size": COUNT, "n_embd": COUNT, "n_layer": COUNT, "n_head": COUNT, "n_positions": COUNT,
          "layer_norm_epsilon": EPSILON.optional(), "activation_function": NAME.optional(),
          "tie_word_embeddings": FLAG.optional()}
VOCAB_JSON, MERGES = "vocab.json", "merges.txt"
END_OF_TEXT = "<|endoftext|>"


@dataclasses.dataclass(frozen=True)
class GPT2Checkpoint:
    """A loaded checkpoint: the KerasHub ``backbone``, the in-graph ``tokenizer`` and the end-of-text token id."""

    backbone: Any
    tokenizer: Any
    eos_id: int
    config: dict


def gpt2_problems(config: dict[str, Any]) -> list[str]:
    """What in ``config.json`` KerasHub's GPT-2 cannot express."""
    problems = []
    if config.get("activation_function", "gelu_new") != "gelu_new":
        problems.append(f"activation_function {config['activation_function']!r} (KerasHub's GPT-2 has gelu_new)")
    inner = config.get("n_inner")
    if inner is not None and inner != 4 * config["n_embd"]:
        problems.append(f"n_inner {inner} (KerasHub's GPT-2 has 4 x n_embd = {4 * config['n_embd']})")
    if abs(config.get("layer_norm_epsilon", 1e-5) - 1e-5) > 1e-12:
        problems.append(f"layer_norm_epsilon {config['layer_norm_epsilon']} (KerasHub's GPT-2 has 1e-05)")
    if not config.get("tie_word_embeddings", True):
        problems.append("tie_word_embeddings false (KerasHub's GPT-2 ties lm_head to the token embeddings)")
    if config["n_embd"] % config["n_head"]:
        problems.append(f"n_embd {config['n_embd']} is not a multiple of n_head {config['n_head']}")
    return problems


def read_gpt2_config(directory: str | Path) -> dict[str, Any]:
    """``config.json``, checked: a gpt2 model KerasHub can build."""
    config = read_config(directory, "gpt2", FIELDS)
    refuse(Path(directory), "KerasHub GPT-2", gpt2_problems(config))
    return config


def read_gpt2_tokenizer(directory: str | Path):
    """The checkpoint's byte-level BPE: from ``vocab.json`` + ``merges.txt`` when both are there, else
    ``tokenizer.json``."""
    from zoo.models.text.byte_bpe import ByteBPETokenizer

    directory = checkpoint_directory(directory)
    if (directory / VOCAB_JSON).is_file() and (directory / MERGES).is_file():
        return ByteBPETokenizer.from_files(directory / VOCAB_JSON, directory / MERGES)
    if (directory / TOKENIZER).is_file():
        return ByteBPETokenizer.from_tokenizer_json(directory / TOKENIZER)
    raise UsageError(f"{directory}: no tokenizer: a GPT-2 checkpoint needs {VOCAB_JSON} and {MERGES}, or {TOKENIZER}")


def load_gpt2_checkpoint(directory: str | Path) -> GPT2Checkpoint:
    """The checkpoint in ``directory`` as a KerasHub ``GPT2Backbone`` and its tokenizer (see the module docstring)."""
    import keras_hub

    config = read_gpt2_config(directory)
    tokenizer = read_gpt2_tokenizer(directory)
    if END_OF_TEXT not in tokenizer.vocabulary:
        raise UsageError(f"{directory}: the tokenizer has no {END_OF_TEXT} token")
    hidden, vocabulary = config["n_embd"], config["vocab_size"]
    weights = CheckpointWeights(directory, prefix="transformer.")
    weights.check_shapes({"wte.weight": [vocabulary, hidden], "wpe.weight": [config["n_positions"], hidden],
                          **{f"h.{i}.attn.c_attn.weight": [hidden, 3 * hidden] for i in range(config["n_layer"])}})
    if tokenizer.vocabulary_size > vocabulary:
        raise UsageError(f"{directory}: the tokenizer has ids up to {tokenizer.vocabulary_size - 1}, but config.json's "
                         f"vocab_size is {vocabulary}")
    backbone = keras_hub.models.GPT2Backbone.from_preset(str(directory))
    return GPT2Checkpoint(backbone, tokenizer, tokenizer.vocabulary[END_OF_TEXT], config)
