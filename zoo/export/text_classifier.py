"""Serving signatures for a model that maps raw strings to class probabilities (lstm, bert, electra).

``serving_default`` takes ``text`` (DT_STRING [None]) and returns ``probabilities`` [None, k] and ``classes``
(the label name of the most probable class, DT_STRING [None]); ``classify`` is TF Serving's ``:classify``
over ``tf.Example`` with a bytes feature ``text``, returning every label name with its score.

Example:

>>> servable = text_classifier_servable(model, ["business", "sport"], ["Shares rose", "A late goal"])  # doctest: +SKIP
>>> sorted(servable.endpoints)                                                                       # doctest: +SKIP
['classify', 'serving_default']
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from zoo.export.signatures import Endpoint, Servable, bytes_example, example_classifier


def text_classifier_servable(
    model: Callable[[tf.Tensor], tf.Tensor],
    label_names: Sequence[str],
    warmup_texts: Sequence[str],
    tracked: Sequence[Any] = (),
) -> Servable:
    """Signatures for ``model`` (strings [batch] → probabilities [batch, k]); ``tracked`` defaults to ``[model]``."""
    names = tf.constant(list(label_names))
    texts = np.array([t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in warmup_texts], dtype=object)

    def probabilities_of(text):
        return model(text, training=False)

    def predict(text):
        probabilities = probabilities_of(text)
        return {"probabilities": probabilities, "classes": tf.gather(names, tf.argmax(probabilities, axis=-1))}

    return Servable(
        tracked=list(tracked) or [model],
        endpoints={
            "serving_default": Endpoint(
                fn=predict,
                input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                warmup={"text": texts},
            ),
            "classify": example_classifier(
                {"text": tf.io.FixedLenFeature([], tf.string)},
                lambda features: probabilities_of(features["text"]),
                label_names,
                [bytes_example(text=[t]) for t in texts],
            ),
        },
    )
