"""Random-init Hugging Face T5 checkpoints written by ``transformers`` (torch), and what PyTorch computes from them.

Used twice: ``tests/fixtures/make_hf_t5.py`` writes tiny checkpoints plus reference numbers once (the suite then
needs no torch), and ``python -m bench hf`` checks the official t5-small and flan-t5-small shapes against
PyTorch in the same run. Needs the ``bench`` extra (torch).

A checkpoint directory holds what the hub ships for T5: ``config.json``, ``model.safetensors`` and
``spiece.model`` (the SentencePiece model without the ``<extra_id_N>`` sentinels, which the Hugging Face
tokenizer appends). Weights are ``transformers``' own initialisation, with layer-norm scales drawn around 1 and,
for an untied checkpoint, an ``lm_head`` of its own, so a weight that is not ported, or ported transposed,
shows in the outputs.

Example:

>>> write_t5_checkpoint(Path("/tmp/t5"), spiece_model, **T5_SMALL)                     # doctest: +SKIP
>>> t5_reference(Path("/tmp/t5"), ["translate: a b"], max_new_tokens=8)["generated"].shape  # doctest: +SKIP
(1, 8)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# The official shapes (config.json of google-t5/t5-small and google/flan-t5-small), vocabulary aside.
T5_SMALL = dict(d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8, feed_forward_proj="relu",
                tie_word_embeddings=True, vocab_size=32128)
FLAN_T5_SMALL = dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, vocab_size=32128)
SPIECE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hf_t5" / "t5_relu_tied" / "spiece.model"
# A tied random T5 with transformers' initialisation greedily repeats its start token (pad) forever: the input
# embedding dominates the residual stream, a trivial comparison. Output projections 16x larger let the blocks
# decide (6 of 7 rows differ; the smallest top-2 logit gap on the path, 8e-4, is far above float noise). A
# smaller embedding instead (0.1x) made every logit tiny: logits matched PyTorch within 4e-7, yet greedy tokens
# differed, as near-ties would.
WRITE_OPTIONS = {"t5-small": dict(output_scale=16.0), "flan-t5-small": {}}
SPEED_INPUTS = 32  # BBC inputs the speed benches (python -m bench hf, generate) generate from
MAX_INPUT_LENGTH = 128  # the exports' max_input_length
RECIPE_EXAMPLES = 32  # the recipe run's evaluation (test exact match, meaningless for a random model) kept short


def write_t5_checkpoint(directory: Path, spiece_model: Path, *, seed: int = 0, eos_boost: float = 1.0,
                        embedding_scale: float = 1.0, output_scale: float = 1.0, **config: Any) -> Path:
    """``directory`` with ``config.json``, ``model.safetensors`` and ``spiece.model`` of a random T5.

    ``config`` goes to ``transformers.T5Config`` (``tie_word_embeddings=False`` gives an untied ``lm_head``).
    ``eos_boost`` scales the output embedding row of ``eos`` so that greedy generation sometimes stops early.
    ``embedding_scale`` scales the shared embedding: a tied random T5 with ``transformers``' N(0, 1) embedding
    repeats one token forever (the input embedding dominates the residual stream and wins the argmax).
    ``output_scale`` scales every block's output projections (attention ``o``, feed-forward ``wo``), the other
    way to let the blocks, not the input embedding, decide the next token.
    """
    import torch
    import transformers

    tied = config.get("tie_word_embeddings", True)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    t5_config = transformers.T5Config(decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **config)
    model = transformers.T5ForConditionalGeneration(t5_config).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.shared.weight *= embedding_scale
        for name, parameter in model.named_parameters():
            if name.endswith("layer_norm.weight"):
                parameter.copy_(1.0 + 0.1 * torch.randn(parameter.shape, generator=generator))
            elif name.endswith((".o.weight", ".wo.weight")):
                parameter *= output_scale
        if not tied:  # transformers 5 ties at construction; an untied checkpoint gets a head of its own
            model.lm_head.weight = torch.nn.Parameter(torch.randn(model.lm_head.weight.shape, generator=generator))
        head = model.shared.weight if tied else model.lm_head.weight
        head[1] *= eos_boost
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()
             if name not in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
             and not (tied and name == "lm_head.weight")}
    from safetensors.torch import save_file

    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    saved = json.loads(t5_config.to_json_string())
    saved.update(architectures=["T5ForConditionalGeneration"], tie_word_embeddings=tied)
    (directory / "config.json").write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.copyfile(spiece_model, directory / "spiece.model")
    return directory


def hf_t5_tokenizer(directory: Path):
    """The Hugging Face tokenizer a user gets from the directory (built from ``spiece.model``)."""
    import transformers

    return transformers.T5Tokenizer.from_pretrained(str(directory))


def hf_t5_model(directory: Path):
    import transformers

    return transformers.T5ForConditionalGeneration.from_pretrained(str(directory), attn_implementation="eager").eval()


def torch_generate(model, input_ids: np.ndarray, attention_mask: np.ndarray, max_new_tokens: int) -> np.ndarray:
    """``generate(do_sample=False, num_beams=1)``: int32 [batch, max_new_tokens], start token dropped, pad after eos."""
    import torch

    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor(input_ids, dtype=torch.long),
                             attention_mask=torch.tensor(attention_mask, dtype=torch.long),
                             do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, min_new_tokens=0)
    generated = out[:, 1:].numpy().astype(np.int32)
    return np.pad(generated, [(0, 0), (0, max_new_tokens - generated.shape[1])])


def t5_reference(directory: Path, texts: Sequence[str], max_new_tokens: int, model=None) -> dict[str, np.ndarray]:
    """What PyTorch ``transformers`` computes on ``texts`` from the checkpoint in ``directory``.

    ``input_ids`` / ``attention_mask`` (the Hugging Face tokenizer, ``</s>`` appended, padded with 0),
    ``decoder_input_ids`` (the generated tokens shifted right behind the start token 0), ``logits`` of the
    decoder on those [batch, max_new_tokens, vocab], ``generated`` (greedy ``generate``) and ``decoded`` (its
    ``batch_decode(skip_special_tokens=True)``).
    """
    import torch

    tokenizer = hf_t5_tokenizer(directory)
    model = model or hf_t5_model(directory)
    batch = tokenizer(list(texts), padding=True, return_tensors="np")
    input_ids, mask = batch["input_ids"].astype(np.int32), batch["attention_mask"].astype(np.int32)
    generated = torch_generate(model, input_ids, mask, max_new_tokens)
    decoder_input_ids = np.pad(generated[:, :-1], [(0, 0), (1, 0)])
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor(input_ids, dtype=torch.long),
                       attention_mask=torch.tensor(mask, dtype=torch.long),
                       decoder_input_ids=torch.tensor(decoder_input_ids, dtype=torch.long)).logits
    return {
        "texts": np.array(list(texts)), "input_ids": input_ids, "attention_mask": mask,
        "decoder_input_ids": decoder_input_ids.astype(np.int32), "logits": logits.float().numpy(),
        "generated": generated, "decoded": np.array(tokenizer.batch_decode(generated, skip_special_tokens=True)),
    }


def tokenizer_ids(directory: Path, texts: Sequence[str]) -> list[list[int]]:
    """The Hugging Face tokenizer's ids for each text (``</s>`` appended, no padding)."""
    tokenizer = hf_t5_tokenizer(directory)
    return [tokenizer(text)["input_ids"] for text in texts]


def t5_texts() -> list[str]:
    """Inputs: ``summarize:`` + the first 150 characters of BBC test articles (under 100 tokens each, so the
    export's ``max_input_length`` cuts nothing that PyTorch sees)."""
    from zoo.data.bbc_news import load_bbc_news

    return ["summarize: " + str(t)[:150] for t in load_bbc_news().test[0][:SPEED_INPUTS]]


def input_lengths(tokenizer, texts: list[str]) -> list[int]:
    """Each text's tokens as the Hugging Face ``tokenizer`` counts them (``</s>`` included)."""
    return [len(ids) for ids in tokenizer(texts)["input_ids"]]


def check_inputs_fit_export(tokenizer, texts: list[str]) -> None:
    """Assert that no input is longer than the export's ``max_input_length``, which would cut it."""
    longest = max(input_lengths(tokenizer, texts))
    assert longest <= MAX_INPUT_LENGTH, f"inputs of {longest} tokens would be cut by the export"
