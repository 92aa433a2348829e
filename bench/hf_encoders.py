"""Random-init Hugging Face BERT / ELECTRA checkpoints written by ``transformers`` (torch), and their reference outputs.

Used twice: ``tests/fixtures/make_hf_encoders.py`` writes tiny checkpoints plus reference numbers once (the
suite then needs no torch), and ``python -m bench hf`` (:func:`encoders`) checks the official shapes
(electra-small generator and discriminator, bert-base MLM, with the full 30,522-token uncased vocabulary)
against PyTorch in the same run. Needs the ``bench`` extra (torch).

:func:`encoders` records, per shape: the largest difference to PyTorch of the imported model's probabilities
(masked-LM softmax at every real position, or sigmoid of the discriminator logits), absolute and in log space
(bar 1e-4); whether our in-graph token ids equal the Hugging Face tokenizer's; and, through
``python -m zoo.run bert|electra --set init=DIR --set epochs=0`` (in process) and TF Serving's session loader,
whether the served ``fill_mask`` tokens equal the fill-mask pipeline's (scores within 1e-4) and the served
``replaced`` equals ``sigmoid(ElectraForPreTraining(...).logits)``.

Every parameter is drawn at random (layer-norm scales around 1, biases non-zero), so a weight that is not
ported, or ported transposed, shows in the outputs.

Example:

>>> write_checkpoint("electra_discriminator", Path("/tmp/d"), vocabulary, hidden_size=32)  # doctest: +SKIP
>>> reference_outputs("electra_discriminator", Path("/tmp/d"), ["a [MASK] b"])["replaced_probabilities"].shape  # doctest: +SKIP
(1, 5)
"""

from __future__ import annotations

import tempfile
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
    (directory / "special_tokens_map.json").unlink(missing_ok=True)  # the zoo does not read it
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



# ---------------------------------------------------------------------------------------- python -m bench hf
TEXTS = 8
WORDS = 24
SEQUENCE_LENGTH = 128
TOLERANCE = 1e-4


