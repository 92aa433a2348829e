"""Pretraining speed: ELECTRA steps/s at the electra recipe's shapes, without and with XLA, measured in one run.

Shapes are the recipe's defaults (the uncased BERT vocabulary of 30,522 WordPieces, hidden 128, 2 layers,
2 heads, sequence 128, batch 32, generator hidden 32). Batches come from the cycle corpus (every word is one
BERT WordPiece), so the tokenizer's cost is the same for both and overlaps the step in ``tf.data``. Each
variant runs ``WARMUP_STEPS`` (tracing, XLA compilation) and then ``TIMED_STEPS`` that are timed.

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


def steps_per_second(jit_compile: bool, tokenizer: WordpieceTokenizer) -> float:
    keras.utils.set_random_seed(0)
    discriminator = keras_hub.models.ElectraBackbone(
        tokenizer.vocabulary_size, LAYERS, HEADS, HIDDEN, HIDDEN, 4 * HIDDEN, max_sequence_length=SEQUENCE_LENGTH)
    pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=GENERATOR_HIDDEN, generator_layers=LAYERS)
    pretrainer.compile(keras.optimizers.Adam(warmup_cosine(5e-4, WARMUP_STEPS + TIMED_STEPS, WARMUP_STEPS)),
                       jit_compile=jit_compile)
    texts = cycle_corpus(documents=512, length=SEQUENCE_LENGTH - 2)
    dataset = masked_lm_dataset(texts, tokenizer, BATCH_SIZE, seed=0)
    pretrain(pretrainer, dataset, WARMUP_STEPS, verbose=0)
    return TIMED_STEPS / pretrain(pretrainer, dataset, TIMED_STEPS, verbose=0)


def run() -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    eager_graph = steps_per_second(False, tokenizer)
    xla = steps_per_second(True, tokenizer)
    return {"shapes": {"vocabulary": tokenizer.vocabulary_size, "sequence_length": SEQUENCE_LENGTH,
                       "batch_size": BATCH_SIZE, "hidden_dim": HIDDEN, "num_layers": LAYERS, "num_heads": HEADS,
                       "generator_hidden_dim": GENERATOR_HIDDEN},
            "timed_steps": TIMED_STEPS, "steps_per_second_tf_function": round(eager_graph, 3),
            "steps_per_second_xla": round(xla, 3), "xla_speedup": round(xla / eager_graph, 2)}


if __name__ == "__main__":
    print(write_result("pretraining_speed", run()))
