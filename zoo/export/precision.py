"""An export that computes in bfloat16 (``--set precision=bfloat16``), published only within stated loss bounds.

:func:`serving_precision` hands the exporter the recipe's own signatures (its ``servable``) built on the trained
model with every Keras layer switched to the ``mixed_bfloat16`` policy (:func:`computing_in`): the layers compute in
bfloat16, their kernels, biases and embedding tables held in bfloat16 for the export (:func:`stored_in`; a
normalization's scale and offset stay float32), and the signatures' floating outputs are cast back to float32, so a
client sees the dtypes of a float32 export. Before anything is written, the low-precision signatures run on
the test split beside the float32 ones; they are published only within the bounds:

- a classifier (``serving_default`` returns ``classes``): at most :data:`MAX_CLASS_CHANGES` of the test rows change
  class;
- an encoder (an ``embed`` signature): every test row's embedding has cosine at least :data:`MIN_EMBEDDING_COSINE`
  to its float32 embedding.

A generator (``serving_default`` returns ``token_ids``) is not bounded: the section reports how far its tokens agree
with float32's on the test split, and its test metrics (exact match, ROUGE, perplexity) from the recipe's own
``evaluate`` run on the low-precision model (the recipe's :meth:`~zoo.recipe.Recipe.retraced` traces its generators
anew under the bfloat16 policy).

Outside them, :class:`PrecisionLossError` (exit status 2, one line, nothing published). What was measured goes to
the model card's ``precision`` section. The trained model is float32 again when the block ends.

Example (a float32 model served in bfloat16):

>>> import keras, numpy as np, tensorflow as tf
>>> from zoo.export.signatures import Endpoint
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
>>> def servable(trained, splits):
...     return Servable(tracked=[model], endpoints={"serving_default": Endpoint(
...         fn=lambda x: {"y": model(x)}, input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")],
...         warmup={"x": np.ones((1, 4), np.float32)})})
>>> with computing_in(BFLOAT16, [model]):
...     low = float32_outputs(servable(None, None))
...     model.layers[0].compute_dtype, low.endpoints["serving_default"].fn(tf.ones((1, 4)))["y"].dtype
('bfloat16', tf.float32)
>>> model.layers[0].compute_dtype
'float32'
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

import keras
import numpy as np
import tensorflow as tf

from zoo.config import BFLOAT16, FLOAT32
from zoo.data.splits import Splits
from zoo.errors import ExportError, UsageError
from zoo.export.fused_layers import fused_layers, nested_layers
from zoo.export.signatures import Endpoint, GateTolerance, Servable

MAX_CLASS_CHANGES = 0.01  # share of the test rows whose predicted class may differ from float32's
MIN_EMBEDDING_COSINE = 0.99  # least cosine of a test row's embedding to its float32 embedding
KERAS_POLICY = {BFLOAT16: "mixed_bfloat16"}  # bfloat16 compute; the weights it would cast are held so (stored_in)
# The gate's tolerance for served vs in-memory outputs: the exported graph's kernels may round bfloat16 (8 bits of
# significand) differently from the in-memory run's, by a step or two, and a step propagates through the layers;
# where two tokens' logits are that close, a generator takes the other one and its sequence goes on from there
# (a random-init t5-small, say). Half of the generated tokens must still agree: a broken graph agrees on far fewer.
GATE_TOLERANCE = {BFLOAT16: GateTolerance(close=2 ** -5, agreement=0.5)}
BATCH = 64  # test rows per call while comparing
# The weights a layer casts to its compute dtype where it reads them (Dense, EinsumDense, Embedding, KerasHub's
# reversible embedding), which stored_in holds in the low precision; a normalization's gamma and beta are not cast.
CAST_WEIGHTS = frozenset({"kernel", "bias", "embeddings", "reverse_embeddings"})


class ExportingRecipe(Protocol):
    """What :func:`serving_precision` needs of a :class:`~zoo.recipe.Recipe`."""

    name: str

    def servable(self, trained: Any, splits: Splits) -> Servable: ...

    def retraced(self, trained: Any) -> Any: ...

    def evaluate(self, trained: Any, splits: Splits) -> dict[str, float]: ...


class PrecisionLossError(UsageError, ExportError):
    """The low-precision model is outside a loss bound: not exported. A usage error (exit status 2): the
    ``precision`` key is what to change."""


def keras_models(trained: Any) -> list[keras.layers.Layer]:
    """The Keras models (and layers) among the fields of a :class:`~zoo.recipe.Trained`."""
    values = (getattr(trained, field.name) for field in dataclasses.fields(trained))
    return [value for value in values if isinstance(value, keras.layers.Layer)]


def in_float32(activation: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``activation`` computed in float32 and returned in its input's dtype.

    Stock TensorFlow's CPU kernels for elementwise functions in bfloat16 can be slower than in float32: exporting a
    MiniLM classifier (``python -m bench.profile VERSION --signature classify``, batch 32 × 128 tokens) took its
    GELU's ``Erfc`` from 39 ms in float32 to 132 ms in bfloat16, while its matrix products fell from 516 to 264 ms.

    >>> relu = in_float32(keras.activations.relu)
    >>> relu(tf.constant([-1.0, 2.0], tf.bfloat16)).dtype.name
    'bfloat16'
    """

    @functools.wraps(activation)  # keeps __wrapped__: zoo.activations.fusable_form finds the activation
    def activation_in_float32(x):
        return tf.cast(activation(tf.cast(x, tf.float32)), x.dtype)

    return activation_in_float32


