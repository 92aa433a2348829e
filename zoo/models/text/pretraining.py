"""Pretraining KerasHub encoders from scratch: masked LM (BERT) and replaced-token detection (ELECTRA).

Both objectives read the same batches from :func:`masked_lm_dataset` — ``token_ids`` with 15% of the real
tokens selected (80% → ``[MASK]``, 10% random, 10% kept), ``mask_positions``, and the original ``mask_ids``
with ``mask_weights`` as target and sample weight — so at equal steps and batch size they see the same data.

- :class:`zoo.models.text.masked_lm.MaskedLM` (``MaskedLM.tied``): a backbone plus a ``MaskedLMHead`` tied to
  its token embedding; the loss is the cross-entropy at the selected positions.
- :class:`ElectraPretrainer` (Clark et al., 2020): a small generator (a masked LM that *shares the
  discriminator's embedding layers*: token, position, segment, and their layer norm) fills the selected
  positions with tokens *sampled* from its softmax; the discriminator labels every real token as original or
  replaced (a sampled token equal to the original counts as original). Loss = generator MLM loss +
  ``discriminator_weight`` (50) × discriminator loss; no gradient flows through the sampling.
  Replaced-token detection alone gives a fresh encoder no gradient towards reading context (a token is
  replaced only relative to its neighbours); what learns on a corpus where context decides every token is
  the generator reusing the discriminator's layers (``shared_layers``) so the masked-LM loss trains them,
  ``discriminator_weight=1`` so that loss is not drowned, and ``disallow_correct`` so the replacements do not
  vanish as the generator gets good (docs/pretraining.md, tests/test_pretraining.py).

Train either with Adam on :func:`zoo.schedules.cosine_schedule` with a warmup.

Example:

>>> tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt", sequence_length=64)  # doctest: +SKIP
>>> discriminator = keras_hub.models.ElectraBackbone(tokenizer.vocabulary_size, 2, 2, 128, 128, 512, max_sequence_length=64)  # doctest: +SKIP
>>> pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=32, generator_layers=0, shared_layers=2,
...                                discriminator_weight=1.0, disallow_correct=True)          # doctest: +SKIP
>>> pretrainer.compile(keras.optimizers.Adam(cosine_schedule(1e-3, 100, warmup_steps=10)))   # doctest: +SKIP
>>> pretrainer.fit(masked_lm_dataset(texts, tokenizer, batch_size=32, seed=0), steps_per_epoch=100)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from zoo.errors import DataError
from zoo.models.text.masked_lm import MaskedLM, backbone_inputs
from zoo.models.text.wordpiece import BACKBONE_INPUTS, WordpieceTokenizer


def read_text_folder(folder: str | Path) -> list[str]:
    """Every ``*.txt`` file under ``folder`` (recursively), as one document each, in path order."""
    folder = Path(folder)
    files = sorted(folder.rglob("*.txt"))
    if not files:
        raise DataError(f"no .txt files under {folder} to pretrain on")
    return [path.read_text(encoding="utf-8", errors="replace") for path in files]


def masked_lm_dataset(
    texts: Sequence[str], tokenizer: WordpieceTokenizer, batch_size: int, seed: int, mask_rate: float = 0.15,
) -> tf.data.Dataset:
    """An endless, shuffled ``(inputs, mask_ids, mask_weights)`` dataset of masked-LM batches over ``texts``."""
    max_selections = max(1, int(round(tokenizer.sequence_length * mask_rate)))
    masker = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size, mask_selection_rate=mask_rate, mask_token_id=tokenizer.mask_id,
        mask_selection_length=max_selections,
        unselectable_token_ids=[tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id],
    )

    def mask(batch):
        inputs = tokenizer(batch)
        masked = masker(inputs["token_ids"])
        features = {
            "token_ids": masked["token_ids"],
            "segment_ids": inputs["segment_ids"],
            "padding_mask": inputs["padding_mask"],
            "mask_positions": tf.cast(masked["mask_positions"], tf.int32),
        }
        return features, tf.cast(masked["mask_ids"], tf.int32), tf.cast(masked["mask_weights"], tf.float32)

    documents = np.array(list(texts), dtype=object)
    return (
        tf.data.Dataset.from_tensor_slices(documents)
        .shuffle(len(documents), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(mask, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def curve_chunk(steps: int, most: int = 100) -> int:
    """The largest divisor of ``steps`` up to ``most``: :func:`pretrain` reports its metrics every that many steps.

    >>> curve_chunk(2000), curve_chunk(300), curve_chunk(7), curve_chunk(101)
    (100, 100, 7, 1)
    """
    return next(size for size in range(min(steps, most), 0, -1) if steps % size == 0)


def pretrain(model: keras.Model, dataset: tf.data.Dataset, steps: int, verbose: int | str = "auto") -> float:
    """Fit a compiled pretrainer for ``steps`` batches of ``dataset``; return the wall-clock seconds it took.

    The steps run as Keras epochs of :func:`curve_chunk` steps each (the learning-rate schedule counts steps, so
    it is unchanged), so ``model.history`` holds each metric's mean over every chunk: the learning curve, and
    as its last value where the run ended rather than its mean over the whole run.
    """
    started = time.perf_counter()
    if steps > 0:
        chunk = curve_chunk(steps)
        model.fit(dataset, steps_per_epoch=chunk, epochs=steps // chunk, verbose=verbose,
                  callbacks=[keras.callbacks.TerminateOnNaN()], shuffle=False)  # the dataset shuffles
    return time.perf_counter() - started


def text_windows(texts: Sequence[str], words: int) -> list[str]:
    """Each text cut into consecutive windows of ``words`` whitespace-separated words (the last may be shorter).

    Pretraining reads ``sequence_length`` tokens per document; cutting long articles into windows that fit lets
    it read all of each article instead of its first sentences.

    >>> text_windows(["a b c d e", "f"], words=2)
    ['a b', 'c d', 'e', 'f']
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    windows = []
    for text in texts:
        tokens = text.split()
        windows.extend(" ".join(tokens[i:i + words]) for i in range(0, len(tokens), words))
    return windows


