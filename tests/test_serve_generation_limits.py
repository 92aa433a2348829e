"""Generation requests (a ``generate`` signature's scalar parameters beside a batch of text) to ``python -m zoo.serve``:
bounded by ``--max-generated-tokens``, refused by the graph's own parameter checks with INVALID_ARGUMENT, never merged
with other requests by ``--enable-batching``, over REST and gRPC."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serve_support import post_json, serve_process
from zoo.errors import UsageError
from zoo.serve.__main__ import build_parser
from zoo.serve.batching import Batcher, BatchingOptions
from zoo.serve.errors import ServingError
from zoo.serve.limits import RequestLimits

# The generate contract's scalar inputs (shape []) and their dtypes, beside ``text`` ([None] strings).
SCALARS = {"max_new_tokens": tf.int32, "num_beams": tf.int32, "do_sample": tf.bool, "temperature": tf.float32,
           "top_k": tf.int32, "top_p": tf.float32, "seed": tf.int64, "num_return_sequences": tf.int32}
TEXTS = ["first article", "second article"]
LIMIT = 4096  # the server's --max-generated-tokens
FLAG = "(--max-generated-tokens)"


class TinyGenerator(tf.Module):
    """The generate contract without a model: it checks its parameters as a real export does, in the graph, and
    answers each text ``num_return_sequences`` times with ``max_new_tokens`` zero token ids and zero scores."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"),
                                  *(tf.TensorSpec([], dtype, name=name) for name, dtype in SCALARS.items())])
    def generate(self, text, max_new_tokens, num_beams, do_sample, temperature, top_k, top_p, seed,
                 num_return_sequences):
        checks = [
            tf.debugging.assert_greater_equal(max_new_tokens, 1, message="max_new_tokens must be at least 1"),
            tf.debugging.assert_greater_equal(num_beams, 1, message="num_beams must be in [1, 16]"),
            tf.debugging.assert_less_equal(num_beams, 16, message="num_beams must be in [1, 16]"),
            tf.debugging.assert_greater_equal(num_return_sequences, 1, message="num_return_sequences must be >= 1"),
            tf.debugging.assert_positive(temperature, message="temperature must be positive"),
        ]
        with tf.control_dependencies(checks):
            rows = tf.shape(text)[0]
            return {"texts": tf.tile(text[:, tf.newaxis], [1, num_return_sequences]),
                    "token_ids": tf.zeros([rows, num_return_sequences, max_new_tokens], tf.int32),
                    "scores": tf.zeros([rows, num_return_sequences], tf.float32)}


def _params(**overrides) -> dict:
    """A valid set of generation parameters (2 rows x 4 beams x 8 tokens = 64), with ``overrides``."""
    return {"max_new_tokens": 8, "num_beams": 4, "do_sample": False, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
            "seed": 0, "num_return_sequences": 2, **overrides}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One ``python -m zoo.serve`` (with batching) serving the tiny generator as ``tiny_generator`` version 1."""
    base = tmp_path_factory.mktemp("generation") / "saved_models"
    module = TinyGenerator()
    tf.saved_model.save(module, str(base / "tiny_generator" / "1"),
                        signatures={"generate": module.generate, "serving_default": module.generate})
    with serve_process(base, "--max-generated-tokens", str(LIMIT), "--enable-batching",
                       "--batch-timeout-micros", "20000", start_timeout=120) as process:
        yield process


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _rest_generate(server, params: dict) -> tuple[int, dict]:
    """(status, body) of a columnar REST generate request over ``TEXTS`` with ``params``."""
    return post_json(f"{server.rest_url}/v1/models/tiny_generator:predict",
                     {"signature_name": "generate", "inputs": {"text": TEXTS, **params}})


def _grpc_request(params: dict) -> predict_pb2.PredictRequest:
    """A gRPC generate request over ``TEXTS`` with ``params``, each a scalar of the contract's dtype."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "tiny_generator", "generate"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(np.array(TEXTS, object)))
    for name, value in params.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.array(value, SCALARS[name].as_numpy_dtype)))
    return request


def _grpc_generate(stub, params: dict) -> dict[str, np.ndarray]:
    """The outputs of a gRPC generate request over ``TEXTS`` with ``params`` (a grpc.RpcError if it fails)."""
    response = stub.Predict(_grpc_request(params), timeout=30)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def _grpc_error(stub, request: predict_pb2.PredictRequest) -> grpc.RpcError:
    """The error ``request`` fails with."""
    with pytest.raises(grpc.RpcError) as failed:
        stub.Predict(request, timeout=30)
    return failed.value


