"""t5's ``generate`` signature as users call it: the tiny t5 export (the session's ``tiny_exports``) served by
``python -m zoo.serve`` in its own process, asked over REST (columnar ``inputs``) and gRPC for greedy search, beam
search and seeded sampling; every out-of-range option is refused with INVALID_ARGUMENT (HTTP 400) and a one-line
reason, and the server answers again afterwards."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import zoo
from serve_support import post_json, serve_process
from zoo.models.text.decoding import MAX_BEAMS, OPTION_SPECS
from zoo.models.text.sentencepiece_vocab import EOS_ID, PAD_ID

DTYPES = {spec.name: spec.dtype.as_numpy_dtype for spec in OPTION_SPECS}  # the generate signature's scalar inputs
BOUND = zoo.get_recipe("t5").tiny["max_new_tokens"]  # the most new tokens the tiny export allows a request
LIMIT = 64  # the server's --max-generated-tokens: rows x max(num_beams, num_return_sequences) x max_new_tokens
TEXTS = ["the market rose after profits beat forecasts", "a late goal won the cup"]
GREEDY = {"max_new_tokens": BOUND, "num_beams": 1, "do_sample": False, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
          "seed": 0, "num_return_sequences": 1}
BEAM = {**GREEDY, "num_beams": 3, "num_return_sequences": 2}
SAMPLING = {**GREEDY, "do_sample": True, "temperature": 0.8, "top_k": 50, "top_p": 0.9, "seed": 7,
            "num_return_sequences": 2}


@pytest.fixture(scope="module")
def server(tiny_exports, tmp_path_factory):
    """One ``python -m zoo.serve --max-generated-tokens LIMIT`` over a model base holding only the tiny t5 export."""
    export_dir, runs = tiny_exports
    assert runs["t5"].returncode == 0, f"tiny export of t5 failed:\n{runs['t5'].stderr[-3000:]}"
    base = tmp_path_factory.mktemp("t5_generate")
    (base / "t5").symlink_to(export_dir / "t5", target_is_directory=True)
    with serve_process(base, "--max-generated-tokens", str(LIMIT), start_timeout=180) as process:
        yield process


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _rest(server, params: dict, signature: str = "generate") -> tuple[int, dict]:
    """(status, body) of a columnar REST request over ``TEXTS`` with ``params``."""
    return post_json(f"{server.rest_url}/v1/models/t5:predict",
                     {"signature_name": signature, "inputs": {"text": TEXTS, **params}})


def _rest_outputs(server, params: dict) -> dict[str, np.ndarray]:
    """The outputs of a REST generate request that must be answered, as arrays."""
    status, body = _rest(server, params)
    assert status == 200, (body, server.stderr_tail())
    return {name: np.array(value) for name, value in body["outputs"].items()}


def _grpc_request(params: dict) -> predict_pb2.PredictRequest:
    """A gRPC generate request over ``TEXTS`` with ``params``, each a scalar of the signature's dtype."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "t5", "generate"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(np.array(TEXTS, object)))
    for name, value in params.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.array(value, DTYPES[name])))
    return request


def _grpc_outputs(stub, params: dict) -> dict[str, np.ndarray]:
    """The outputs of a gRPC generate request that must be answered (texts decoded to str, as REST gives them)."""
    response = stub.Predict(_grpc_request(params), timeout=30)
    outputs = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
    outputs["texts"] = np.vectorize(lambda text: text.decode(), otypes=[object])(outputs["texts"])
    return outputs


