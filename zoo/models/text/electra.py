"""Replaced-token detection (ELECTRA, Clark et al., 2020): the pretrainer, and how to score what it learned.

:class:`ElectraPretrainer`: a small generator (a masked LM that *shares the discriminator's embedding layers*:
token, position, segment, and their layer norm) fills the selected positions with tokens *sampled* from its
softmax; the discriminator labels every real token as original or replaced (a sampled token equal to the original
counts as original). Loss = generator MLM loss + ``discriminator_weight`` (50) × discriminator loss; no gradient
flows through the sampling. Replaced-token detection alone gives a fresh encoder no gradient towards reading
context (a token is replaced only relative to its neighbours); what learns on a corpus where context decides every
token is the generator reusing the discriminator's layers (``shared_layers``) so the masked-LM loss trains them,
``discriminator_weight=1`` so that loss is not drowned, and ``disallow_correct`` so the replacements do not vanish
as the generator gets good (docs/pretraining.md, tests/test_pretraining.py). :func:`replaced_token_scores` and
:func:`within_token_auc` measure whether the discriminator reads context.

It reads the batches of :func:`zoo.models.text.masked_lm_data.masked_lm_dataset`; train it with Adam on
:func:`zoo.schedules.cosine_schedule` with a warmup, through :func:`zoo.models.text.pretraining.pretrain`.

Example:

>>> tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt", sequence_length=64)  # doctest: +SKIP
>>> discriminator = keras_hub.models.ElectraBackbone(tokenizer.vocabulary_size, 2, 2, 128, 128, 512, max_sequence_length=64)  # doctest: +SKIP
>>> pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=32, generator_layers=0, shared_layers=2,
...                                discriminator_weight=1.0, disallow_correct=True)          # doctest: +SKIP
>>> pretrainer.compile(keras.optimizers.Adam(cosine_schedule(1e-3, 100, warmup_steps=10)))   # doctest: +SKIP
>>> pretrain(pretrainer, masked_lm_dataset(texts, tokenizer, batch_size=32, seed=0), steps=100)  # doctest: +SKIP
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from zoo.models.text.masked_lm import MaskedLM, backbone_inputs
from zoo.models.text.wordpiece import BACKBONE_INPUTS


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