def bench_texts() -> tuple[list[str], list[str]]:
    """The first ``WORDS`` words of BBC test articles, plain (for ``replaced``) and with a ``[MASK]`` in the middle."""
    from zoo.data.bbc_news import load_bbc_news

    plain = [" ".join(str(t).split()[:WORDS]) for t in load_bbc_news().test[0][:TEXTS]]
    masked = []
    for text in plain:
        words = text.split()
        masked.append(" ".join(words[: len(words) // 2] + ["[MASK]"] + words[len(words) // 2 + 1:]))
    return plain, masked


def _differences(ours: np.ndarray, theirs: np.ndarray, padding_mask: np.ndarray) -> dict[str, float]:
    real = padding_mask.astype(bool)
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    absolute = float(np.abs(ours - theirs)[real].max())
    logs = float(np.abs(np.log(np.maximum(ours, 1e-30)) - np.log(np.maximum(theirs, 1e-30)))[real].max())
    return {"max_abs_difference": absolute, "max_log_difference": logs, "within_1e-4": absolute < TOLERANCE}


def _session_outputs(version: Path, signature_name: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    import contextlib

    import tensorflow as tf

    from zoo.export.session import session_load

    graph = tf.Graph()
    with contextlib.closing(tf.compat.v1.Session(graph=graph)) as session:
        with graph.as_default():
            signature = session_load(session, version).signature_def[signature_name]
        return session.run({k: v.name for k, v in signature.outputs.items()},
                           {signature.inputs["text"].name: np.array(texts, dtype=object)})


def _served_fill_mask(served: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> dict[str, Any]:
    tokens = [[t.decode("utf-8") for t in row] for row in served["tokens"].tolist()]
    return {"tokens_equal_pipeline": tokens == ref["fill_tokens"].tolist(),
            "max_score_difference": float(np.abs(served["scores"] - ref["fill_scores"]).max())}


def _masked_lm_parity(model, tokenizer, ref) -> dict[str, Any]:
    import tensorflow as tf

    inputs = tokenizer(tf.constant(list(ref["texts"])))
    ids_equal = inputs["token_ids"].numpy().tolist() == ref["token_ids"].tolist()
    positions = np.tile(np.arange(ref["token_ids"].shape[1], dtype=np.int32), (len(ref["texts"]), 1))
    probabilities = tf.nn.softmax(model.logits(inputs, positions)).numpy()
    return {"token_ids_equal_hf_tokenizer": ids_equal,
            "probabilities": _differences(probabilities, ref["probabilities"], ref["padding_mask"])}


def electra_small(scratch: Path, vocabulary: Sequence[str], plain: list[str], masked: list[str]) -> dict[str, Any]:
    """electra-small discriminator and generator shapes: import parity, then the recipe's export served."""
    import tensorflow as tf

    from bench.common import run_recipe
    from zoo.models.hf.electra_checkpoint import load_electra_discriminator, load_electra_generator
    from zoo.models.text.wordpiece import WordpieceTokenizer

    directories = {kind: write_checkpoint(kind, scratch / kind, vocabulary, seed=seed, scale=0.02, **OFFICIAL[kind])
                   for seed, kind in enumerate(("electra_discriminator", "electra_generator"))}
    tokenizer = WordpieceTokenizer.from_vocabulary_file(directories["electra_generator"] / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    discriminator_ref = reference_outputs("electra_discriminator", directories["electra_discriminator"], plain)
    generator_ref = reference_outputs("electra_generator", directories["electra_generator"], masked)
    inputs = tokenizer(tf.constant(plain))
    replaced = load_electra_discriminator(directories["electra_discriminator"]).replaced_probabilities(inputs).numpy()
    result = {
        "discriminator": {
            "config": OFFICIAL["electra_discriminator"],
            "token_ids_equal_hf_tokenizer": inputs["token_ids"].numpy().tolist() == discriminator_ref["token_ids"].tolist(),
            "replaced_probabilities": _differences(replaced, discriminator_ref["replaced_probabilities"],
                                                   discriminator_ref["padding_mask"]),
        },
        "generator": {"config": OFFICIAL["electra_generator"],
                      **_masked_lm_parity(load_electra_generator(directories["electra_generator"]), tokenizer,
                                          generator_ref)},
    }
    run = run_recipe("electra", export_dir=scratch / "electra-export", init=str(directories["electra_discriminator"]),
                     generator_init=str(directories["electra_generator"]), epochs=0, sequence_length=SEQUENCE_LENGTH)
    served = _session_outputs(run.export.path, "replaced", plain)
    result["discriminator"]["served_replaced"] = _differences(
        served["replaced_probabilities"], discriminator_ref["replaced_probabilities"], discriminator_ref["padding_mask"])
    result["generator"]["served_fill_mask"] = _served_fill_mask(
        _session_outputs(run.export.path, "fill_mask", masked), generator_ref)
    return result


def bert_base_mlm(scratch: Path, vocabulary: Sequence[str], masked: list[str]) -> dict[str, Any]:
    """bert-base-uncased's shape with its masked-LM head: import parity, then ``bert``'s export served."""
    from bench.common import run_recipe
    from zoo.models.hf.bert_checkpoint import load_bert_masked_lm
    from zoo.models.text.wordpiece import WordpieceTokenizer

    directory = write_checkpoint("bert_mlm", scratch / "bert_mlm", vocabulary, seed=2, scale=0.02, **OFFICIAL["bert_mlm"])
    ref = reference_outputs("bert_mlm", directory, masked)
    tokenizer = WordpieceTokenizer.from_vocabulary_file(directory / "vocab.txt", sequence_length=SEQUENCE_LENGTH)
    result = {"config": OFFICIAL["bert_mlm"], **_masked_lm_parity(load_bert_masked_lm(directory), tokenizer, ref)}
    run = run_recipe("bert", export_dir=scratch / "bert-export", init=str(directory), epochs=0,
                     sequence_length=SEQUENCE_LENGTH)
    result["served_fill_mask"] = _served_fill_mask(_session_outputs(run.export.path, "fill_mask", masked), ref)
    return result


def encoders(record) -> None:
    """The BERT/ELECTRA part of ``python -m bench hf``: ``record.add("encoders", …)`` after each shape."""
    from zoo.data.minilm import load_vocab

    vocabulary, (plain, masked) = load_vocab(), bench_texts()
    results: dict[str, Any] = {"texts": TEXTS, "sequence_length": SEQUENCE_LENGTH}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-hf-encoders-") as scratch:  # bert-base: 440 MB
        results["electra-small"] = electra_small(Path(scratch), vocabulary, plain, masked)
        record.add("encoders", results)
        results["bert-base-uncased-mlm"] = bert_base_mlm(Path(scratch), vocabulary, masked)
        record.add("encoders", results)
