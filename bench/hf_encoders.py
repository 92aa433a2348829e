"""Random-init Hugging Face BERT / ELECTRA checkpoints written by ``transformers`` (torch), and their reference outputs.

Used twice: ``tests/fixtures/make_hf_encoders.py`` writes tiny checkpoints plus reference numbers once (the
suite then needs no torch), and ``python -m bench hf`` checks the official shapes (electra-small generator and
discriminator, bert-base MLM) against PyTorch in the same run. Needs the ``bench`` extra (torch).

Every parameter is drawn at random (layer-norm scales around 1, biases non-zero), so a weight that is not
ported, or ported transposed, shows in the outputs.

Example:

>>> write_checkpoint("electra_discriminator", Path("/tmp/d"), vocabulary, hidden_size=32)  # doctest: +SKIP
>>> reference_outputs("electra_discriminator", Path("/tmp/d"), ["a [MASK] b"])["replaced_probabilities"].shape  # doctest: +SKIP
(1, 5)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# The official shapes (google/electra-small-*, bert-base-uncased config.json), vocabulary aside.
OFFICIAL = {
    "electra_discriminator": dict(embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4,
                                  intermediate_size=1024, max_position_embeddings=512, hidden_act="gelu"),
    "electra_generator": dict(embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4,
                              intermediate_size=1024, max_position_embeddings=512, hidden_act="gelu"),
    "bert_mlm": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                     max_position_embeddings=512, hidden_act="gelu"),
}
ARCHITECTURES = {
    "electra_discriminator": "ElectraForPreTraining",
    "electra_generator": "ElectraForMaskedLM",
    "bert_mlm": "BertForMaskedLM",
}


def _model_class(kind: str):
    import transformers

    return getattr(transformers, ARCHITECTURES[kind])


def _config(kind: str, vocabulary_size: int, overrides: dict[str, Any]):
    import transformers

    config_class = transformers.BertConfig if kind == "bert_mlm" else transformers.ElectraConfig
    return config_class(vocab_size=vocabulary_size, **overrides)


def randomize(model, scale: float, seed: int) -> None:
    """Redraw every parameter: layer-norm weights 1 + N(0, 0.1), everything else N(0, ``scale``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + 0.1 * noise)
            else:
                parameter.copy_(scale * noise)


def write_checkpoint(kind: str, directory: Path, vocabulary: Sequence[str], *, seed: int = 0, scale: float = 0.2,
                     **config: Any) -> Path:
    """``directory`` with ``config.json``, ``model.safetensors``, ``vocab.txt`` and ``tokenizer.json`` of a random model."""
    import torch
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = _model_class(kind)(_config(kind, len(vocabulary), config)).eval()
    randomize(model, scale, seed)
    model.save_pretrained(directory, safe_serialization=True)
    (directory / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab={token: i for i, token in enumerate(vocabulary)}, do_lower_case=True)
    tokenizer.save_pretrained(directory)
    for extra in ("special_tokens_map.json",):  # keep the directory to what the hub ships for these models
        (directory / extra).unlink(missing_ok=True)
    return directory


def hf_tokenizer(directory: Path):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(str(directory))


def reference_outputs(kind: str, directory: Path, texts: Sequence[str], top_k: int = 5) -> dict[str, np.ndarray]:
    """What PyTorch ``transformers`` computes on ``texts``: token ids, and the model's probabilities.

    ``electra_discriminator``: ``replaced_probabilities`` = sigmoid(ElectraForPreTraining logits) [n, length].
    Masked LMs: ``probabilities`` softmax over the vocabulary [n, length, vocabulary], and for each text with a
    ``[MASK]`` the fill-mask pipeline's top ``top_k`` (``fill_tokens``, ``fill_scores``; rows of "" and 0 for
    texts without one).
    """
    import torch
    import transformers

    tokenizer = hf_tokenizer(directory)
    model = _model_class(kind).from_pretrained(str(directory), attn_implementation="eager").eval()
    batch = tokenizer(list(texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.float()
    out = {"texts": np.array(list(texts)), "token_ids": batch["input_ids"].numpy().astype(np.int32),
           "padding_mask": batch["attention_mask"].numpy().astype(np.int32)}
    if kind == "electra_discriminator":
        out["replaced_probabilities"] = torch.sigmoid(logits).numpy()
        return out
    out["probabilities"] = torch.softmax(logits, dim=-1).numpy()
    pipeline = transformers.pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=top_k)
    tokens = np.full((len(texts), top_k), "", dtype=object)
    scores = np.zeros((len(texts), top_k), np.float32)
    for row, text in enumerate(texts):
        if tokenizer.mask_token not in text:
            continue
        predictions = pipeline(text)
        first_mask = predictions[0] if isinstance(predictions[0], list) else predictions
        tokens[row] = [p["token_str"] for p in first_mask]
        scores[row] = [p["score"] for p in first_mask]
    out["fill_tokens"] = tokens.astype(str)
    out["fill_scores"] = scores
    return out


def config_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "config.json").read_text(encoding="utf-8"))
