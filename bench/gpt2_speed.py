"""gpt2_speed: the gpt2 export's cached greedy generation, float32 and bfloat16, against PyTorch transformers' generate
(with and without its KV cache) and CTranslate2 (float32, int8), and parity with PyTorch: goal ≥ 2× PyTorch, ahead
of CTranslate2 int8.

The model: a random-init checkpoint of GPT-2-small's shapes (:data:`GPT2_SMALL`: 12 layers, 12 heads, 768 wide,
1,024 positions, 50,257 token rows; seed 0, ``initializer_range`` :data:`INITIALIZER_RANGE`) written by
``transformers``' ``save_pretrained`` (safetensors), with a byte-level BPE of its own: ``tokenizers``'
``ByteLevelBPETokenizer`` trained on the BBC News train texts (``<|endoftext|>`` its id 0, the checkpoint's eos,
bos and pad). BBC News supports 30,605 tokens, fewer than the model's 50,257 rows, as a padded vocabulary is:
a random model emits ids past them (about 200 of its 512 greedy tokens here), which both sides decode to nothing;
the token ids are compared.

The export: ``python -m zoo.run gpt2 --set init=DIR --set epochs=0 --set max_new_tokens=64 --set
max_input_length=128 --set sequence_length=128 --set data=CSV`` (40 BBC train texts, so that its evaluation is
short), loaded as TF Serving loads it (:class:`zoo.export.session.SessionModel`). Inputs: the first 8 BBC test
texts cut to 20, 40, …, 160 characters (:data:`PROMPT_CHARACTERS`), one left-padded batch of different lengths.

Parity, recorded under ``parity`` (:data:`TOLERANCE` 1e-4):

- logits: the checkpoint as the import builds it (:func:`zoo.models.hf.gpt2_checkpoint.load_gpt2_checkpoint`, the
  backbone the export holds; the export has no logits output) against ``GPT2LMHeadModel`` on the left-padded batch
  (position ids counted from the mask), at every real position: the largest difference over the largest logit;
  the token ids of both tokenizers compared first;
- greedy tokens: the export's ``generate`` signature against ``generate(do_sample=False)``, 64 new tokens, every
  row equal (PyTorch's tokens after the first eos set to 0, the export's layout);
- score: the export's ``score`` signature against the sum of log p(token_i | tokens before it), i ≥ 1, of
  ``GPT2LMHeadModel`` on each text alone (float64 log-softmax): the largest difference relative to PyTorch's.

Speed, recorded under ``greedy`` (:mod:`bench.timing`'s protocol: each engine in a worker process of its own,
TensorFlow alone in one, torch alone in the others, warm-up calls not counted, rounds alternating between the
engines, the median with min and max, libraries, thread settings and the machine's float32 and bfloat16 matmul
GFLOPS beside): batch 8 × 64 new tokens at most, greedy, text in and text out on every side (tokenizer,
generation, detokenizer in the timed call). Engines: ``zoo_export`` (its ``generate`` signature with greedy
options: the cached decoding of :mod:`zoo.models.text.gpt2_decoding`), ``zoo_bfloat16`` (the same export made with
``--set precision=bfloat16``), ``ctranslate2_float32`` and ``ctranslate2_int8`` (the checkpoint converted by
CTranslate2's ``TransformersConverter`` in a process of its own, run by ``ctranslate2.Generator.generate_batch``
on the byte-level BPE's tokens, its OpenMP threads asleep between calls), ``pytorch`` (``generate(do_sample=False)``,
its KV cache) and ``pytorch_no_cache`` (the same with ``use_cache=False``, every step recomputing the whole
prefix). The export cannot be told ``min_new_tokens``, so rows may end early at eos: the goal (``zoo_bfloat16`` ≥
2× ``pytorch`` and ahead of ``ctranslate2_int8``) is judged on generated tokens per second (each row's tokens up to
its eos, eos included); sequences per second are recorded too, every engine's ratio to ``pytorch``, the float32
export's to ``pytorch_no_cache``, each engine's rows equal to PyTorch's and the bfloat16 export's token agreement
with the float32 one.

    python -m bench gpt2_speed      # needs the bench extra (torch); the no-cache engine takes the most time

This module is also the workers' program (``python -m bench.gpt2_speed ENGINE PATH``): its top level imports
neither TensorFlow nor torch, and each function imports what it needs.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

import numpy as np

from bench import generate, timing

if TYPE_CHECKING:
    from bench.common import BenchRecord

REQUIRES = ("torch", "transformers", "tokenizers", "ctranslate2")
GPT2_SMALL = dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257)
# GPT-2's own 0.02 makes a random model that repeats itself: 1 to 9 distinct tokens in a greedy row of 64, and a
# top-2 logit gap of 3e-6 on the path, a near-tie float32 noise may flip. At 0.05: 17 to 36 distinct tokens a row,
# the smallest gap 1.9e-4 (the logits up to 8.4).
INITIALIZER_RANGE = 0.05
END_OF_TEXT = "<|endoftext|>"
BATCH = 8
PROMPT_CHARACTERS = tuple(range(20, 20 * BATCH + 1, 20))  # the first BATCH BBC test texts cut to these lengths
NEW_TOKENS = 64
MAX_INPUT_LENGTH = 128
DATA_ROWS = 40  # BBC train texts the export run trains (0 epochs) and evaluates on
ROUNDS = 5
WARM_UP_CALLS = 1  # besides the parity calls before the rounds (one a no-cache call costs the most)
GOAL = 2.0  # the bfloat16 export's generated tokens per second over PyTorch's, with its cache
TOLERANCE = 1e-4  # parity: relative to PyTorch's largest logit, to each of its log-likelihoods


class Checkpoint(NamedTuple):
    path: Path
    eos_id: int
    learned_tokens: int  # the BPE's own tokens (special token, 256 bytes, merges); the rest of vocab.json is padding


# ------------------------------------------------------------------------------ the workers (one engine each)
def kept_logits(path: str, logits: np.ndarray, token_ids: np.ndarray, mask: np.ndarray) -> list[list[int]]:
    """Save the logits [batch, length, vocabulary] of a left-padded batch's real positions to ``path``, as float32
    [tokens, vocabulary] in row order; return each row's token ids."""
    real = mask == 1
    np.save(path, logits[real].astype(np.float32))
    return [row[keep].tolist() for row, keep in zip(token_ids, real)]


