"""Pretraining learns: on a corpus where context decides every token (zoo.models.text.cycle_corpus), masked LM
predicts masked words, and ELECTRA's discriminator detects replaced ones, within fixed step budgets.
Tiny models and vocabularies keep each test well under a minute on two busy cores."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from zoo.models.text.cycle_corpus import cycle_corpus, cycle_vocabulary
from zoo.models.text.electra import ElectraPretrainer, replaced_token_scores, within_token_auc
from zoo.models.text.masked_lm import MaskedLM, start_at_target_prior
from zoo.models.text.masked_lm_data import masked_lm_dataset, text_windows
from zoo.models.text.pretraining import pretrain
from zoo.schedules import cosine_schedule
from zoo.models.text.wordpiece import WordpieceTokenizer

WORDS_PER_DOCUMENT = 30
CHANCE = 1 / 18
# tokens the corpus never uses, as most of BERT's 30,522 are unused by one corpus: a masked LM whose softmax
# starts uniform over them stays at chance (0.086 after these 300 steps without start_at_target_prior)
UNUSED = [f"unused{i}" for i in range(3000)]


def tokenizer(vocabulary=None):
    return WordpieceTokenizer(vocabulary or cycle_vocabulary(), sequence_length=WORDS_PER_DOCUMENT + 2)


def batches(seed, batch_size=32, vocabulary=None):
    return masked_lm_dataset(cycle_corpus(documents=1000, length=WORDS_PER_DOCUMENT, seed=seed),
                             tokenizer(vocabulary), batch_size=batch_size, seed=seed)


def masked_accuracy(model, dataset, batches_to_read=4):
    correct = total = 0.0
    for features, mask_ids, mask_weights in dataset.take(batches_to_read):
        predicted = tf.argmax(model(features, training=False), axis=-1, output_type=tf.int32)
        correct += float(tf.reduce_sum(tf.cast(predicted == mask_ids, tf.float32) * mask_weights))
        total += float(tf.reduce_sum(mask_weights))
    return correct / total


@pytest.mark.slow
def test_masked_lm_predicts_masked_words_from_context():
    keras.utils.set_random_seed(0)
    vocabulary = [*cycle_vocabulary(), *UNUSED]
    backbone = keras_hub.models.BertBackbone(len(vocabulary), num_layers=2, num_heads=2, hidden_dim=128,
                                             intermediate_dim=512, max_sequence_length=WORDS_PER_DOCUMENT + 2)
    model = MaskedLM.tied(backbone)
    start_at_target_prior(model, batches(seed=0, vocabulary=vocabulary))
    assert masked_accuracy(model, batches(seed=1, vocabulary=vocabulary)) < 3 * CHANCE
    steps = 300
    model.compile(keras.optimizers.Adam(cosine_schedule(1e-3, steps, warmup_steps=30)))
    pretrain(model, batches(seed=0, vocabulary=vocabulary), steps, verbose=0)
    assert masked_accuracy(model, batches(seed=1, vocabulary=vocabulary)) >= 0.95


def replaced_token_detection(pretrainer, dataset, batches_to_read=4):
    """(ROC AUC, within-token ROC AUC, accuracy, accuracy of always answering 'original') over real tokens."""
    scores = replaced_token_scores(pretrainer, dataset, batches_to_read)
    labels, logits = scores["labels"], scores["logits"]
    return (roc_auc_score(labels, logits), within_token_auc(scores["tokens"], labels, logits),
            float(np.mean((logits > 0) == labels)), float(1 - labels.mean()))


@pytest.mark.slow
def test_electra_discriminator_detects_replaced_words_from_context():
    keras.utils.set_random_seed(0)
    discriminator = keras_hub.models.ElectraBackbone(
        len(cycle_vocabulary()), num_layers=2, num_heads=2, hidden_dim=128, embedding_dim=128, intermediate_dim=512,
        max_sequence_length=WORDS_PER_DOCUMENT + 2)
    pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=32, generator_layers=0, shared_layers=2,
                                   discriminator_weight=1.0, disallow_correct=True)
    steps = 600
    pretrainer.compile(keras.optimizers.Adam(cosine_schedule(1e-3, steps, warmup_steps=60)))
    pretrain(pretrainer, batches(seed=0), steps, verbose=0)
    auc, context_auc, accuracy, base_rate = replaced_token_detection(pretrainer, batches(seed=1))
    assert auc >= 0.95
    assert context_auc >= 0.95  # from context: a replaced word against the same word where it belongs
    assert accuracy >= base_rate + 0.05


def test_pretrain_reports_a_learning_curve_without_changing_the_schedule():
    """``pretrain`` runs its steps as chunks (Keras epochs) so the history is a curve, one mean per chunk; the
    optimizer still steps ``steps`` times through one learning-rate schedule."""
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(len(cycle_vocabulary()), 1, 1, 8, 16,
                                             max_sequence_length=WORDS_PER_DOCUMENT + 2)
    model = MaskedLM.tied(backbone)
    model.compile(keras.optimizers.Adam(cosine_schedule(1e-3, 300, warmup_steps=30)))
    pretrain(model, batches(seed=0, batch_size=2), 300, verbose=0)
    assert int(model.optimizer.iterations) == 300
    assert {name: len(values) for name, values in model.history.history.items()} == {"loss": 3, "mlm_accuracy": 3}
    assert len(set(model.history.history["loss"])) == 3  # three different chunks, not one value repeated


def test_text_windows_cover_every_word_once_in_order():
    texts = ["one two three four five six seven", "", "   ", "eight"]
    windows = text_windows(texts, words=3)
    assert windows == ["one two three", "four five six", "seven", "eight"]  # blank documents give no window
    assert " ".join(windows).split() == " ".join(texts).split()
    with pytest.raises(ValueError, match="at least 1"):
        text_windows(texts, words=0)
