"""What a recipe hands to the exporter: the objects to save, and one endpoint per serving signature.

Example (a ``half_plus_two`` servable, the model TF Serving's own tests use):

>>> import numpy as np, tensorflow as tf
>>> servable = Servable(tracked=[], endpoints={"serving_default": Endpoint(
...     fn=lambda x: {"y": 0.5 * x + 2.0},
...     input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
...     warmup={"x": np.array([1.0, 2.0, 5.0], np.float32)})})
>>> sorted(servable.endpoints)
['serving_default']
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


@dataclasses.dataclass
class Endpoint:
    """One serving signature.

    ``fn`` takes the inputs named by ``input_signature`` (positionally, in that order) and returns a dict
    of named outputs. ``warmup`` holds example inputs by name; they become the warmup requests and the
    validation gate's test cases. ``method`` is the TF Serving method name; ``CLASSIFY`` endpoints take one
    DT_STRING input ``inputs`` of serialized ``tf.Example`` and return ``classes`` and/or ``scores``.
    """

    fn: Callable[..., Mapping[str, Any]]
    input_signature: Sequence[tf.TensorSpec]
    warmup: Mapping[str, np.ndarray]
    method: str = PREDICT

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.input_signature]
        if any(not n for n in names):
            raise ValueError("every TensorSpec in an endpoint's input_signature needs a name")
        if sorted(names) != sorted(self.warmup):
            raise ValueError(f"warmup inputs {sorted(self.warmup)} must match the signature's inputs {names}")
        if self.method == CLASSIFY and names != ["inputs"]:
            raise ValueError("a classify endpoint takes exactly one input named 'inputs' (serialized tf.Example)")


@dataclasses.dataclass(frozen=True)
class GateTolerance:
    """How far the validation gate lets served outputs be from the in-memory ones (:mod:`zoo.export.gate`).

    ``close``: the absolute and relative difference allowed in a float output. ``agreement``: the least share of a
    discrete output's values (class names, token ids, generated text) that must equal the in-memory ones. A float32
    export gets the defaults: 1e-5, and every value equal. A bfloat16 one (:mod:`zoo.export.precision`) gets more:
    the served graph's kernels may round differently from the in-memory run's, and where two tokens' logits are
    nearly tied, a generator may pick the other one and go on from there.

    >>> GateTolerance().agreement
    1.0
    """

    close: float = 1e-5
    agreement: float = 1.0


@dataclasses.dataclass
class Servable:
    """Everything an export writes: ``tracked`` objects (models, tokenizers, tables) and the endpoints, and what
    the validation gate tolerates between the served outputs and the in-memory ones (:class:`GateTolerance`)."""

    tracked: list[Any]
    endpoints: dict[str, Endpoint]
    gate_tolerance: GateTolerance = GateTolerance()

    def __post_init__(self) -> None:
        if "serving_default" not in self.endpoints:
            raise ValueError("a servable needs a 'serving_default' endpoint")


def example_classifier(
    feature_spec: Mapping[str, tf.io.FixedLenFeature],
    scores_fn: Callable[[dict[str, tf.Tensor]], tf.Tensor],
    label_names: Sequence[str],
    warmup_examples: Sequence[tf.train.Example],
) -> Endpoint:
    """A TF Serving ``:classify`` endpoint: parse ``tf.Example`` with ``feature_spec``, score, label.

    Returns ``classes`` (string [batch, k], the label names) and ``scores`` (float [batch, k]).
    """
    labels = list(label_names)

    def classify(inputs):
        features = tf.io.parse_example(inputs, dict(feature_spec))
        scores = scores_fn(features)
        classes = tf.broadcast_to(tf.constant(labels), tf.shape(scores))
        return {"classes": classes, "scores": scores}

    serialized = np.array([example.SerializeToString() for example in warmup_examples], dtype=object)
    return Endpoint(
        fn=classify,
        input_signature=[tf.TensorSpec([None], tf.string, name="inputs")],
        warmup={"inputs": serialized},
        method=CLASSIFY,
    )


def int64_example(**features: Sequence[int]) -> tf.train.Example:
    """A ``tf.Example`` whose features are int64 lists (``int64_example(images=[0, 255, ...])``)."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                name: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
                for name, values in features.items()
            }
        )
    )


def bytes_example(**features: Sequence[bytes]) -> tf.train.Example:
    """A ``tf.Example`` whose features are bytes lists (``bytes_example(text=[b"..."])``)."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                name: tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))
                for name, values in features.items()
            }
        )
    )