def zoo_export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """The export's ``generate`` and ``score`` signatures, loaded with the TF1 session loader as TF Serving does."""
    from zoo.export.session import SessionModel

    model = SessionModel(version_dir)

    def score(texts: list[str]) -> dict[str, list]:
        out = model.run("score", {"text": np.array(texts, dtype=object)})
        return {"log_likelihood": out["log_likelihood"].tolist(), "num_tokens": out["num_tokens"].tolist()}

    return {"generate": generate.session_generate(model), "score": score}


def keras_import_handlers(checkpoint: str) -> dict[str, Callable[..., Any]]:
    """``logits``: the checkpoint imported as the export's backbone, on texts tokenized in the graph, left-padded."""
    import tensorflow as tf

    from zoo.models.hf.gpt2_checkpoint import load_gpt2_checkpoint
    from zoo.models.text.gpt2_decoding import gpt2_logits, left_padded

    imported = load_gpt2_checkpoint(checkpoint)

    def logits(texts: list[str], path: str) -> list[list[int]]:
        ids = imported.tokenizer.tokenize(tf.constant(texts))
        token_ids, mask = left_padded(ids.to_tensor(), tf.ones_like(ids).to_tensor())
        out = gpt2_logits(imported.backbone, token_ids, mask)
        return kept_logits(path, out.numpy(), token_ids.numpy(), mask.numpy())

    return {"logits": logits}


