"""Does ELECTRA's discriminator read context on BBC News? Its ROC AUC over all tokens, and within each token.

The electra recipe's pretraining (discriminator hidden 128, 2 layers, 2 heads; the generator runs its layers,
then a hidden-32 projection; λ = 1; never the original token; warmup then cosine to 1e-3), on the BBC training
articles in 47-word windows at sequence 64, batch 32, for ``STEPS`` steps, with the generator sampling at each
of ``TEMPERATURES``. Then, on held-out windows (the validation split), the discriminator's

- ``auc``: ROC AUC over all real tokens, what training reports as ``replaced_auc``;
- ``within_token_auc``: ROC AUC of each replaced token against original occurrences of the same token
  (:func:`zoo.models.text.electra.within_token_auc`), the part that needs context: 0.5 for a discriminator that
  only knows which tokens the generator over-samples;
- ``prior_swaps_within_token_auc``: the same question on a fixed task that no generator moves
  (:func:`prior_swap_detection`): at the selected positions, half the originals swapped for a token drawn from
  the corpus' token prior. ``masked_lm``: the generator's masked LM over the shared layers, reading the window
  with those positions masked and scoring how unlikely it finds the token there (what the context those layers
  hold is worth); ``discriminator``: the discriminator reading the swapped window, on the same pairs.

Why both: against samples of a generator that knows what the discriminator knows, drawn at temperature 1, a
replacement is as likely as the text to that knowledge, so ``within_token_auc`` stays near 0.5 even for a
discriminator that reads context. The prior swaps tell the two apart.

    python -m bench electra_context               # about 8 minutes alone on 2 cores (2026-12-05)
    python -m bench.electra_context --steps 4000  # about 30 minutes; electra_context_4000_steps.json
    python -m bench.electra_context --steps 4000 --seed 1   # electra_context_4000_steps_seed_1.json

Each budget and seed keeps its own result file (:func:`result_name`).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

import zoo
from bench.common import BenchRecord
from zoo.cli import OneLineParser
from zoo.data.bbc_news import load_bbc_news
from zoo.models.hf.bert_checkpoint import minilm_directory
from zoo.quiet import known_notices_quieted
from recipes.encoder_classifier import WORDPIECES_PER_WORD
from recipes.electra import new_discriminator, replaced_token_pretrainer
from zoo.models.text.electra import ElectraPretrainer, replaced_token_scores, within_token_auc, write_selected
from zoo.models.text.masked_lm import start_at_target_prior
from zoo.models.text.masked_lm_data import masked_lm_dataset, text_windows
from zoo.models.text.pretraining import curve_chunk, pretrain
from zoo.schedules import cosine_schedule
from zoo.models.text.wordpiece import WordpieceTokenizer

STEPS, SEQUENCE_LENGTH, BATCH_SIZE, HELD_OUT_BATCHES = 1000, 64, 32, 40
TEMPERATURES = (1.0, 2.0)
Scorer = Callable[[dict, np.ndarray, np.ndarray], np.ndarray]


def prior_swap_detection(scorers: Mapping[str, Scorer], prior_log: np.ndarray, dataset: tf.data.Dataset,
                         batches: int, seed: int = 0) -> dict[str, float]:
    """Within-token ROC AUC of each of ``scorers`` on one fixed detection task that no generator moves: at the
    selected positions of ``batches`` of ``dataset``, half the originals are swapped for a different token drawn
    from ``exp(prior_log)``. A scorer maps (features, shown tokens [batch, slots], selected) to a score per slot,
    higher = more likely swapped."""
    rng = np.random.default_rng(seed)
    prior = np.exp(prior_log - prior_log.max())
    prior /= prior.sum()
    tokens, labels, scores = [], [], {name: [] for name in scorers}
    for features, mask_ids, mask_weights in dataset.take(batches):
        originals, selected = mask_ids.numpy(), mask_weights.numpy() > 0
        drawn = rng.choice(prior.size, size=originals.shape, p=prior)
        swapped = (rng.random(originals.shape) < 0.5) & (drawn != originals)
        shown = np.where(swapped, drawn, originals)
        tokens.append(shown[selected])
        labels.append(swapped[selected])
        for name, scorer in scorers.items():
            scores[name].append(scorer(features, shown, selected)[selected])
    tokens, labels = np.concatenate(tokens), np.concatenate(labels)
    return {name: within_token_auc(tokens, labels, np.concatenate(column)) for name, column in scores.items()}


def masked_lm_scorer(masked_lm: Callable) -> Scorer:
    """``-log p(token | context)`` from a masked LM reading the window with the selected positions masked: it
    knows nothing of the token it scores, only the context."""
    def score(features, shown, selected):
        log_probabilities = tf.nn.log_softmax(masked_lm(features, training=False)).numpy()
        return -np.take_along_axis(log_probabilities, shown[..., None], axis=-1)[..., 0]
    return score


def discriminator_scorer(pretrainer: ElectraPretrainer) -> Scorer:
    """The replaced logit of ``pretrainer``'s discriminator reading the window with the shown tokens in place."""
    def score(features, shown, selected):
        positions = features["mask_positions"]
        token_ids = write_selected(features["token_ids"], positions, tf.constant(shown, positions.dtype),
                                   tf.constant(selected))
        logits = pretrainer.replaced_logits({**features, "token_ids": token_ids}, training=False)
        return tf.gather(logits, positions, batch_dims=1).numpy()
    return score


