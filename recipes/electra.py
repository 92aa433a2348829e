"""``electra``: ELECTRA replaced-token-detection pretraining from scratch, then BBC News fine-tuning; raw text in.

A small generator (masked LM, sharing the discriminator's embeddings) fills 15% of the tokens with samples;
the discriminator (a KerasHub ``ElectraBackbone``) learns which tokens were replaced; loss = generator MLM
loss + 50 × discriminator loss (Clark et al., 2020). The discriminator is then fine-tuned on BBC News.
The vocabulary is the uncased BERT WordPiece vocabulary of the MiniLM wheel. Besides the signatures of
``bert``, the export has ``replaced``: ``text`` → ``token_ids`` and ``replaced_probabilities`` per token
(from the pretrained discriminator head; padding positions are 0).

Example:

>>> import zoo
>>> Electra = zoo.get_recipe("electra")
>>> Electra(Electra.Config(**Electra.tiny)).config.generator_hidden_dim
16

``Electra(config).run("saved_models")`` pretrains, fine-tunes and exports (tests/test_electra.py runs it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras_hub
import numpy as np
import tensorflow as tf

import zoo
from zoo.export import Endpoint
from zoo.hf.bert_checkpoint import minilm_directory
from zoo.data.splits import Splits
from zoo.text.encoder_classifier import EncoderClassifierRecipe, EncoderTrained, FromScratchConfig, InitialEncoder
from zoo.text.pretraining import ElectraPretrainer


@dataclasses.dataclass
class ElectraConfig(FromScratchConfig):
    generator_hidden_dim: int = zoo.field(32, "generator hidden size (the paper: 1/4 to 1/2 of the discriminator's)",
                                         within="[1, inf)")
    discriminator_weight: float = zoo.field(50.0, "λ: loss = generator MLM loss + λ × discriminator loss",
                                             within="[0, inf)")


@zoo.register("electra")
class Electra(EncoderClassifierRecipe):
    """ELECTRA (generator + discriminator) pretrained on local text, discriminator fine-tuned on BBC News."""

    summary = "ELECTRA RTD pretraining from scratch, fine-tuned on BBC News; raw text in"
    Config = ElectraConfig
    tiny = {"pretrain_steps": 2, "pretrain_batch_size": 4, "hidden_dim": 16, "num_layers": 1, "num_heads": 1,
            "generator_hidden_dim": 16, "sequence_length": 32, "epochs": 1, "batch_size": 8, "max_examples": 24}

    def vocabulary_file(self) -> Path:
        return minilm_directory() / "vocab.txt"

    def initial_encoder(self, splits: Splits) -> InitialEncoder:
        """A new discriminator, pretrained here with replaced-token detection against a small generator."""
        cfg = self.config
        discriminator = keras_hub.models.ElectraBackbone(
            vocab_size=self.tokenizer.vocabulary_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim, embedding_dim=cfg.hidden_dim, intermediate_dim=4 * cfg.hidden_dim,
            max_sequence_length=cfg.sequence_length,
        )
        pretrainer = ElectraPretrainer(
            discriminator, generator_hidden_dim=cfg.generator_hidden_dim, generator_layers=cfg.num_layers,
            discriminator_weight=cfg.discriminator_weight,
        )
        return self.pretrained_here(discriminator, pretrainer, splits)

    def extra_endpoints(self, trained: EncoderTrained, warmup_texts: np.ndarray) -> dict[str, Endpoint]:
        tokenizer, pretrainer = trained.tokenizer, trained.pretrainer

        def replaced(text):
            inputs = tokenizer(text)
            probabilities = tf.sigmoid(pretrainer.replaced_logits(inputs, training=False))
            return {"token_ids": inputs["token_ids"],
                    "replaced_probabilities": probabilities * tf.cast(inputs["padding_mask"], probabilities.dtype)}

        return {"replaced": Endpoint(fn=replaced, input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                                     warmup={"text": warmup_texts})}
