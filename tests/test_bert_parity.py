"""The zoo's TF BERT loaded from the MiniLM directory equals PyTorch transformers' BertModel within 1e-4.

The reference numbers are in tests/fixtures/bert_parity.npz (written by tests/fixtures/make_bert_parity.py
with torch); these tests need no torch.
"""

from pathlib import Path

import keras_hub
import numpy as np
import pytest

from hf_encoder_support import edited_copy
from zoo.errors import UsageError
from zoo.models.hf.bert_checkpoint import load_bert_checkpoint, minilm_directory, read_bert_config

FIXTURE = Path(__file__).parent / "fixtures" / "bert_parity.npz"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def backbone_inputs(ref):
    return {"token_ids": ref["token_ids"], "segment_ids": np.zeros_like(ref["token_ids"]),
            "padding_mask": ref["padding_mask"]}


def max_differences(outputs, ref):
    real = ref["padding_mask"].astype(bool)
    sequence = np.abs(np.asarray(outputs["sequence_output"]) - ref["sequence_output"])[real].max()
    pooled = np.abs(np.asarray(outputs["pooled_output"]) - ref["pooled_output"]).max()
    return float(sequence), float(pooled)


def test_zoo_bert_matches_pytorch_within_1e_4(reference):
    sequence, pooled = max_differences(load_bert_checkpoint(minilm_directory())(backbone_inputs(reference)), reference)
    assert sequence < TOLERANCE and pooled < TOLERANCE, (sequence, pooled)


def test_plain_keras_hub_load_misses_parity_through_approximate_gelu(reference):
    """Documents why the zoo's import exists: the stock backbone uses tanh-approximated GELU."""
    stock = keras_hub.models.BertBackbone.from_preset(str(minilm_directory()))
    sequence, _ = max_differences(stock(backbone_inputs(reference)), reference)
    assert sequence > 1e-3


def test_unsupported_checkpoint_config_is_a_clear_error(tmp_path):
    directory = edited_copy("bert_mlm", tmp_path, hidden_act="quick_gelu", position_embedding_type="relative_key")
    with pytest.raises(UsageError, match=r"config.json: cannot import .*hidden_act 'quick_gelu'.*relative_key"):
        read_bert_config(directory)
    with pytest.raises(UsageError, match="nowhere: no such checkpoint directory"):
        read_bert_config(tmp_path / "nowhere")
