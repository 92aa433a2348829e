"""Pretraining speed: ELECTRA steps/s at the electra recipe's shapes and settings, three ways in one run: a
``tf.function`` step (what the recipe runs), the same step compiled with XLA, and under Keras' ``mixed_bfloat16``
policy (the CPU's bfloat16 matrix units do a lone 608 × 128 × 30,522 product in half the time).

Shapes and settings are the recipe's defaults (the uncased BERT vocabulary of 30,522 WordPieces, hidden 128,
2 layers, 2 heads, sequence 128, batch 32; the generator runs the discriminator's layers, then a hidden-32
projection; λ = 1; never the original token). Batches come from the cycle corpus (every word is one BERT
WordPiece), so the tokenizer's cost is the same for all and overlaps the step in ``tf.data``. Each variant runs
``WARMUP_STEPS`` (tracing, XLA compilation) and then ``TIMED_STEPS`` that are timed.

    python -m bench.pretraining_speed
"""

from __future__ import annotations

import keras
import keras_hub

from bench.common import write_result
from zoo.hf.bert_checkpoint import minilm_directory
from zoo.text.cycle_corpus import cycle_corpus
from zoo.text.pretraining import ElectraPretrainer, masked_lm_dataset, pretrain, warmup_cosine
from zoo.text.wordpiece import WordpieceTokenizer

SEQUENCE_LENGTH, BATCH_SIZE, HIDDEN, LAYERS, HEADS, GENERATOR_HIDDEN = 128, 32, 128, 2, 2, 32
WARMUP_STEPS, TIMED_STEPS = 10, 40


def steps_per_second(tokenizer: WordpieceTokenizer, jit_compile: bool = False, policy: str = "float32") -> float:
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        discriminator = keras_hub.models.ElectraBackbone(
            tokenizer.vocabulary_size, LAYERS, HEADS, HIDDEN, HIDDEN, 4 * HIDDEN, max_sequence_length=SEQUENCE_LENGTH)
        pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=GENERATOR_HIDDEN, generator_layers=0,
                                       shared_layers=LAYERS, discriminator_weight=1.0, disallow_correct=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    pretrainer.compile(keras.optimizers.Adam(warmup_cosine(1e-3, WARMUP_STEPS + TIMED_STEPS, WARMUP_STEPS)),
                       jit_compile=jit_compile)
    texts = cycle_corpus(documents=512, length=SEQUENCE_LENGTH - 2)
    dataset = masked_lm_dataset(texts, tokenizer, BATCH_SIZE, seed=0)
    pretrain(pretrainer, dataset, WARMUP_STEPS, verbose=0)
    return TIMED_STEPS / pretrain(pretrainer, dataset, TIMED_STEPS, verbose=0)


def run() -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    rates = {"tf_function": steps_per_second(tokenizer), "xla": steps_per_second(tokenizer, jit_compile=True),
             "mixed_bfloat16": steps_per_second(tokenizer, policy="mixed_bfloat16")}
    return {"shapes": {"vocabulary": tokenizer.vocabulary_size, "sequence_length": SEQUENCE_LENGTH,
                       "batch_size": BATCH_SIZE, "hidden_dim": HIDDEN, "num_layers": LAYERS, "num_heads": HEADS,
                       "generator_hidden_dim": GENERATOR_HIDDEN},
            "timed_steps": TIMED_STEPS, "steps_per_second": {k: round(v, 3) for k, v in rates.items()},
            "speedup_vs_tf_function": {k: round(v / rates["tf_function"], 2) for k, v in rates.items()}}


if __name__ == "__main__":
    print(write_result("pretraining_speed", run()))
