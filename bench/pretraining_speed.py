"""pretraining_speed: ELECTRA steps/s at the electra recipe's shapes and settings, three ways, each in a process of
its own: a ``tf.function`` step (what the recipe runs), the same step compiled with XLA, and under Keras'
``mixed_bfloat16`` policy (the CPU's bfloat16 matrix units do a lone 608 × 128 × 30,522 product in half the time).

Shapes and settings are the recipe's defaults (the uncased BERT vocabulary of 30,522 WordPieces, hidden 128,
2 layers, 2 heads, sequence 128, batch 32; the generator runs the discriminator's layers, then a hidden-32
projection; λ = 1; never the original token). Batches come from the cycle corpus (every word is one BERT
WordPiece), so the tokenizer's cost is the same for all and overlaps the step in ``tf.data``.

Protocol (:mod:`bench.timing`): each variant builds its pretrainer (weights of seed 0) in a worker process of its
own; one call of :data:`STEPS_PER_CALL` steps each is the warm-up (tracing, XLA compilation), not counted; then
:data:`ROUNDS` rounds alternating between the variants, each one call of :data:`STEPS_PER_CALL` steps; steps per
second from each variant's median call, with min and max; the machine's matmul GFLOPS and each worker's libraries
and threads recorded beside.

    python -m bench pretraining_speed

This module is also the workers' program (``python -m bench.pretraining_speed pretrainer VARIANT``): its top level
does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from bench import timing

if TYPE_CHECKING:
    from bench.common import BenchRecord

BATCH_SIZE, STEPS_PER_CALL, ROUNDS = 32, 10, 4
VARIANTS = {"tf_function": {}, "xla": {"jit_compile": True}, "mixed_bfloat16": {"policy": "mixed_bfloat16"}}
BASELINE = "tf_function"
SHAPES = ("sequence_length", "hidden_dim", "num_layers", "num_heads", "generator_hidden_dim")


def recipe_config():
    """The electra recipe's default config, the shapes and settings timed here, at the sequence length it takes on
    BBC News (its longest, :meth:`longest_sequence`: the articles are longer)."""
    import dataclasses

    import zoo

    recipe = zoo.get_recipe("electra")(zoo.get_recipe("electra").Config())
    length = recipe.config.sequence_length or recipe.longest_sequence()
    return dataclasses.replace(recipe.config, sequence_length=length)


def pretrainer_handlers(variant: str) -> dict[str, Callable[..., Any]]:
    """The worker of one variant (:data:`VARIANTS`): ``steps(count)`` fits the pretrainer ``count`` more steps."""
    import keras

    from recipes.electra import new_discriminator, replaced_token_pretrainer
    from zoo.models.hf.bert_checkpoint import minilm_directory
    from zoo.models.text.cycle_corpus import cycle_corpus
    from zoo.models.text.masked_lm_data import masked_lm_dataset
    from zoo.models.text.pretraining import pretrain
    from zoo.models.text.wordpiece import WordpieceTokenizer
    from zoo.schedules import cosine_schedule

    config, options = recipe_config(), VARIANTS[variant]
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=config.sequence_length)
    keras.mixed_precision.set_global_policy(options.get("policy", "float32"))
    try:
        keras.utils.set_random_seed(0)
        pretrainer = replaced_token_pretrainer(new_discriminator(tokenizer.vocabulary_size, config), config)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    total = (ROUNDS + 1) * STEPS_PER_CALL
    pretrainer.compile(keras.optimizers.Adam(cosine_schedule(1e-3, total, STEPS_PER_CALL)),
                       jit_compile=options.get("jit_compile", False))
    texts = cycle_corpus(documents=512, length=config.sequence_length - 2)
    dataset = masked_lm_dataset(texts, tokenizer, BATCH_SIZE, seed=0)
    return {"steps": lambda count: pretrain(pretrainer, dataset, count, verbose=0),
            "vocabulary": lambda: tokenizer.vocabulary_size}


WORKERS = {"pretrainer": pretrainer_handlers}


def run(record: BenchRecord, seeds: Sequence[int], steps_per_call: int = STEPS_PER_CALL, rounds: int = ROUNDS) -> None:
    """Steps/s three ways (the weights of seed 0: a speed, so ``seeds`` is not used); ``steps_per_call`` and
    ``rounds`` are for tests."""
    config = recipe_config()
    record.describe("setup", {"batch_size": BATCH_SIZE, **{key: getattr(config, key) for key in SHAPES},
                              "steps_per_call": steps_per_call, "rounds": rounds, "warm_up_calls": 1})
    record.add("matmul", timing.matmul_speeds())  # before any worker starts: the machine alone
    with contextlib.ExitStack() as stack:
        workers = {name: stack.enter_context(timing.engine_worker("bench.pretraining_speed", "pretrainer", name))
                   for name in VARIANTS}
        timed = timing.alternating_rounds(workers, "steps", {"count": steps_per_call}, rounds)
        record.describe("vocabulary", workers[BASELINE].call("vocabulary").value)
        seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
        record.add("seconds_per_call", seconds)
        rates = {name: steps_per_call / figures["median"] for name, figures in seconds.items()}
        record.add("steps_per_second", {name: round(rate, 3) for name, rate in rates.items()})
        record.add("speedup_vs_tf_function", {name: round(rate / rates[BASELINE], 2) for name, rate in rates.items()})
        record.add("load_average", timing.load_average())
        record.add("processes", timing.processes(workers))
    print("steps/s: " + ", ".join(f"{name} {rate:.3f}" for name, rate in rates.items()), flush=True)


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.pretraining_speed pretrainer VARIANT`` (:func:`bench.timing.engine_main`)."""
    return timing.engine_main(WORKERS, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
