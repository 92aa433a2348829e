"""``python -m bench bert``'s speed part on tiny models: the export's ``embed`` (a stand-in SavedModel) and PyTorch's
``BertModel`` (a tiny random checkpoint) each in a worker process of its own, TensorFlow and torch never in the
same one, and a failing engine named in one line. Structure and sanity only: the figures are the full run's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tensorflow as tf

from bench import bert, timing
from bench.common import missing_modules

CHECKPOINT = Path(__file__).parent / "fixtures" / "hf_encoders" / "bert_mlm"  # 2 layers, 32 wide, tokenizer.json
SENTENCES = ["the cat sat on the mat", "a b c", "markets fell sharply on monday after the news"] * 3
SEQUENCE_LENGTH = 8
MATMUL = {"float32": {"gflops": 100.0}, "bfloat16": {"gflops": 200.0}}  # the machine's, as matmul_speeds gives it
ROUNDS = 2
pytestmark = pytest.mark.skipif(bool(missing_modules(bert.REQUIRES)), reason="needs the bench extra (torch)")


def embed_export(folder: Path) -> Path:
    """A SavedModel with an ``embed`` signature as the bert recipe exports it: ``text`` in, ``embeddings`` out."""
    class Embedder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def embed(self, text):
            return {"embeddings": tf.zeros([tf.shape(text)[0], 4])}

    module = Embedder()
    tf.saved_model.save(module, str(folder), signatures={"embed": module.embed})
    return folder


def test_embed_speed_times_the_export_and_pytorch_each_in_a_process_of_its_own(tmp_path: Path) -> None:
    figures = bert.speed(embed_export(tmp_path / "export"), CHECKPOINT, SEQUENCE_LENGTH, SENTENCES, MATMUL, ROUNDS)
    processes = figures["processes"]
    assert processes["zoo_export"]["libraries_loaded"] == ["tensorflow"]
    assert processes["pytorch"]["libraries_loaded"] == ["torch"] and "transformers" in processes["pytorch"]["versions"]
    assert len({processes["zoo_export"]["pid"], processes["pytorch"]["pid"], os.getpid()}) == 3
    assert figures["embeddings"] == {"zoo_export": {"rows": len(SENTENCES), "width": 4},
                                     "pytorch": {"rows": len(SENTENCES), "width": 32}}
    for engine in ("zoo_export", "pytorch"):
        seconds = figures["seconds"][engine]
        assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
        assert figures["sentences_per_second"][engine] > 0 and figures["achieved_gflops"][engine] > 0
    assert figures["ratio"] > 0 and figures["machine_matmul_gflops"] == {"float32": 100.0, "bfloat16": 200.0}
    lengths = bert.token_counts(CHECKPOINT, SEQUENCE_LENGTH, SENTENCES)
    assert max(lengths) == SEQUENCE_LENGTH  # the longest sentence is cut, and counted as cut
    config = {"hidden_size": 32, "num_hidden_layers": 2, "intermediate_size": 48}  # the checkpoint's config.json
    assert figures["flops"] == {engine: bert.embed_flops(config, lengths) for engine in ("zoo_export", "pytorch")}


def test_an_engine_that_cannot_load_stops_the_speed_part_with_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(timing.WorkerError) as raised:
        bert.speed(tmp_path / "no_export", CHECKPOINT, SEQUENCE_LENGTH, SENTENCES, MATMUL, ROUNDS)
    message = str(raised.value)
    assert message.startswith("engine zoo_export: embed: the worker exited with status 1: ") and "\n" not in message
    assert "no_export" in message
