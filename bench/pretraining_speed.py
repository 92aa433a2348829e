"""Pretraining speed: ELECTRA steps/s at the electra recipe's shapes and settings, three ways in one run: a
``tf.function`` step (what the recipe runs), the same step compiled with XLA, and under Keras' ``mixed_bfloat16``
policy (the CPU's bfloat16 matrix units do a lone 608 × 128 × 30,522 product in half the time).

Shapes and settings are the recipe's defaults (the uncased BERT vocabulary of 30,522 WordPieces, hidden 128,
2 layers, 2 heads, sequence 128, batch 32; the generator runs the discriminator's layers, then a hidden-32
projection; λ = 1; never the original token). Batches come from the cycle corpus (every word is one BERT
WordPiece), so the tokenizer's cost is the same for all and overlaps the step in ``tf.data``. Each variant runs
``WARMUP_STEPS`` (tracing, XLA compilation) and then ``TIMED_STEPS`` that are timed.

    python -m bench pretraining_speed
"""

from __future__ import annotations

from typing import Sequence

import keras

import zoo
from bench.common import BenchRecord
from recipes.electra import new_discriminator, replaced_token_pretrainer
from zoo.models.hf.bert_checkpoint import minilm_directory
from zoo.models.text.cycle_corpus import cycle_corpus
from zoo.schedules import cosine_schedule
from zoo.models.text.masked_lm_data import masked_lm_dataset
from zoo.models.text.pretraining import pretrain
from zoo.models.text.wordpiece import WordpieceTokenizer

CONFIG = zoo.get_recipe("electra").Config()  # the recipe's defaults: the shapes and settings timed here
BATCH_SIZE, WARMUP_STEPS, TIMED_STEPS = 32, 10, 40


def steps_per_second(tokenizer: WordpieceTokenizer, jit_compile: bool = False, policy: str = "float32") -> float:
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        pretrainer = replaced_token_pretrainer(new_discriminator(tokenizer.vocabulary_size, CONFIG), CONFIG)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    pretrainer.compile(keras.optimizers.Adam(cosine_schedule(1e-3, WARMUP_STEPS + TIMED_STEPS, WARMUP_STEPS)),
                       jit_compile=jit_compile)
    texts = cycle_corpus(documents=512, length=CONFIG.sequence_length - 2)
    dataset = masked_lm_dataset(texts, tokenizer, BATCH_SIZE, seed=0)
    pretrain(pretrainer, dataset, WARMUP_STEPS, verbose=0)
    return TIMED_STEPS / pretrain(pretrainer, dataset, TIMED_STEPS, verbose=0)


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """Steps/s three ways (the weights of seed 0: a speed, so ``seeds`` is not used)."""
    for key, value in measure().items():
        record.add(key, value)


def measure() -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=CONFIG.sequence_length)
    rates = {"tf_function": steps_per_second(tokenizer), "xla": steps_per_second(tokenizer, jit_compile=True),
             "mixed_bfloat16": steps_per_second(tokenizer, policy="mixed_bfloat16")}
    shapes = ("sequence_length", "hidden_dim", "num_layers", "num_heads", "generator_hidden_dim")
    return {"shapes": {"vocabulary": tokenizer.vocabulary_size, "batch_size": BATCH_SIZE,
                       **{key: getattr(CONFIG, key) for key in shapes}},
            "timed_steps": TIMED_STEPS, "steps_per_second": {k: round(v, 3) for k, v in rates.items()},
            "speedup_vs_tf_function": {k: round(v / rates["tf_function"], 2) for k, v in rates.items()}}