def _answered(server, stub, params: dict) -> dict[str, np.ndarray]:
    """Both APIs answer ``params`` alike with the generate contract: ``texts`` [B, R], ``token_ids`` [B, R, L]
    (L = max_new_tokens; pad after each eos), ``scores`` [B, R]; the gRPC outputs are returned."""
    rest, answer = _rest_outputs(server, params), _grpc_outputs(stub, params)
    sequences = params["num_return_sequences"]
    assert answer["texts"].shape == (len(TEXTS), sequences)
    assert (answer["token_ids"].shape, answer["token_ids"].dtype) == (
        (len(TEXTS), sequences, params["max_new_tokens"]), np.int32)
    assert (answer["scores"].shape, answer["scores"].dtype) == ((len(TEXTS), sequences), np.float32)
    assert np.all(answer["scores"] <= 0.0)  # log-probabilities
    for tokens in answer["token_ids"].reshape(-1, params["max_new_tokens"]):
        ends = np.flatnonzero(tokens == EOS_ID)
        assert not ends.size or np.all(tokens[ends[0] + 1:] == PAD_ID), tokens
    assert rest["texts"].tolist() == answer["texts"].tolist()
    np.testing.assert_array_equal(rest["token_ids"], answer["token_ids"])
    np.testing.assert_array_equal(rest["scores"].astype(np.float32), answer["scores"])
    return answer


def _refused(server, stub, params: dict) -> tuple[str, str]:
    """A request ``params`` over both APIs is refused as an invalid argument; (REST message, gRPC details)."""
    status, body = _rest(server, params)
    assert status == 400, body
    with pytest.raises(grpc.RpcError) as failed:
        stub.Predict(_grpc_request(params), timeout=30)
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failed.value.details()
    return body["error"], failed.value.details()


@pytest.mark.slow
def test_greedy_search_answers_one_sequence_per_text_as_serving_default_decodes(server, stub):
    answer = _answered(server, stub, GREEDY)
    status, body = _rest(server, {}, signature="serving_default")  # the tiny config decodes greedily, BOUND tokens
    assert status == 200, body
    np.testing.assert_array_equal(body["outputs"]["token_ids"], answer["token_ids"][:, 0])
    assert body["outputs"]["text"] == answer["texts"][:, 0].tolist()


@pytest.mark.slow
def test_beam_search_returns_the_best_sequences_best_first(server, stub):
    answer = _answered(server, stub, BEAM)
    assert np.all(np.diff(answer["scores"], axis=1) <= 0.0), answer["scores"]


@pytest.mark.slow
def test_sampling_with_a_seed_repeats(server, stub):
    first = _answered(server, stub, SAMPLING)
    again = _grpc_outputs(stub, SAMPLING)
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("overrides, reason", [
    ({"num_beams": 0}, f"num_beams must be in [1, {MAX_BEAMS}]; got 0"),
    ({"num_beams": MAX_BEAMS + 1, "max_new_tokens": 1}, f"num_beams must be in [1, {MAX_BEAMS}]; got {MAX_BEAMS + 1}"),
    ({"top_p": 0.0}, "top_p must be in (0, 1]; got 0"),
    ({"top_p": 1.5}, "top_p must be in (0, 1]; got 1.5"),
    ({"do_sample": True, "temperature": 0.0}, "temperature must be above 0 when sampling; got 0"),
    ({"max_new_tokens": BOUND + 1}, f"max_new_tokens must be in [1, {BOUND}] (this export's bound); got {BOUND + 1}"),
    ({"max_new_tokens": 0}, f"max_new_tokens must be in [1, {BOUND}] (this export's bound); got 0"),
    ({"num_beams": 3, "num_return_sequences": 4}, "num_return_sequences must be at most num_beams; got 4"),
    ({"num_return_sequences": 2}, "num_return_sequences must be 1"),
    ({"num_beams": MAX_BEAMS}, f"2 rows x {MAX_BEAMS} beams or sequences x {BOUND} max_new_tokens); one request may "
                               f"ask for at most {LIMIT} (--max-generated-tokens)"),
])
def test_a_bad_option_is_refused_in_one_line_naming_it_and_the_server_answers_again(server, stub, overrides, reason):
    for message in _refused(server, stub, {**GREEDY, **overrides}):
        assert reason in message and "\n" not in message, message
    _answered(server, stub, GREEDY)