def detection(temperature: float, tokenizer: WordpieceTokenizer, train: list[str], held_out: list[str],
              steps: int = STEPS, seed: int = 0) -> dict:
    """Pretrain as the recipe does for ``steps`` with the generator sampling at ``temperature`` (``seed``: the
    weights and the masking); score the same held-out windows whatever the seed."""
    config = zoo.get_recipe("electra").Config(sequence_length=SEQUENCE_LENGTH, seed=seed)
    keras.utils.set_random_seed(config.seed)
    pretrainer = replaced_token_pretrainer(new_discriminator(tokenizer.vocabulary_size, config), config,
                                           temperature=temperature)
    pretrainer.compile(keras.optimizers.Adam(cosine_schedule(config.pretrain_learning_rate, steps, steps // 10)))
    dataset = masked_lm_dataset(train, tokenizer, BATCH_SIZE, seed=config.seed)
    prior_log = start_at_target_prior(pretrainer.generator, dataset)
    print(f"temperature {temperature}: {steps} pretraining steps, a line per {curve_chunk(steps)}", flush=True)
    seconds = pretrain(pretrainer, dataset, steps, verbose=2)
    held_out_batches = masked_lm_dataset(held_out, tokenizer, BATCH_SIZE, seed=1)
    scores = replaced_token_scores(pretrainer, held_out_batches, HELD_OUT_BATCHES)
    labels, logits = scores["labels"], scores["logits"]
    scorers = {"masked_lm": masked_lm_scorer(pretrainer.generator), "discriminator": discriminator_scorer(pretrainer)}
    history = pretrainer.history.history
    return {"temperature": temperature, "seconds": round(seconds, 1),
            "auc": round(float(roc_auc_score(labels, logits)), 4),
            "within_token_auc": round(within_token_auc(scores["tokens"], labels, logits), 4),
            "prior_swaps_within_token_auc": {name: round(auc, 4) for name, auc in prior_swap_detection(
                scorers, prior_log, held_out_batches, HELD_OUT_BATCHES).items()},
            "replaced_fraction": round(float(labels.mean()), 4),
            "generator_accuracy": round(float(history["generator_accuracy"][-1]), 4),
            "replaced_auc_curve": [round(float(v), 4) for v in history["replaced_auc"]]}


def run(record: BenchRecord, seeds: Sequence[int], steps: int = STEPS) -> None:
    """Each seed at ``steps`` into its own result file: ``record``'s when its name is that seed's
    :func:`result_name`, a sibling's otherwise."""
    for seed in seeds:
        name = result_name(steps, seed)
        target = record if name == record.name else BenchRecord(name, record.path.parent)
        for key, value in measure(steps, seed).items():
            target.add(key, value)


def measure(steps: int = STEPS, seed: int = 0) -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    splits, words = load_bbc_news(), int((SEQUENCE_LENGTH - 2) / WORDPIECES_PER_WORD)
    train, held_out = text_windows(splits.train[0], words), text_windows(splits.validation[0], words)
    return {"steps": steps, "seed": seed, "chunk_steps": curve_chunk(steps), "sequence_length": SEQUENCE_LENGTH,
            "batch_size": BATCH_SIZE, "held_out_tokens_batches": HELD_OUT_BATCHES,
            "runs": [detection(t, tokenizer, train, held_out, steps, seed) for t in TEMPERATURES]}


def result_name(steps: int, seed: int = 0) -> str:
    """``electra_context`` for the default budget and seed, ``electra_context_4000_steps`` for another budget,
    ``electra_context_4000_steps_seed_1`` for another seed: each run keeps its own file."""
    name = "electra_context" if steps == STEPS else f"electra_context_{steps}_steps"
    return name if seed == 0 else f"{name}_seed_{seed}"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench.electra_context", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"pretraining steps per temperature ({STEPS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the masking (0)")
    args = parser.parse_args(argv)
    if args.steps < 10:
        parser.error(f"--steps must be at least 10 (the warmup is a tenth of them), got {args.steps}")
    if args.seed < 0:
        parser.error(f"--seed must be at least 0, got {args.seed}")
    with known_notices_quieted():
        record = BenchRecord(result_name(args.steps, args.seed))
        run(record, [args.seed], args.steps)
        print(record.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