def _assert_answered_rest(server, params: dict) -> None:
    """A REST generate request with ``params`` is answered with outputs of the contract's shapes."""
    status, body = _rest_generate(server, params)
    assert status == 200, body
    sequences = params["num_return_sequences"]
    outputs = body["outputs"]
    assert outputs["texts"] == [[text] * sequences for text in TEXTS]
    assert np.shape(outputs["token_ids"]) == (len(TEXTS), sequences, params["max_new_tokens"])
    assert np.shape(outputs["scores"]) == (len(TEXTS), sequences)


def _assert_answered_grpc(stub, params: dict) -> None:
    """A gRPC generate request with ``params`` is answered with outputs of the contract's shapes and dtypes."""
    outputs = _grpc_generate(stub, params)
    sequences = params["num_return_sequences"]
    assert outputs["texts"].shape == (len(TEXTS), sequences)
    assert (outputs["token_ids"].shape, outputs["token_ids"].dtype) == (
        (len(TEXTS), sequences, params["max_new_tokens"]), np.int32)
    assert (outputs["scores"].shape, outputs["scores"].dtype) == ((len(TEXTS), sequences), np.float32)


@pytest.mark.slow
def test_rest_generate_is_answered_refused_past_the_limit_and_by_the_graph_then_answered_again(server):
    _assert_answered_rest(server, _params())
    status, body = _rest_generate(server, _params(max_new_tokens=1024))  # 2 rows x 4 beams x 1024 = 8192
    assert status == 400 and body["error"].endswith(FLAG), body
    assert "8192 generated tokens" in body["error"]
    status, body = _rest_generate(server, _params(num_beams=17))  # within the limit; the graph's assert refuses it
    assert status == 400 and "num_beams must be in [1, 16]" in body["error"], body
    _assert_answered_rest(server, _params(num_return_sequences=3))


@pytest.mark.slow
def test_grpc_generate_is_answered_refused_past_the_limit_and_by_the_graph_then_answered_again(stub):
    _assert_answered_grpc(stub, _params())
    error = _grpc_error(stub, _grpc_request(_params(num_return_sequences=1024)))  # 2 x 1024 sequences x 8 tokens
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().endswith(FLAG), error.details()
    error = _grpc_error(stub, _grpc_request(_params(num_beams=0)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "num_beams must be in [1, 16]" in error.details()
    assert error.code().value[0] == 3
    _assert_answered_grpc(stub, _params(num_return_sequences=3))


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    {"max_new_tokens": -8}, {"num_beams": -1 << 31}, {"max_new_tokens": 0, "num_return_sequences": -5},
])
def test_zero_and_negative_parameters_are_left_to_the_graph(server, stub, overrides):
    status, body = _rest_generate(server, _params(**overrides))
    assert status == 400 and "must be" in body["error"] and FLAG not in body["error"], body
    assert _grpc_error(stub, _grpc_request(_params(**overrides))).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", [
    ({"max_new_tokens": "many"}, "expected an integer"),
    ({"max_new_tokens": 8.5}, "expected an integer"),
    ({"num_beams": 1 << 40}, "out of range for int32"),
    ({"num_beams": None}, "expected an integer"),
    ({"max_new_tokens": [8]}, "input 'max_new_tokens' has shape [1], but the signature expects []"),
    ({"temperature": "hot"}, "expected a number"),
])
def test_rest_garbled_scalars_are_400(server, overrides, message):
    status, body = _rest_generate(server, _params(**overrides))
    assert status == 400 and message in body["error"], body


@pytest.mark.slow
@pytest.mark.parametrize("name, proto", [
    ("max_new_tokens", tf.make_tensor_proto(np.float32(8.0))),
    ("max_new_tokens", tf.make_tensor_proto(np.array(["many"], object))),
    ("num_beams", tf.make_tensor_proto(np.array([4, 4], np.int32))),
])
def test_grpc_scalar_of_the_wrong_dtype_or_shape_is_invalid_argument(stub, name, proto):
    request = _grpc_request(_params())
    request.inputs[name].CopyFrom(proto)
    assert _grpc_error(stub, request).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.slow