@contextlib.contextmanager
def stored_in(precision: str, layers: Iterable[keras.layers.Layer]) -> Iterator[None]:
    """Inside the block, the float32 weights of ``layers`` that Keras would cast to ``precision`` where a layer reads
    them (:data:`CAST_WEIGHTS`: kernels, biases, embedding tables; not a normalization's scale and offset, which
    Keras keeps in float32) are held in ``precision`` instead, as copies; the float32 variables are back afterwards.

    Under Keras' mixed policy a layer casts each float32 weight every time it runs: inside a decoding loop, at
    every step (for t5-small, 38 million weights a step; ``docs/performance.md``). Weights held in bfloat16 are
    read as they are, and an export saves them so.
    """
    held: dict[int, tuple[Any, Any, str]] = {}
    for layer in layers:
        for variable in layer.weights:
            if variable.name in CAST_WEIGHTS and variable.dtype == FLOAT32 and id(variable) not in held:
                held[id(variable)] = (variable, variable._value, variable._dtype)  # Keras' own fields: no public way
    try:
        for variable, value, _ in held.values():
            variable._value = tf.Variable(tf.cast(value, precision), trainable=False, name=variable.name)
            variable._dtype = precision
        yield
    finally:
        for variable, value, dtype in held.values():
            variable._value, variable._dtype = value, dtype


@contextlib.contextmanager
def computing_in(precision: str, models: Iterable[keras.layers.Layer]) -> Iterator[None]:
    """Inside the block, every float32 layer of ``models`` (nested ones too) computes in ``precision``, its
    weights held in ``precision`` (:func:`stored_in`), except the activation of a ``Dense`` or ``EinsumDense`` layer
    (a feed-forward block's GELU), which stays in float32 (see :func:`in_float32`) unless the export fuses it into the
    layer's product (:mod:`zoo.export.fused_layers`: oneDNN applies it to the float32 accumulator); each layer gets
    its float32 policy, weights and activation back afterwards."""
    switched = [layer for layer in nested_layers(models) if layer.dtype_policy.name == FLOAT32]
    activations = {id(layer): layer.activation for layer in switched
                   if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))
                   and layer.activation not in (None, keras.activations.linear)}
    try:
        for layer in switched:
            layer.dtype_policy = KERAS_POLICY[precision]
            if id(layer) in activations:
                layer.activation = in_float32(activations[id(layer)])
        with stored_in(precision, switched):
            yield
    finally:
        for layer in switched:
            layer.dtype_policy = FLOAT32
            if id(layer) in activations:
                layer.activation = activations[id(layer)]


def float32_outputs(servable: Servable) -> Servable:
    """``servable`` with every floating output of every signature cast to float32."""

    def cast(fn: Callable[..., Mapping[str, Any]]) -> Callable[..., dict[str, Any]]:
        def float32_fn(*inputs):
            return {name: tf.cast(value, tf.float32) if tf.as_dtype(value.dtype).is_floating else value
                    for name, value in fn(*inputs).items()}

        float32_fn.__signature__ = inspect.signature(fn)  # the inputs' names, which the signature is bound by
        return float32_fn

    endpoints = {name: dataclasses.replace(endpoint, fn=cast(endpoint.fn))
                 for name, endpoint in servable.endpoints.items()}
    return dataclasses.replace(servable, endpoints=endpoints)