def start_at_target_prior(masked_lm: MaskedLM, dataset: tf.data.Dataset, batches: int = 20) -> np.ndarray:
    """Set ``masked_lm``'s output bias to the log frequency of the masked targets in ``batches`` of ``dataset``.

    With a large vocabulary of which the corpus uses few tokens (BERT's 30,522 WordPieces), a masked LM whose
    softmax starts uniform spends its first steps pushing the unused tokens down and stays at chance; starting
    at the targets' unigram prior removes that phase (docs/pretraining.md). Tokens never seen get 1/100 of a
    count. Returns the bias.

    >>> tokenizer = WordpieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"], sequence_length=8)
    >>> backbone = keras_hub.models.BertBackbone(7, 1, 1, 8, 16, max_sequence_length=8)
    >>> bias = start_at_target_prior(MaskedLM.tied(backbone),
    ...                              masked_lm_dataset(["a a a a a a"] * 4, tokenizer, batch_size=2, seed=0))
    >>> int(bias.argmax()), bool(bias[5] > bias[6] + 5)
    (5, True)
    """
    counts = np.zeros(masked_lm.head.vocabulary_size)
    for _, mask_ids, mask_weights in dataset.take(batches):
        np.add.at(counts, mask_ids.numpy()[mask_weights.numpy() > 0], 1)
    bias = np.log(counts + 0.01) - np.log(counts.sum() + 0.01 * counts.size)
    next(w for w in masked_lm.head.weights if w.path.endswith("output_bias")).assign(bias)
    return bias


def shared_embedding_encoder(
    backbone: keras.Model, hidden_dim: int, num_layers: int, num_heads: int, intermediate_dim: int, name: str,
    shared_layers: int = 0,
) -> keras.Model:
    """A smaller encoder reading ``backbone``'s own embedding layers (the same variables), with its own layers.

    This is the ELECTRA generator's body: embeddings shared with the discriminator, then the discriminator's
    first ``shared_layers`` transformer layers (also the same variables; 0 = embeddings only, as in the paper),
    then a projection to ``hidden_dim`` and ``num_layers`` KerasHub ``TransformerEncoder`` layers of its own.
    """
    inputs = backbone_inputs()
    tokens = backbone.token_embedding(inputs["token_ids"])
    x = backbone.embeddings_add(
        (tokens, backbone.position_embedding(tokens), backbone.segment_embedding(inputs["segment_ids"]))
    )
    x = backbone.embeddings_dropout(backbone.embeddings_layer_norm(x))
    if shared_layers and getattr(backbone, "embeddings_projection", None) is not None:
        x = backbone.embeddings_projection(x)
    for layer in backbone.transformer_layers[:shared_layers]:
        x = layer(x, padding_mask=inputs["padding_mask"])
    initializer = keras.initializers.TruncatedNormal(stddev=0.02)
    x = keras.layers.Dense(hidden_dim, kernel_initializer=initializer, name=f"{name}_projection")(x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim, num_heads=num_heads, activation="gelu", dropout=0.1,
            layer_norm_epsilon=1e-12, kernel_initializer=initializer, name=f"{name}_layer_{i}",
        )(x, padding_mask=inputs["padding_mask"])
    return keras.Model(inputs, {"sequence_output": x}, name=name)


