"""zoo.serve.errors: TensorFlow's errors from a failed ``session.run`` reach clients as their canonical code and one
clean line (no "Graph execution error" preamble, no node annotations or definition tracebacks)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from zoo.serve.errors import ServingError, client_message, from_tf_error


def _session_error(build, value) -> ServingError:
    """What ``from_tf_error`` makes of the error a TF1 session raises running ``build(placeholder)`` on ``value``
    (the placeholder has ``value``'s dtype), as ``zoo.serve`` runs an export."""
    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.as_dtype(np.asarray(value).dtype), name="x")
        fetch = build(placeholder)
    with tf.compat.v1.Session(graph=graph) as session, pytest.raises(tf.errors.OpError) as failed:
        session.run(fetch, {placeholder: value})
    return from_tf_error(failed.value)


def _asserted(condition, data, **options):
    """A function of the placeholder that returns it once ``tf.debugging.Assert(condition(x), data(x))`` holds."""
    def build(x):
        with tf.control_dependencies([tf.debugging.Assert(condition(x), data(x), **options)]):
            return tf.identity(x)

    return build


@pytest.mark.parametrize("value, build, expected", [
    (np.int32(0), _asserted(lambda n: n >= 1, lambda n: ["num_beams must be in [1, 16]; got", n]),
     "num_beams must be in [1, 16]; got 0"),
    (np.float32(1.5), _asserted(lambda p: p <= 1.0, lambda p: ["top_p must be in (0, 1]; got", p]),
     "top_p must be in (0, 1]; got 1.5"),
    (np.int32(6), _asserted(lambda n: n <= 5, lambda n: ["max_new_tokens must be in [1, 5] (this export's bound); got",
                                                         n]),
     "max_new_tokens must be in [1, 5] (this export's bound); got 6"),
    (-np.arange(4, dtype=np.float32).reshape(2, 2), _asserted(
        lambda x: tf.reduce_all(x > 0), lambda x: ["all positive; got", x, 'a "tab"\there\nand \\ back'], summarize=4),
     r'all positive; got [-0 -1][-2 -3] a "tab" here and \ back'),
])
def test_a_failed_assertion_is_its_data_on_one_line(value, build, expected):
    error = _session_error(build, value)
    assert (error.code, error.message, error.http_status) == ("INVALID_ARGUMENT", expected, 400)


def test_a_tf_debugging_comparison_keeps_its_message_and_the_values():
    error = _session_error(lambda x: tf.debugging.assert_greater_equal(x, 1, message="n must be at least 1"),
                           np.int32(-8))
    assert error.message.startswith("n must be at least 1 Condition x >= y did not hold element-wise:")
    assert "= -8 " in error.message and "\n" not in error.message


@pytest.mark.parametrize("in_function", [False, True])
def test_other_errors_keep_their_reason_without_preamble_traceback_or_node_annotations(in_function):
    def reshaped(x):
        return tf.reshape(x, [2, 2])

    error = _session_error(tf.function(reshaped) if in_function else reshaped, np.ones(3, np.float32))
    assert (error.code, error.message) == (
        "INVALID_ARGUMENT", "Input to reshape is a tensor with 3 values, but the requested shape has 4")


@pytest.mark.parametrize("message, expected", [
    ("Servable not found", "Servable not found"),
    ("first line\n  second line", "first line second line"),
    ("Graph execution error:\n\n", "Graph execution error:"),  # nothing else: the message as it came, on one line
])
def test_messages_without_tensorflow_decoration_are_only_put_on_one_line(message, expected):
    assert client_message(message) == expected