def signature_outputs(endpoint: Endpoint, features: np.ndarray) -> dict[str, np.ndarray]:
    """A one-input signature's outputs on ``features``, :data:`BATCH` rows per call."""
    (spec,) = endpoint.input_signature
    fn = tf.function(endpoint.fn, input_signature=[spec])
    batches = [{k: np.asarray(v) for k, v in fn(tf.constant(features[i:i + BATCH], spec.dtype)).items()}
               for i in range(0, len(features), BATCH)]
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def outputs_on_test_split(servable: Servable, splits: Splits) -> dict[str, np.ndarray]:
    """What the bounds compare, on the test split: ``classes`` (a classifier) or ``token_ids`` (a generator) from
    ``serving_default`` and ``embeddings`` from ``embed`` (an encoder), as far as the servable has them."""
    features = np.asarray(splits.test[0])
    predictions = signature_outputs(servable.endpoints["serving_default"], features)
    outputs = {name: predictions[name] for name in ("classes", "token_ids") if name in predictions}
    if "embed" in servable.endpoints:
        outputs["embeddings"] = signature_outputs(servable.endpoints["embed"], features)["embeddings"]
    return outputs


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The least cosine between matching rows of ``a`` and ``b``.

    >>> min_cosine(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [1.0, 0.0]]))
    0.7071067811865475
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), np.finfo(np.float64).tiny)
    return float(np.min(np.sum(a * b, axis=1) / norms))


def judged(precision: str, reference: Mapping[str, np.ndarray], low: Mapping[str, np.ndarray],
           labels: np.ndarray | None, label_names: Sequence[str], model_name: str) -> dict[str, Any]:
    """The model card's ``precision`` section for ``low`` against the float32 ``reference`` outputs on the test rows
    (whose ``labels`` index ``label_names``); raises :class:`PrecisionLossError` naming the first bound that fails.

    >>> judged("bfloat16", {"classes": np.array([b"a", b"b"])}, {"classes": np.array([b"a", b"b"])},
    ...        np.array([0, 0]), ("a", "b"), "toy")["test_accuracy"]
    0.5
    """
    if not low:
        raise UsageError(f"precision={precision}: {model_name} has no classes, token_ids or embed to compare with "
                         f"float32; keep precision={FLOAT32}")
    rows = len(next(iter(low.values())))
    section: dict[str, Any] = {"dtype": precision, "keras_policy": KERAS_POLICY[precision], "test_rows": rows}
    refusal = f"not exporting {model_name} at precision={precision}"
    if "classes" in low:
        changed = float(np.mean(low["classes"] != reference["classes"]))
        section.update(class_changes=changed, max_class_changes=MAX_CLASS_CHANGES)
        if labels is not None and len(label_names):
            names = np.array([name.encode() for name in label_names], dtype=object)
            section["test_accuracy"] = float(np.mean(low["classes"] == names[labels]))
        if changed > MAX_CLASS_CHANGES:
            raise PrecisionLossError(f"{refusal}: the predicted class changes on {changed:.2%} of the {rows} test rows "
                                     f"(bound {MAX_CLASS_CHANGES:.0%}); keep precision={FLOAT32}")
    if "token_ids" in low:
        same = low["token_ids"] == reference["token_ids"]
        section.update(token_agreement=float(np.mean(same)),
                       identical_generations=float(np.mean(np.all(same.reshape(rows, -1), axis=1))))
    if "embeddings" in low:
        cosine = min_cosine(low["embeddings"], reference["embeddings"])
        section.update(min_embedding_cosine=cosine, min_embedding_cosine_bound=MIN_EMBEDDING_COSINE)
        if cosine < MIN_EMBEDDING_COSINE:
            raise PrecisionLossError(f"{refusal}: the least embedding cosine to float32 over the {rows} test rows is "
                                     f"{cosine:.4f} (bound {MIN_EMBEDDING_COSINE}); keep precision={FLOAT32}")
    return section


@contextlib.contextmanager
def serving_precision(precision: str, recipe: ExportingRecipe, trained: Any,
                      splits: Splits) -> Iterator[tuple[Servable, dict[str, Any]]]:
    """``recipe.servable(trained, splits)`` computing in ``precision``, and the model card's ``precision`` section;
    export inside the block (the gate's in-memory reference computes in ``precision`` too). At every precision the
    recipe's traced functions are traced anew with its layers in the forms oneDNN fuses
    (:func:`~zoo.export.fused_layers.fused_layers`). See the module docstring for the bounds it checks first."""
    models = keras_models(trained)
    if precision == FLOAT32:
        with fused_layers(models):
            yield recipe.servable(recipe.retraced(trained), splits), {"dtype": FLOAT32}
        return
    reference = outputs_on_test_split(recipe.servable(trained, splits), splits)
    with computing_in(precision, models), fused_layers(models):
        low_trained = recipe.retraced(trained)
        servable = dataclasses.replace(float32_outputs(recipe.servable(low_trained, splits)),
                                       gate_tolerance=GATE_TOLERANCE[precision])
        low = outputs_on_test_split(servable, splits)
        section = judged(precision, reference, low, splits.test[1], splits.label_names, recipe.name)
        if "token_ids" in low:
            section.update({name: value for name, value in recipe.evaluate(low_trained, splits).items()
                            if name.startswith("test_")})
        yield servable, section
