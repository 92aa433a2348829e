"""t5: the CLI trains and exports a tiny T5 whose serving_default maps raw strings to as many strings, and the
exported generation equals eager KerasHub generation token for token at batch sizes 1 and 7."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from signature_support import session_run
from zoo.export import export
from zoo.run import main
from recipes.t5 import T5Trained
from zoo.models.text.t5_decoding import keras_hub_greedy

TINY = {"max_examples": 24, "vocab_size": 300, "num_sentinels": 20, "hidden_dim": 32, "num_layers": 1,
        "num_heads": 2, "intermediate_dim": 64, "epochs": 1, "pretrain_epochs": 1, "batch_size": 8,
        "max_input_length": 48, "max_new_tokens": 5}


def serve(version_dir, texts):
    signature, out = session_run(version_dir, "serving_default", {"text": np.array(texts, dtype=object)})
    return signature, out["text"]


@pytest.mark.slow
def test_cli_trains_and_exports_string_to_string_generation(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    overrides = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    assert main(["t5", *overrides, "--export-dir", str(tmp_path / "exports")]) == 0
    summary = capsys.readouterr().out
    assert "test_exact_match" in summary and "gate passed" in summary
    version = tmp_path / "exports" / "t5" / "1"
    for batch in (["classify: shares rose on monday"], ["classify: a new film", "", "tech news " * 50]):
        signature, texts = serve(version, batch)
        assert texts.shape == (len(batch),) and texts.dtype == object
        assert signature.inputs["text"].dtype == signature.outputs["text"].dtype == tf.string.as_datatype_enum
        assert [d.size for d in signature.inputs["text"].tensor_shape.dim] == [-1]
        assert [d.size for d in signature.outputs["text"].tensor_shape.dim] == [-1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny t5 export whose weights are scaled up so generation varies with the input, and its recipe/model."""
    cls = zoo.get_recipe("t5")
    recipe = cls(cls.Config(**TINY), run_dir=tmp_path_factory.mktemp("run"), verbose=0)
    splits = recipe.load_data().capped(recipe.config.max_examples)
    vocab = recipe.train_vocabulary([str(t) for t in splits.train[0]])
    tokenizer = vocab.tokenizer()
    model = recipe.build_model(vocab.size)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 1.0, weight.shape).astype("float32"))
    model.compile(sampler="greedy")  # for the eager KerasHub reference
    generate, generate_on_request = recipe.generators(model, vocab, tokenizer)
    trained = T5Trained(model=model, vocab=vocab, tokenizer=tokenizer, generate=generate,
                        generate_on_request=generate_on_request)
    result = export(recipe.servable(trained, splits), model_name="t5", export_root=tmp_path_factory.mktemp("exports"),
                    card={"config": recipe.config.to_dict(), "metrics": {}, "data": {}})
    return trained, model, splits, result


@pytest.mark.parametrize("batch", [1, 7])
def test_exported_generation_equals_eager_keras_hub_generation(exported, batch):
    trained, model, splits, result = exported
    texts = ["classify: " + str(t)[: 40 * (i + 1)] for i, t in enumerate(splits.test[0][:batch])]
    _, served = serve(result.path, texts)
    ids, mask = trained.vocab.encode(tf.constant(texts), TINY["max_input_length"])
    eager_ids = keras_hub_greedy(model, ids.numpy(), mask.numpy(), TINY["max_new_tokens"])
    assert len({tuple(row) for row in eager_ids}) > (batch > 1)  # not a constant output
    eager = trained.vocab.decode(eager_ids).numpy()
    assert served.tolist() == eager.tolist()  # the detokenized eager tokens, row for row
    assert result.gate.signatures_run == {"serving_default": 1, "generate": 1}


def request(texts, **options):
    """A generate request: greedy unless ``options`` say otherwise."""
    defaults = {"max_new_tokens": np.int32(TINY["max_new_tokens"]), "num_beams": np.int32(1),
                "do_sample": np.bool_(False), "temperature": np.float32(1.0), "top_k": np.int32(0),
                "top_p": np.float32(1.0), "seed": np.int64(0), "num_return_sequences": np.int32(1)}
    cast = {name: np.asarray(value, dtype=defaults[name].dtype) for name, value in options.items()}
    return {"text": np.array(texts, dtype=object), **defaults, **cast}