def pytorch_handlers(checkpoint: str, use_cache: bool = True) -> dict[str, Callable[..., Any]]:
    """``GPT2LMHeadModel`` and ``GPT2TokenizerFast`` (left padding, pad ``<|endoftext|>``) on the checkpoint:
    ``generate`` (with its KV cache or without), the ``logits`` of a left-padded batch and each text's ``score``."""
    import torch
    import transformers

    model = transformers.GPT2LMHeadModel.from_pretrained(checkpoint).eval()
    tokenizer = transformers.GPT2TokenizerFast.from_pretrained(checkpoint, padding_side="left")
    tokenizer.pad_token = END_OF_TEXT

    def logits(texts: list[str], path: str) -> list[list[int]]:
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        positions = (encoded["attention_mask"].cumsum(1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = model(**encoded, position_ids=positions).logits
        return kept_logits(path, out.numpy(), encoded["input_ids"].numpy(), encoded["attention_mask"].numpy())

    def score(texts: list[str]) -> dict[str, list]:
        likelihoods, counts = [], []
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            with torch.inference_mode():
                log_probs = torch.log_softmax(model(ids).logits[0, :-1].double(), dim=-1)
            likelihoods.append(float(log_probs.gather(1, ids[0, 1:, None]).sum()))
            counts.append(ids.shape[1])
        return {"log_likelihood": likelihoods, "num_tokens": counts}

    return {"generate": generate.pytorch_generate(model, tokenizer, use_cache=use_cache), "logits": logits,
            "score": score}


def ctranslate2_handlers(model_dir: str, checkpoint: str) -> dict[str, Callable[..., Any]]:
    """CTranslate2's ``generate_batch`` on a converted checkpoint: each text's byte-level BPE tokens (the
    checkpoint's ``vocab.json`` and ``merges.txt``) as its start tokens, the new tokens back to ids and text."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before the OpenMP runtime starts: no spinning when idle
    import ctranslate2
    from tokenizers import ByteLevelBPETokenizer

    model = ctranslate2.Generator(model_dir, device="cpu")
    tokenizer = ByteLevelBPETokenizer(str(Path(checkpoint) / "vocab.json"), str(Path(checkpoint) / "merges.txt"))
    ids = generate.ctranslate2_vocabulary(model_dir)

    def generate_batch(texts: list[str], max_new_tokens: int, seed: int, **options: Any) -> dict[str, Any]:
        ctranslate2.set_random_seed(seed)
        results = model.generate_batch([tokenizer.encode(text).tokens for text in texts], max_length=max_new_tokens,
                                       include_prompt_in_result=False, end_token=END_OF_TEXT, return_end_token=True,
                                       **generate.ctranslate2_options(options))
        rows = [[ids[token] for token in result.sequences[0]] for result in results]
        return {"token_ids": generate.padded_rows(rows, max_new_tokens),
                "texts": [tokenizer.decode(row) for row in rows]}

    return {"generate": generate_batch}


WORKERS = {"zoo_export": zoo_export_handlers, "keras_import": keras_import_handlers, "pytorch": pytorch_handlers,
           "pytorch_no_cache": functools.partial(pytorch_handlers, use_cache=False), "ctranslate2": ctranslate2_handlers}


def worker(engine: str, path: Path) -> timing.Worker:
    return timing.engine_worker("bench.gpt2_speed", engine, path)


# ------------------------------------------------------------------------------ the checkpoint and the export
def bbc_texts() -> tuple[list[str], list[str]]:
    """The BBC News train and test texts."""
    from zoo.data.bbc_news import load_bbc_news

    splits = load_bbc_news()
    return [str(t) for t in splits.train[0]], [str(t) for t in splits.test[0]]


def prompts() -> list[str]:
    """The first :data:`BATCH` BBC test texts, cut to :data:`PROMPT_CHARACTERS` characters."""
    return [text[:length] for text, length in zip(bbc_texts()[1], PROMPT_CHARACTERS)]


def write_tokenizer(directory: Path, texts: list[str], rows: int) -> int:
    """``vocab.json`` and ``merges.txt`` of a byte-level BPE trained on ``texts`` (at most ``rows`` tokens,
    ``<|endoftext|>`` first); the tokens learned."""
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(texts, vocab_size=rows, special_tokens=[END_OF_TEXT], show_progress=False)
    trainer.save_model(str(directory))
    return len(json.loads((directory / "vocab.json").read_text(encoding="utf-8")))


def write_checkpoint(directory: Path, seed: int = 0, **shape: int) -> Checkpoint:
    """A random-init GPT-2 of ``shape`` (``GPT2Config`` fields; :data:`GPT2_SMALL` by default) saved by
    ``save_pretrained``, with its own BPE files (:func:`write_tokenizer`, ``<|endoftext|>`` its eos, bos and pad)."""
    import torch
    import transformers

    shape = {**GPT2_SMALL, **shape}
    directory.mkdir(parents=True, exist_ok=True)
    learned = write_tokenizer(directory, bbc_texts()[0], shape["vocab_size"])
    eos = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))[END_OF_TEXT]
    torch.manual_seed(seed)
    config = transformers.GPT2Config(**shape, initializer_range=INITIALIZER_RANGE, eos_token_id=eos, bos_token_id=eos,
                                     pad_token_id=eos)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(directory)
    return Checkpoint(directory, eos, learned)


def write_texts_csv(path: Path) -> Path:
    """A CSV (column ``text``) of the first :data:`DATA_ROWS` BBC train texts: the export run's data."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text"])
        writer.writerows([text] for text in bbc_texts()[0][:DATA_ROWS])
    return path


def export_settings(data: Path | str) -> dict[str, Any]:
    """The gpt2 recipe's config for the export, beyond ``init``."""
    return {"epochs": 0, "max_new_tokens": NEW_TOKENS, "max_input_length": MAX_INPUT_LENGTH,
            "sequence_length": MAX_INPUT_LENGTH, "data": data}


# ------------------------------------------------------------------------------ parity
def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference over the largest magnitude of ``theirs``.

    >>> relative_difference(np.array([1.0, -3.5]), np.array([1.0, -4.0]))
    0.125
    """
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def logits_parity(keras_import: timing.Worker, pytorch: timing.Worker, texts: list[str], folder: Path) -> dict:
    """The imported checkpoint's logits against ``GPT2LMHeadModel``'s on the left-padded batch (token ids first)."""
    ids = {name: engine.call("logits", texts=texts, path=str(folder / f"{name}_logits.npy")).value
           for name, engine in (("keras_import", keras_import), ("pytorch", pytorch))}
    figures = {"token_ids_equal": ids["keras_import"] == ids["pytorch"],
               "prompt_tokens": [len(row) for row in ids["pytorch"]]}
    if not figures["token_ids_equal"]:
        return {**figures, "passed": False}
    ours, theirs = (np.load(folder / f"{name}_logits.npy") for name in ids)
    relative = relative_difference(ours, theirs)
    return {**figures, "max_abs_logit_difference": float(np.abs(ours - theirs).max()),
            "max_abs_logit": float(np.abs(theirs).max()), "max_relative_logit_difference": relative,
            "passed": relative <= TOLERANCE}


def greedy_parity(zoo_export: timing.Worker, pytorch: timing.Worker, texts: list[str]) -> dict:
    """The export's greedy tokens against ``generate(do_sample=False)``'s: rows equal, where each row first
    differs, and how many distinct tokens PyTorch's rows hold (a random model may repeat one token)."""
    request = {"texts": texts, "max_new_tokens": NEW_TOKENS, **generate.GREEDY}
    ours, theirs = (np.array(engine.call("generate", **request).value["token_ids"]) for engine in (zoo_export, pytorch))
    equal = (ours == theirs).all(axis=1)
    return {"rows_equal": int(equal.sum()), "rows": len(theirs), "passed": bool(equal.all()),
            "first_difference": [None if same else int(np.argmax(a != b)) for a, b, same in zip(ours, theirs, equal)],
            "distinct_tokens_pytorch": [len(set(row.tolist())) for row in theirs]}


def score_parity(zoo_export: timing.Worker, pytorch: timing.Worker, texts: list[str]) -> dict:
    """The export's ``score`` against PyTorch's log-likelihood of each text alone, relative to each of PyTorch's."""
    ours, theirs = (engine.call("score", texts=texts).value for engine in (zoo_export, pytorch))
    ours_ll, theirs_ll = np.array(ours["log_likelihood"]), np.array(theirs["log_likelihood"])
    relative = float((np.abs(ours_ll - theirs_ll) / np.abs(theirs_ll)).max())
    return {"num_tokens_equal": ours["num_tokens"] == theirs["num_tokens"], "num_tokens": theirs["num_tokens"],
            "log_likelihood": {"zoo_export": ours["log_likelihood"], "pytorch": theirs["log_likelihood"]},
            "max_relative_difference": relative,
            "passed": ours["num_tokens"] == theirs["num_tokens"] and relative <= TOLERANCE}


def parity_line(parity: dict[str, Any]) -> str:
    """Parity in a line: the relative differences, the rows equal, each part ok or FAILED."""
    logits, greedy, score = parity["logits"], parity["greedy"], parity["score"]
    difference = (f"{logits['max_relative_logit_difference']:.3g}" if logits["token_ids_equal"]
                  else "not compared (token ids differ)")
    return (f"parity (tolerance {TOLERANCE:g}): logits relative {difference}"
            f" ({'ok' if logits['passed'] else 'FAILED'}); greedy rows equal {greedy['rows_equal']}/"
            f"{greedy['rows']}; score relative {score['max_relative_difference']:.3g} "
            f"({'ok' if score['passed'] else 'FAILED'})")


# ------------------------------------------------------------------------------ speed
def greedy_speed(timed: dict[str, timing.Timed], eos: int) -> dict[str, Any]:
    """Every engine's figures (:func:`bench.generate.speed_figures`), their ratios to PyTorch (cached), the float32
    export's to PyTorch without its cache, the goal, the rows of each engine's last round equal to PyTorch's, and
    the share of the bfloat16 export's tokens equal to the float32 one's."""
    figures = generate.speed_figures(timed, eos)
    ratios = {name: generate.speed_ratio(figures, name, generate.BASELINE) for name in timed
              if name != generate.BASELINE}
    tokens = {name: np.array(t.last["token_ids"]) for name, t in timed.items()}
    low = ratios[generate.LOW_PRECISION]["generated_tokens_per_second"]
    return {
        "options": {"max_new_tokens": NEW_TOKENS, **generate.GREEDY}, **figures, "ratio_vs_pytorch": ratios,
        "ratio_zoo_export_vs_pytorch_no_cache": generate.speed_ratio(figures, "zoo_export", "pytorch_no_cache"),
        "rows_equal_pytorch": {name: int((ids == tokens["pytorch"]).all(axis=1).sum()) for name, ids in tokens.items()
                               if name != generate.BASELINE},
        "rows": len(tokens[generate.BASELINE]),
        "bfloat16_token_agreement": round(float(np.mean(tokens[generate.LOW_PRECISION] == tokens["zoo_export"])), 4),
        "goal": f"{generate.LOW_PRECISION} generated tokens per second >= {GOAL:g} x pytorch's (with its cache) and "
                f"above {generate.AHEAD_OF}'s",
        "goal_met": low >= GOAL and low > ratios[generate.AHEAD_OF]["generated_tokens_per_second"],
    }


# ------------------------------------------------------------------------------ the parent
def measured(record: BenchRecord, checkpoint: Checkpoint, scratch: Path, texts: list[str], rounds: int) -> None:
    """The exports made while the PyTorch workers load; parity, then the timed rounds, each recorded as it lands."""
    from bench.common import export_with_cli

    timing.prepare("bench.gpt2_speed", "ctranslate2", str(checkpoint.path), str(scratch))
    with contextlib.ExitStack() as workers_open:
        pytorch, no_cache = (workers_open.enter_context(worker(name, checkpoint.path))
                             for name in ("pytorch", "pytorch_no_cache"))
        settings = {"init": checkpoint.path, **export_settings(write_texts_csv(scratch / "texts.csv"))}
        versions = {name: export_with_cli("gpt2", {**settings, **extra}, scratch / name)
                    for name, extra in generate.EXPORTS.items()}
        with worker("keras_import", checkpoint.path) as keras_import:
            logits = logits_parity(keras_import, pytorch, texts, scratch)
        exports = {name: workers_open.enter_context(timing.Worker(
            timing.engine_command("bench.gpt2_speed", "zoo_export", version), name)) for name, version in versions.items()}
        record.add("parity", {"tolerance": TOLERANCE, "logits": logits,
                              "greedy": greedy_parity(exports["zoo_export"], pytorch, texts),
                              "score": score_parity(exports["zoo_export"], pytorch, texts)})
        print(parity_line(record.payload["parity"]), flush=True)
        converted = {name: workers_open.enter_context(timing.Worker(timing.engine_command(
            "bench.gpt2_speed", "ctranslate2", scratch / name, str(checkpoint.path)), name))
            for name in generate.CTRANSLATE2}
        workers = {**exports, **converted, "pytorch": pytorch, "pytorch_no_cache": no_cache}
        timed = timing.alternating_rounds(workers, "generate", {"texts": texts, "max_new_tokens": NEW_TOKENS,
                                                                **generate.GREEDY}, rounds, WARM_UP_CALLS)
        record.add("greedy", {**greedy_speed(timed, checkpoint.eos_id), "load_average": timing.load_average()})
        print(generate.summary_line("greedy", record.payload["greedy"]), flush=True)
        record.add("processes", timing.processes(workers))


def run(record: BenchRecord, seeds: Sequence[int], shape: dict[str, int] | None = None, rounds: int = ROUNDS) -> None:
    """Parity and speed on a random-init GPT-2 of ``shape`` (GPT-2-small's by default; seed 0, ``seeds`` is not
    used). ``shape`` (smaller fields) and ``rounds`` are for tests."""
    shape = {**GPT2_SMALL, **(shape or {})}
    texts = prompts()
    record.describe("setup", {
        "checkpoint": {**shape, "initializer_range": INITIALIZER_RANGE, "seed": 0},
        "export_settings": export_settings(f"{DATA_ROWS} BBC News train texts (CSV)"), "inputs": texts,
        "max_new_tokens": NEW_TOKENS, "rounds": rounds, "warm_up_calls": WARM_UP_CALLS})
    record.add("matmul", timing.matmul_speeds())  # before any worker starts: the machine alone
    with tempfile.TemporaryDirectory(prefix="zoo-bench-gpt2-speed-") as scratch:  # full shape: about 1 GB
        checkpoint = write_checkpoint(Path(scratch) / "gpt2", **shape)
        record.describe("tokenizer", {"learned_tokens": checkpoint.learned_tokens, "padded_to": shape["vocab_size"],
                                      "eos_id": checkpoint.eos_id})
        measured(record, checkpoint, Path(scratch), texts, rounds)


def convert(checkpoint: str, folder: str) -> None:
    """The checkpoint in CTranslate2's formats (:func:`bench.generate.convert`), from a copy whose ``vocab.json``
    is padded to the model's rows with placeholder tokens: CTranslate2 wants a token for every row, and the BPE
    learned fewer (its merges never produce the placeholders, so the tokens of a text do not change)."""
    import shutil

    padded = Path(folder) / "padded_checkpoint"
    shutil.copytree(checkpoint, padded)
    vocabulary = json.loads((padded / "vocab.json").read_text(encoding="utf-8"))
    rows = json.loads((padded / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    vocabulary.update({f"<unused_{index}>": index for index in range(len(vocabulary), rows)})
    (padded / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    generate.convert(str(padded), folder)


def main(argv: list[str] | None = None) -> int:
    """A worker (``python -m bench.gpt2_speed ENGINE PATH [ARGUMENT ...]``), or the conversion of a checkpoint for
    an engine (``python -m bench.gpt2_speed prepare CHECKPOINT FOLDER``): :func:`bench.timing.engine_main`."""
    return timing.engine_main(WORKERS, argv if argv is not None else sys.argv[1:], convert)


if __name__ == "__main__":
    sys.exit(main())
