"""``electra``: ELECTRA replaced-token-detection pretraining from scratch, then BBC News fine-tuning; raw text in.

A small generator (masked LM, sharing the discriminator's embeddings) fills 15% of the tokens with samples;
the discriminator (a KerasHub ``ElectraBackbone``) learns which tokens were replaced; loss = generator MLM
loss + 50 × discriminator loss (Clark et al., 2020). The discriminator is then fine-tuned on BBC News.
The vocabulary is the uncased BERT WordPiece vocabulary of the MiniLM wheel. Besides the signatures of
``bert``, the export has ``replaced``: ``text`` → ``token_ids`` and ``replaced_probabilities`` per token
(from the pretrained discriminator head; padding positions are 0).

Example:

>>> Electra = zoo.get_recipe("electra")
>>> cfg = Electra.Config(pretrain_steps=20, epochs=1, max_examples=64, sequence_length=64)
>>> Electra(cfg).run("/tmp/zoo-doc").export.gate.signatures_run["replaced"]     # doctest: +SKIP
1
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import keras_hub
import numpy as np
import tensorflow as tf

import zoo
from zoo.errors import UsageError
from zoo.export import Endpoint
from zoo.hf.bert_checkpoint import minilm_directory
from zoo.text.encoder_classifier import EncoderClassifierConfig, EncoderClassifierRecipe
from zoo.text.pretraining import ElectraPretrainer, masked_lm_dataset, pretrain, read_text_folder


@dataclasses.dataclass
class ElectraConfig(EncoderClassifierConfig):
    corpus: str = zoo.field("bbc", "pretraining text: 'bbc' (BBC training-split articles) or a folder of .txt files")
    pretrain_steps: int = zoo.field(2000, "replaced-token-detection steps")
    pretrain_batch_size: int = zoo.field(32, "documents per pretraining step")
    pretrain_learning_rate: float = zoo.field(5e-4, "peak Adam learning rate for pretraining (cosine decay)")
    hidden_dim: int = zoo.field(128, "discriminator hidden size (= embedding size)")
    num_layers: int = zoo.field(2, "discriminator (and generator) transformer layers")
    num_heads: int = zoo.field(2, "discriminator attention heads")
    generator_hidden_dim: int = zoo.field(32, "generator hidden size (the paper: 1/4 to 1/2 of the discriminator's)")
    discriminator_weight: float = zoo.field(50.0, "λ: loss = generator MLM loss + λ × discriminator loss")

    def validate(self) -> None:
        super().validate()
        if self.corpus != "bbc" and not Path(self.corpus).is_dir():
            raise UsageError(f"corpus must be 'bbc' or a folder of .txt files; {self.corpus!r} is neither")


@zoo.register("electra")
class Electra(EncoderClassifierRecipe):
    """ELECTRA (generator + discriminator) pretrained on local text, discriminator fine-tuned on BBC News."""

    summary = "ELECTRA RTD pretraining from scratch, fine-tuned on BBC News; raw text in"
    Config = ElectraConfig
    tiny = {"pretrain_steps": 2, "pretrain_batch_size": 4, "hidden_dim": 16, "num_layers": 1, "num_heads": 1,
            "generator_hidden_dim": 16, "sequence_length": 32, "epochs": 1, "batch_size": 8, "max_examples": 24}

    def vocabulary_file(self) -> Path:
        return minilm_directory() / "vocab.txt"

    def initial_backbone(self) -> keras.Model:
        cfg = self.config
        discriminator = keras_hub.models.ElectraBackbone(
            vocab_size=self.tokenizer.vocabulary_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim, embedding_dim=cfg.hidden_dim, intermediate_dim=4 * cfg.hidden_dim,
            max_sequence_length=cfg.sequence_length,
        )
        self.pretrainer = ElectraPretrainer(
            discriminator, generator_hidden_dim=cfg.generator_hidden_dim, generator_layers=cfg.num_layers,
            discriminator_weight=cfg.discriminator_weight,
        )
        schedule = keras.optimizers.schedules.CosineDecay(cfg.pretrain_learning_rate, max(cfg.pretrain_steps, 1))
        self.pretrainer.compile(keras.optimizers.Adam(schedule))
        texts = self.load_data().train[0] if cfg.corpus == "bbc" else read_text_folder(cfg.corpus)
        dataset = masked_lm_dataset(texts, self.tokenizer, cfg.pretrain_batch_size, cfg.seed)
        self.pretrain_seconds = pretrain(self.pretrainer, dataset, cfg.pretrain_steps, self.verbose)
        return discriminator

    def extra_endpoints(self, warmup_texts: np.ndarray) -> dict[str, Endpoint]:
        tokenizer, pretrainer = self.tokenizer, self.pretrainer

        def replaced(text):
            inputs = tokenizer(text)
            probabilities = tf.sigmoid(pretrainer.replaced_logits(inputs, training=False))
            return {"token_ids": inputs["token_ids"],
                    "replaced_probabilities": probabilities * tf.cast(inputs["padding_mask"], probabilities.dtype)}

        return {"replaced": Endpoint(fn=replaced, input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                                     warmup={"text": warmup_texts})}
