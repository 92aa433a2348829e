"""One masked language model: an encoder and a KerasHub ``MaskedLMHead``, for pretraining and for ``fill_mask``.

Example:

>>> import keras_hub
>>> backbone = keras_hub.models.BertBackbone(7, 1, 1, 8, 16, max_sequence_length=8)
>>> model = MaskedLM.tied(backbone)
>>> inputs = {"token_ids": tf.constant([[2, 5, 4, 3]]), "segment_ids": tf.zeros([1, 4], tf.int32),
...           "padding_mask": tf.ones([1, 4], tf.int32)}
>>> model.logits(inputs, tf.constant([[2]])).shape
TensorShape([1, 1, 7])
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.models.text.wordpiece import BACKBONE_INPUTS


def backbone_inputs() -> dict[str, keras.KerasTensor]:
    """Symbolic inputs of a KerasHub text encoder: ``token_ids``, ``segment_ids``, ``padding_mask`` (int32)."""
    return {name: keras.Input((None,), dtype="int32", name=name) for name in BACKBONE_INPUTS}


class MaskedLM(keras.Model):
    """``encoder`` (backbone inputs → ``sequence_output``) and a masked-LM ``head``: called on the backbone inputs
    and ``mask_positions`` [batch, selections], it returns vocabulary logits [batch, selections, vocabulary].

    :meth:`tied` gives a fresh head whose output projection is a token embedding (BERT's and ELECTRA's
    pretraining: ``compile``, then ``fit(masked_lm_dataset(...))``); a head ported from a checkpoint
    (``BertForMaskedLM``, ``ElectraForMaskedLM``) is passed as it is, and :class:`zoo.models.text.fill_mask.FillMask`
    serves either.
    """

    def __init__(self, encoder: keras.Model, head: keras_hub.layers.MaskedLMHead, **kwargs) -> None:
        inputs = {**backbone_inputs(), "mask_positions": keras.Input((None,), dtype="int32", name="mask_positions")}
        sequence = encoder({name: inputs[name] for name in BACKBONE_INPUTS})["sequence_output"]
        super().__init__(inputs, head(sequence, mask_positions=inputs["mask_positions"]), **kwargs)
        self.encoder, self.head = encoder, head

    @classmethod
    def tied(cls, encoder: keras.Model, token_embedding: keras.layers.Layer | None = None, **kwargs) -> MaskedLM:
        """A fresh GELU head (BERT's initialiser and epsilon) projecting through ``token_embedding`` (default: the
        encoder's own)."""
        head = keras_hub.layers.MaskedLMHead(
            token_embedding=token_embedding or encoder.token_embedding, intermediate_activation="gelu",
            layer_norm_epsilon=1e-12, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="mlm_head",
        )
        return cls(encoder, head, **kwargs)

    def logits(self, inputs: dict[str, tf.Tensor], mask_positions: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Vocabulary logits [batch, positions, vocabulary] at ``mask_positions`` [batch, positions]."""
        return self({**{name: inputs[name] for name in BACKBONE_INPUTS}, "mask_positions": mask_positions},
                    training=training)

    def compile(self, optimizer, **kwargs) -> None:
        """Cross-entropy at the selected positions, weighted by ``mask_weights``; masked accuracy as a metric."""
        super().compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")],
            **kwargs,
        )


def start_at_target_prior(masked_lm: MaskedLM, dataset: tf.data.Dataset, batches: int = 20) -> np.ndarray:
    """Set ``masked_lm``'s output bias to the log frequency of the masked targets in ``batches`` of ``dataset``.

    With a large vocabulary of which the corpus uses few tokens (BERT's 30,522 WordPieces), a masked LM whose
    softmax starts uniform spends its first steps pushing the unused tokens down and stays at chance; starting
    at the targets' unigram prior removes that phase (docs/pretraining.md). Tokens never seen get 1/100 of a
    count. Returns the bias.

    >>> from zoo.models.text.masked_lm_data import masked_lm_dataset
    >>> from zoo.models.text.wordpiece import WordpieceTokenizer
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