def replaced_token_head(hidden_dim: int) -> keras.Sequential:
    """ELECTRA's discriminator head: dense + GELU, then one logit per token (replaced vs original)."""
    initializer = keras.initializers.TruncatedNormal(stddev=0.02)
    return keras.Sequential(
        [keras.layers.Dense(hidden_dim, activation="gelu", kernel_initializer=initializer),
         keras.layers.Dense(1, kernel_initializer=initializer)],
        name="replaced_token_head",
    )


class ElectraPretrainer(keras.Model):
    """Replaced-token detection: a shared-embedding generator and a discriminator trained jointly.

    ``discriminator`` is a KerasHub ``ElectraBackbone`` (or any backbone with the same embedding layers);
    after training, it and :attr:`head` (per-token replaced logits) are what fine-tuning and serving use.
    ``shared_layers``: how many of the discriminator's bottom transformer layers the generator runs (the same
    variables) before its own ``generator_layers``; ``disallow_correct``: the generator never samples the
    original token, so every selected token is replaced; ``head``: a replaced-token head to continue from
    (an imported checkpoint's; default a new :func:`replaced_token_head`); ``temperature``: the generator samples
    from its softmax at this temperature (above 1, flatter than it believes). ``replaced_auc`` (ROC AUC over real
    tokens) is tracked with the losses; :func:`replaced_token_scores` and :func:`within_token_auc` tell how much of
    it comes from reading context.
    """

    def __init__(self, discriminator: keras.Model, generator_hidden_dim: int, generator_layers: int,
                 generator_heads: int = 1, discriminator_weight: float = 50.0, shared_layers: int = 0,
                 disallow_correct: bool = False, head: keras.Model | None = None, temperature: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.discriminator = discriminator
        self.discriminator_weight = discriminator_weight
        self.disallow_correct = disallow_correct
        self.temperature = temperature
        encoder = shared_embedding_encoder(
            discriminator, generator_hidden_dim, generator_layers, generator_heads, 4 * generator_hidden_dim,
            name="generator", shared_layers=shared_layers,
        )
        self.generator = MaskedLM.tied(encoder, discriminator.token_embedding, name="generator_mlm")
        self.head = head if head is not None else replaced_token_head(discriminator.hidden_dim)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "generator_loss", "generator_accuracy", "discriminator_loss", "replaced_accuracy",
                          "replaced_fraction")}
        self.replaced_auc = keras.metrics.AUC(num_thresholds=512, from_logits=True, name="replaced_auc")

    @property
    def metrics(self):
        return [*self.trackers.values(), self.replaced_auc]

    def replaced_logits(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Per-token logits that the token was replaced: [batch, length]."""
        sequence = self.discriminator({k: inputs[k] for k in BACKBONE_INPUTS}, training=training)["sequence_output"]
        return tf.cast(self.head(sequence, training=training)[..., 0], tf.float32)  # losses in float32 under any policy

    def call(self, inputs, training=False):
        return self.replaced_logits(inputs, training=training)

    def losses_on(self, features, mask_ids, mask_weights, training: bool) -> dict[str, tf.Tensor]:
        logits = tf.cast(self.generator(features, training=training), tf.float32)
        generator_loss = _weighted_mean(
            keras.losses.sparse_categorical_crossentropy(mask_ids, logits, from_logits=True), mask_weights
        )
        vocabulary = tf.shape(logits)[-1]
        sampling_logits = tf.stop_gradient(logits) / self.temperature
        if self.disallow_correct:  # every selected token is replaced: the original cannot be sampled
            sampling_logits += tf.one_hot(mask_ids, vocabulary, on_value=-1e9, dtype=sampling_logits.dtype)
        sampled = tf.random.categorical(tf.reshape(sampling_logits, [-1, vocabulary]), 1, dtype=tf.int32)
        sampled = tf.reshape(sampled, tf.shape(mask_ids))
        selected, positions = mask_weights > 0, features["mask_positions"]
        originals = write_selected(features["token_ids"], positions, mask_ids, selected)
        corrupted = write_selected(features["token_ids"], positions, sampled, selected)
        labels = tf.cast(tf.not_equal(corrupted, originals), tf.float32)
        real = tf.cast(features["padding_mask"], tf.float32)
        corrupted_inputs = {**features, "token_ids": corrupted}
        replaced = self.replaced_logits(corrupted_inputs, training=training)
        discriminator_loss = _weighted_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=replaced), real
        )
        correct = tf.cast(tf.equal(tf.cast(replaced > 0, tf.float32), labels), tf.float32)
        return {
            "loss": generator_loss + self.discriminator_weight * discriminator_loss,
            "generator_loss": generator_loss,
            "generator_accuracy": _weighted_mean(
                tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=mask_ids.dtype), mask_ids), tf.float32),
                mask_weights),
            "discriminator_loss": discriminator_loss,
            "replaced_accuracy": _weighted_mean(correct, real),
            "replaced_fraction": _weighted_mean(labels, real),
            "labels": labels, "replaced_logits": replaced, "real": real, "corrupted": corrupted,
        }

    def train_step(self, data):
        features, mask_ids, mask_weights = data
        with tf.GradientTape() as tape:
            values = self.losses_on(features, mask_ids, mask_weights, training=True)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(values["loss"], variables), variables))
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        self.replaced_auc.update_state(values["labels"], values["replaced_logits"], sample_weight=values["real"])
        return {metric.name: metric.result() for metric in self.metrics}


def replaced_token_scores(pretrainer: ElectraPretrainer, dataset: tf.data.Dataset, batches: int) -> dict[str, np.ndarray]:
    """The discriminator, not trained, on ``batches`` of ``dataset`` corrupted by its generator: for every real
    token, the token it read (``tokens``), whether that was a replacement (``labels``, 1 = replaced) and its
    replaced logit (``logits``)."""
    columns = {"tokens": [], "labels": [], "logits": []}
    for features, mask_ids, mask_weights in dataset.take(batches):
        values = pretrainer.losses_on(features, mask_ids, mask_weights, training=False)
        real = values["real"].numpy() > 0
        for name, key in (("tokens", "corrupted"), ("labels", "labels"), ("logits", "replaced_logits")):
            columns[name].append(values[key].numpy()[real])
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def within_token_auc(tokens: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC comparing each replaced token only with original occurrences of the *same* token: what a
    discriminator tells from context.

    The plain ROC AUC also rewards knowing which tokens the generator tends to sample more often than the text
    has them (a generator sampling at a temperature above 1 replaces rare tokens more often, so "rare, hence
    replaced" scores well without reading a word around it). Pooled over tokens by their number of
    (replaced, original) pairs; NaN when no token occurs both replaced and as an original.

    >>> tokens, labels = np.array([7, 7, 7, 9, 9, 9]), np.array([1, 0, 0, 1, 1, 0])
    >>> identity_only = np.array([0., 0., 0., 1., 1., 1.])    # "token 9 is replaced": right overall, blind in context
    >>> round(float(roc_auc_score(labels, identity_only)), 3), within_token_auc(tokens, labels, identity_only)
    (0.667, 0.5)
    >>> within_token_auc(tokens, labels, np.array([.9, .1, .2, .8, .7, .3]))  # ranks within each token right
    1.0
    """
    weighted = pairs = 0.0
    for token in np.unique(tokens[labels > 0]):
        same = tokens == token
        replaced = int(labels[same].sum())
        count = replaced * (int(same.sum()) - replaced)
        if count:
            weighted += count * roc_auc_score(labels[same], scores[same])
            pairs += count
    return weighted / pairs if pairs else float("nan")


def write_selected(token_ids: tf.Tensor, positions: tf.Tensor, values: tf.Tensor, selected: tf.Tensor) -> tf.Tensor:
    """``token_ids`` [batch, length] with ``values`` written at ``positions`` [batch, slots] where ``selected``.

    The masker pads unused selection slots with position 0 (the never-selected ``[CLS]``); those slots write
    back what is already there, so ``[CLS]`` survives.

    >>> write_selected(tf.constant([[2, 4, 5, 3]]), tf.constant([[1, 0]]), tf.constant([[7, 0]]),
    ...                tf.constant([[True, False]])).numpy().tolist()
    [[2, 7, 5, 3]]
    """
    current = tf.gather(token_ids, positions, batch_dims=1)
    batch_index = tf.broadcast_to(tf.range(tf.shape(positions)[0])[:, None], tf.shape(positions))
    return tf.tensor_scatter_nd_update(
        token_ids, tf.stack([batch_index, positions], axis=-1), tf.where(selected, values, current)
    )


def _weighted_mean(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    weights = tf.cast(weights, values.dtype)
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
