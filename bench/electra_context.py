"""Does ELECTRA's discriminator read context on BBC News? Its ROC AUC over all tokens, and within each token.

The electra recipe's pretraining (discriminator hidden 128, 2 layers, 2 heads; the generator runs its layers,
then a hidden-32 projection; λ = 1; never the original token; warmup then cosine to 1e-3), on the BBC training
articles in 47-word windows at sequence 64, batch 32, for ``STEPS`` steps, with the generator sampling at each
of ``TEMPERATURES``. Then, on held-out windows (the validation split), the discriminator's

- ``auc``: ROC AUC over all real tokens, what training reports as ``replaced_auc``;
- ``within_token_auc``: ROC AUC of each replaced token against original occurrences of the same token
  (:func:`zoo.text.pretraining.within_token_auc`), the part that needs context: 0.5 for a discriminator that
  only knows which tokens the generator over-samples;
- ``masked_lm_within_token_auc``: what the context the shared layers hold is worth for the same task. The
  generator's masked LM reads each window with the selected positions masked; half of those positions get a
  token drawn from the corpus' token prior in place of the original, and each is scored by how unlikely the
  masked LM finds the token there (:func:`masked_lm_detection`).

    python -m bench.electra_context      # about 9 minutes alone on 2 cores (2026-12-05)
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

import zoo
from bench.common import write_result
from zoo.data.bbc_news import load_bbc_news
from zoo.hf.bert_checkpoint import minilm_directory
from zoo.quiet import known_notices_quieted
from zoo.text.encoder_classifier import WORDPIECES_PER_WORD
from recipes.electra import replaced_token_pretrainer
from zoo.text.pretraining import (curve_chunk, masked_lm_dataset, pretrain, replaced_token_scores,
                                   start_at_target_prior, text_windows, warmup_cosine, within_token_auc)
from zoo.text.wordpiece import WordpieceTokenizer

STEPS, SEQUENCE_LENGTH, BATCH_SIZE, HELD_OUT_BATCHES = 1000, 64, 32, 40
TEMPERATURES = (1.0, 2.0)


def masked_lm_detection(masked_lm: keras.Model, prior_log: np.ndarray, dataset: tf.data.Dataset, batches: int,
                        seed: int = 0) -> float:
    """Within-token ROC AUC of ``-log p(token | context)`` from ``masked_lm`` at the selected positions of
    ``batches`` of ``dataset``, where half the originals are swapped for a different token drawn from
    ``exp(prior_log)`` (the detection task, with the masked LM knowing nothing of the token it scores)."""
    rng = np.random.default_rng(seed)
    prior = np.exp(prior_log - prior_log.max())
    prior /= prior.sum()
    tokens, labels, scores = [], [], []
    for features, mask_ids, mask_weights in dataset.take(batches):
        log_probabilities = tf.nn.log_softmax(masked_lm(features, training=False)).numpy()
        originals, selected = mask_ids.numpy(), mask_weights.numpy() > 0
        drawn = rng.choice(prior.size, size=originals.shape, p=prior)
        swapped = (rng.random(originals.shape) < 0.5) & (drawn != originals)
        shown = np.where(swapped, drawn, originals)
        tokens.append(shown[selected])
        labels.append(swapped[selected])
        scores.append(-np.take_along_axis(log_probabilities, shown[..., None], axis=-1)[..., 0][selected])
    return within_token_auc(*(np.concatenate(column) for column in (tokens, labels, scores)))


def detection(temperature: float, tokenizer: WordpieceTokenizer, train: list[str], held_out: list[str]) -> dict:
    """Pretrain as the recipe does with the generator sampling at ``temperature``; score held-out windows."""
    config = zoo.get_recipe("electra").Config(sequence_length=SEQUENCE_LENGTH)
    keras.utils.set_random_seed(config.seed)
    discriminator = keras_hub.models.ElectraBackbone(
        tokenizer.vocabulary_size, config.num_layers, config.num_heads, config.hidden_dim, config.hidden_dim,
        4 * config.hidden_dim, max_sequence_length=SEQUENCE_LENGTH)
    pretrainer = replaced_token_pretrainer(discriminator, config, temperature=temperature)
    pretrainer.compile(keras.optimizers.Adam(warmup_cosine(config.pretrain_learning_rate, STEPS, STEPS // 10)))
    dataset = masked_lm_dataset(train, tokenizer, BATCH_SIZE, seed=config.seed)
    prior_log = start_at_target_prior(pretrainer.generator, dataset)
    print(f"temperature {temperature}: {STEPS} pretraining steps, a line per {curve_chunk(STEPS)}", flush=True)
    seconds = pretrain(pretrainer, dataset, STEPS, verbose=2)
    held_out_batches = masked_lm_dataset(held_out, tokenizer, BATCH_SIZE, seed=1)
    scores = replaced_token_scores(pretrainer, held_out_batches, HELD_OUT_BATCHES)
    labels, logits = scores["labels"], scores["logits"]
    history = pretrainer.history.history
    return {"temperature": temperature, "seconds": round(seconds, 1),
            "auc": round(float(roc_auc_score(labels, logits)), 4),
            "within_token_auc": round(within_token_auc(scores["tokens"], labels, logits), 4),
            "masked_lm_within_token_auc": round(
                masked_lm_detection(pretrainer.generator, prior_log, held_out_batches, HELD_OUT_BATCHES), 4),
            "replaced_fraction": round(float(labels.mean()), 4),
            "generator_accuracy": round(float(history["generator_accuracy"][-1]), 4),
            "replaced_auc_curve": [round(float(v), 4) for v in history["replaced_auc"]]}


def run() -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    splits, words = load_bbc_news(), int((SEQUENCE_LENGTH - 2) / WORDPIECES_PER_WORD)
    train, held_out = text_windows(splits.train[0], words), text_windows(splits.validation[0], words)
    return {"steps": STEPS, "chunk_steps": curve_chunk(STEPS), "sequence_length": SEQUENCE_LENGTH,
            "batch_size": BATCH_SIZE, "held_out_tokens_batches": HELD_OUT_BATCHES,
            "runs": [detection(t, tokenizer, train, held_out) for t in TEMPERATURES]}


if __name__ == "__main__":
    with known_notices_quieted():
        print(write_result("electra_context", run()))