def test_rest_row_format_cannot_carry_the_scalars_and_says_to_use_inputs(server):
    instances = [{"text": text, **_params()} for text in TEXTS]
    status, body = post_json(f"{server.rest_url}/v1/models/tiny_generator:predict",
                             {"signature_name": "generate", "instances": instances})
    assert status == 400 and "use the columnar format ('inputs')" in body["error"], body
    assert "'max_new_tokens'" in body["error"] and "\n" not in body["error"]


@pytest.mark.slow
def test_concurrent_requests_with_different_scalars_each_get_their_own_answer_with_batching(server):
    sequences = [1, 2, 3, 4] * 3
    with ThreadPoolExecutor(len(sequences)) as pool:
        answers = list(pool.map(lambda r: _rest_generate(server, _params(num_return_sequences=r)), sequences))
    for count, (status, body) in zip(sequences, answers):
        assert status == 200, body
        assert np.shape(body["outputs"]["token_ids"]) == (len(TEXTS), count, 8)


@pytest.mark.parametrize("feeds, asked", [
    ({"max_new_tokens": 64}, 64),  # no non-scalar input: one row
    ({"text": ["a"] * 4, "max_new_tokens": 64}, 256),  # missing num_beams and num_return_sequences count 1
    ({"text": ["a"] * 4, "max_new_tokens": 64, "num_beams": 4, "num_return_sequences": 2}, 1024),
    ({"text": ["a"] * 4, "max_new_tokens": 64, "num_beams": 2, "num_return_sequences": 4}, 1024),
    ({"text": ["a"] * 4, "max_new_tokens": 64, "num_beams": 0, "num_return_sequences": -3}, 256),
    ({"text": ["a"] * 4, "max_new_tokens": -64, "num_beams": 1 << 40}, 0),  # a negative product is not over
])
def test_check_generated_tokens_counts_rows_times_width_times_new_tokens(feeds, asked):
    arrays = {name: np.array(value, object if name == "text" else np.int64) for name, value in feeds.items()}
    RequestLimits(max_generated_tokens=max(asked, 1)).check_generated_tokens(arrays)
    if asked > 1:
        with pytest.raises(ServingError) as refused:
            RequestLimits(max_generated_tokens=asked - 1).check_generated_tokens(arrays)
        assert refused.value.code == "INVALID_ARGUMENT"
        assert refused.value.message.startswith(f"the request asks for up to {asked} generated tokens")
        assert refused.value.message.endswith(f"at most {asked - 1} {FLAG}")


@pytest.mark.parametrize("feeds", [
    {"text": np.array([b"a"], object)},  # not a generation request
    {"max_new_tokens": np.array(b"many", object)},  # not an integer: the signature's dtype check refuses it
    {"max_new_tokens": np.array(1e9, np.float32)},
    {"max_new_tokens": np.array([], np.int32), "num_beams": np.array(1 << 40)},  # empty: no tokens
])
def test_check_generated_tokens_leaves_what_it_cannot_count_to_the_other_checks(feeds):
    RequestLimits(max_generated_tokens=1).check_generated_tokens(feeds)


def test_the_flag_defaults_to_256_rows_of_256_tokens_and_must_be_positive():
    assert build_parser().parse_args([]).max_generated_tokens == RequestLimits().max_generated_tokens == 256 * 256
    with pytest.raises(UsageError, match="--max-generated-tokens: must be a positive integer, got 0"):
        build_parser().parse_args(["--max-generated-tokens", "0"])


def test_batcher_runs_requests_with_scalar_inputs_alone_with_their_own_scalars():
    seen = []

    def run(signature, feeds, fetches):
        seen.append((len(feeds["text"]), int(feeds["n"])))
        return {"texts": np.repeat(feeds["text"][:, np.newaxis], int(feeds["n"]), axis=1)}

    batcher = Batcher(run, BatchingOptions(max_batch_size=8, timeout_seconds=0.3, num_threads=1))
    answers: dict[int, tuple] = {}

    def call(n):
        answers[n] = batcher.run("generate", {"text": np.array([b"a", b"b"], object), "n": np.array(n)},
                                 ("texts",))["texts"].shape

    try:
        threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        batcher.close()
    assert answers == {1: (2, 1), 2: (2, 2), 3: (2, 3)}
    assert sorted(seen) == [(2, 1), (2, 2), (2, 3)]  # three runs of one request each, never a merged one
