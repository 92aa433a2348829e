"""gpt2: a Hugging Face GPT-2 directory exported as it is serves PyTorch's greedy tokens and log-likelihoods from raw
text; the recipe trains from scratch on a user's text, learns an easy corpus, and refuses what it cannot read.

References: tests/fixtures/hf_gpt2.npz (``text/…``) and the checkpoint tests/fixtures/hf_gpt2/text/, written by
tests/fixtures/make_hf_gpt2.py (torch).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from signature_support import session_run
from zoo_subprocess import only_version, run_python

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINT = FIXTURES / "hf_gpt2" / "text"
NEW_TOKENS = 12  # as the fixture


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "hf_gpt2.npz") as data:
        return {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("text/")}


def texts_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("text\n" + "".join(f'"{line}"\n' for line in lines), encoding="utf-8")
    return path


def zoo_run_gpt2(tmp_path: Path, *sets: str) -> Path:
    """``python -m zoo.run gpt2`` in its own process; the one version it exported."""
    args = [arg for key_value in sets for arg in ("--set", key_value)]
    done = run_python(["-m", "zoo.run", "gpt2", *args, "--export-dir", str(tmp_path / "exports")], cwd=tmp_path,
                      timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return only_version(tmp_path / "exports", "gpt2")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The fixture checkpoint exported as it is (epochs=0), with a small corpus of its own to evaluate on."""
    folder = tmp_path_factory.mktemp("gpt2-init")
    data = texts_csv(folder / "texts.csv", [f"Shares in company {i} rose on Monday, the government said." for i in range(40)])
    return zoo_run_gpt2(folder, f"init={CHECKPOINT}", "epochs=0", f"max_new_tokens={NEW_TOKENS}",
                        "max_input_length=32", "sequence_length=32", f"data={data}")


@pytest.mark.slow
def test_served_greedy_tokens_equal_pytorch_generate_on_a_left_padded_batch(imported, reference):
    texts = np.array(reference["texts"].tolist(), dtype=object)
    signature, out = session_run(imported, "serving_default", {"text": texts})
    assert sorted(signature.outputs) == ["texts", "token_ids"]
    np.testing.assert_array_equal(out["token_ids"], reference["greedy"])
    _, alone = session_run(imported, "serving_default", {"text": texts[3:4]})
    np.testing.assert_array_equal(alone["token_ids"][0], reference["greedy"][3])


@pytest.mark.slow
def test_served_scores_equal_pytorch_log_likelihoods_within_1e_4_relative(imported, reference):
    _, out = session_run(imported, "score", {"text": np.array(reference["texts"].tolist(), dtype=object)})
    np.testing.assert_array_equal(out["num_tokens"], reference["num_tokens"])
    np.testing.assert_allclose(out["log_likelihood"], reference["log_likelihood"], rtol=1e-4, atol=1e-5)
    assert out["log_likelihood"][reference["num_tokens"] == 1] == 0.0  # one token: nothing before it to predict


@pytest.mark.slow
def test_generate_signature_greedy_equals_serving_default_and_beams_come_best_first(imported, reference):
    texts = np.array(reference["texts"].tolist()[:3], dtype=object)
    options = {"max_new_tokens": np.int32(NEW_TOKENS), "num_beams": np.int32(1), "do_sample": np.bool_(False),
               "temperature": np.float32(1.0), "top_k": np.int32(0), "top_p": np.float32(1.0), "seed": np.int64(0),
               "num_return_sequences": np.int32(1)}
    _, greedy = session_run(imported, "generate", {"text": texts, **options})
    _, default = session_run(imported, "serving_default", {"text": texts})
    np.testing.assert_array_equal(greedy["token_ids"][:, 0], default["token_ids"])
    assert greedy["texts"][:, 0].tolist() == default["texts"].tolist()
    beams = {**options, "num_beams": np.int32(4), "num_return_sequences": np.int32(3), "max_new_tokens": np.int32(5)}
    _, out = session_run(imported, "generate", {"text": texts, **beams})
    assert out["token_ids"].shape == (3, 3, 5) and (np.diff(out["scores"], axis=1) <= 0).all()


@pytest.mark.slow
def test_the_card_reports_perplexity_beside_the_ngram_baseline(imported):
    card = json.loads((imported / "assets.extra" / "zoo.json").read_text())
    metrics = card["metrics"]
    assert metrics["test_perplexity"] > 1 and metrics["ngram_perplexity"] > 1 and metrics["test_tokens"] > 0


@pytest.mark.slow
def test_learns_an_easy_corpus_and_beats_the_ngram_baseline(tmp_path):
    """Counting in words: past a line's random first number, every word follows from the one before, so a model that
    learns continues the count, and beats the smoothed trigram model on the same tokens."""
    words = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split()
    rng = np.random.default_rng(0)
    lines = [" ".join(words[(start + i) % len(words)] for i in range(12)) for start in rng.integers(0, 15, 300)]
    version = zoo_run_gpt2(tmp_path, f"data={texts_csv(tmp_path / 'count.csv', lines)}", "vocab_size=300",
                           "hidden_dim=64", "num_layers=2", "num_heads=2", "epochs=12", "batch_size=8",
                           "sequence_length=32", "max_new_tokens=6", "learning_rate=0.003", "early_stopping=0")
    metrics = json.loads((version / "assets.extra" / "zoo.json").read_text())["metrics"]
    # The line starts are a draw of 15, and the smoothed trigram pays dearly for its unseen transitions (6.4 here).
    assert metrics["test_perplexity"] < min(5.0, metrics["ngram_perplexity"]), metrics
    _, out = session_run(version, "serving_default", {"text": np.array(["three four five"], dtype=object)})
    assert out["texts"][0].decode().split()[:2] == ["six", "seven"]


@pytest.mark.slow
@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "model.safetensors").rename(d / "pytorch_model.bin").parent, "only pytorch_model.bin"),
    (lambda d: [(d / n).unlink() for n in ("vocab.json", "merges.txt")] and d, "no tokenizer"),
    (lambda d: (d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()),
                                                           "activation_function": "relu"})) and d, "activation_function"),
])
def test_a_checkpoint_it_cannot_read_is_refused_in_one_line_writing_nothing(tmp_path, make, message):
    directory = tmp_path / "checkpoint"
    shutil.copytree(CHECKPOINT, directory)
    done = run_python(["-m", "zoo.run", "gpt2", "--set", f"init={make(directory)}", "--export-dir",
                       str(tmp_path / "exports")], cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "exports").exists() and not (tmp_path / "runs").exists()


def test_token_embeddings_are_drawn_at_the_recipe_stddev_the_same_for_the_same_seed():
    import zoo
    from recipes.gpt2 import TOKEN_EMBEDDING_STDDEV

    gpt2 = zoo.get_recipe("gpt2")
    tables = [gpt2(gpt2.Config(hidden_dim=64, num_layers=1, num_heads=2, seed=seed)).build_backbone(500)
              .token_embedding.embeddings.numpy() for seed in (3, 3, 4)]
    assert abs(tables[0].std() - TOKEN_EMBEDDING_STDDEV) < 0.01  # not KerasHub's 0.01
    np.testing.assert_array_equal(tables[0], tables[1])  # every worker of a run draws the same table
    assert not np.array_equal(tables[0], tables[2])