def test_exported_generate_signature_decodes_per_request(exported):
    trained, model, splits, result = exported
    texts = ["classify: " + str(t)[: 40 * (i + 1)] for i, t in enumerate(splits.test[0][:3])]
    _, greedy = session_run(result.path, "generate", request(texts))
    _, default = session_run(result.path, "serving_default", {"text": np.array(texts, dtype=object)})
    assert greedy["texts"][:, 0].tolist() == default["text"].tolist()
    np.testing.assert_array_equal(greedy["token_ids"][:, 0, :], default["token_ids"])

    signature, beams = session_run(result.path, "generate", request(texts, num_beams=4, num_return_sequences=3,
                                                                     max_new_tokens=4))
    assert beams["token_ids"].shape == (3, 3, 4) and beams["texts"].shape == beams["scores"].shape == (3, 3)
    assert (np.diff(beams["scores"], axis=1) <= 0).all()  # best first
    decoded = trained.vocab.decode(tf.constant(beams["token_ids"].reshape(9, 4))).numpy().reshape(3, 3)
    assert beams["texts"].tolist() == decoded.tolist()
    assert {name: [d.size for d in signature.outputs[name].tensor_shape.dim] for name in signature.outputs} == \
        {"texts": [-1, -1], "token_ids": [-1, -1, -1], "scores": [-1, -1]}


def test_gate_sees_only_stock_ops(exported):
    ops = set(exported[3].gate.ops)
    assert "SentencepieceOp" in ops and "SentencepieceDetokenizeOp" in ops and "While" in ops | {"StatelessWhile"}
    assert not any(op.startswith("Xla") for op in ops)


def test_teacher_forcing_examples_shift_targets_right_and_weight_real_tokens():
    from recipes.t5 import seq2seq_examples

    x, y = seq2seq_examples(np.array([[5, 6, 1, 0]], np.int32), np.array([[7, 8, 1, 0, 0]], np.int32))
    assert x["encoder_padding_mask"].tolist() == [[1, 1, 1, 0]]
    assert x["decoder_token_ids"].tolist() == [[0, 7, 8, 1, 0]] and y.tolist() == [[7, 8, 1, 0, 0]]
    assert x["decoder_padding_mask"].tolist() == [[1, 1, 1, 1, 0]]
    recipe = zoo.get_recipe("t5")(run_dir="unused")
    (batch_x, batch_y, weights), = recipe.dataset(x, y, training=False).as_numpy_iterator()
    assert batch_x["decoder_token_ids"].tolist() == [[0, 7, 8, 1, 0]] and batch_y.tolist() == [[7, 8, 1, 0, 0]]
    assert weights.tolist() == [[1, 1, 1, 0, 0]]  # the loss and accuracy leave padding out


@pytest.mark.slow
def test_pretrained_weights_are_reused_only_while_they_match_their_recorded_digest(tmp_path):
    cls = zoo.get_recipe("t5")
    recipe = cls(cls.Config(**TINY), run_dir=tmp_path / "run", verbose=0)
    texts = [str(t) for t in recipe.load_data().train[0][:TINY["max_examples"]]]
    vocab = recipe.train_vocabulary(texts)
    tokenizer = vocab.tokenizer()
    assert recipe.pretrain(recipe.build_model(vocab.size), vocab, tokenizer, texts)["loss"]  # pretrained, saved
    assert recipe.pretrain(recipe.build_model(vocab.size), vocab, tokenizer, texts) == {}  # reused as recorded
    saved = tmp_path / "run" / "pretrained.weights.h5"
    saved.write_bytes(saved.read_bytes()[:-1] + b"\0")  # no longer what the run wrote
    assert recipe.pretrain(recipe.build_model(vocab.size), vocab, tokenizer, texts)["loss"]  # pretrained again


@pytest.mark.slow
def test_a_second_run_in_one_process_leaves_the_first_runs_generation_working(tmp_path):
    """Each run seeds TensorFlow, which cleared the eager kernel cache and, with it, the SentencePiece model under
    the first run's tokenizer: its ``generate`` then failed ("Resource …SentencepieceOp… does not exist")."""
    cls = zoo.get_recipe("t5")
    texts = tf.constant(["classify: shares rose on monday", "a new film"])
    first = cls(cls.Config(**{**cls.tiny, "epochs": 0}), run_dir=tmp_path / "one", verbose=0).run(tmp_path / "e")
    before = first.trained.generate(texts)["token_ids"].numpy()
    second = cls(cls.Config(**{**cls.tiny, "epochs": 0, "vocab_size": 250}), run_dir=tmp_path / "two",
                 verbose=0).run(tmp_path / "e")
    assert second.trained.vocab.model_proto != first.trained.vocab.model_proto
    assert (first.trained.generate(texts)["token_ids"].numpy() == before).all()
    assert first.trained.tokenizer.tokenize(texts).to_list() == \
        [first.trained.vocab._processor.encode(t) for t in texts.numpy().astype(str).tolist()]
    assert second.trained.generate(texts)["token_ids"].shape[0] == 2
