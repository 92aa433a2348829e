"""Serving signatures for a model that generates text from raw strings (t5, gpt2).

``serving_default`` decodes as the export's config says (``text`` [None] in); ``generate`` takes the decoding options
with each request (:func:`zoo.models.text.decoding.generate_signature`); both are traced functions the recipe
builds. Their warmup requests: a few test texts, and for ``generate`` a two-beam search returning both beams, so the
warmup (and the export gate, which replays it) runs beam search, the branch with the most machinery.

Example:

>>> endpoints = text_generator_endpoints(generate, generate_on_request, ["Shares rose"], max_new_tokens=8)  # doctest: +SKIP
>>> sorted(endpoints)                                                                                     # doctest: +SKIP
['generate', 'serving_default']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from zoo.export.signatures import Endpoint


def beam_search_request(max_new_tokens: int) -> dict[str, np.ndarray]:
    """The option inputs of a ``generate`` request for a two-beam search returning both beams.

    >>> request = beam_search_request(8)
    >>> int(request["num_beams"]), int(request["num_return_sequences"]), int(request["max_new_tokens"])
    (2, 2, 8)
    """
    return {"max_new_tokens": np.int32(max_new_tokens), "num_beams": np.int32(2), "do_sample": np.bool_(False),
            "temperature": np.float32(1.0), "top_k": np.int32(0), "top_p": np.float32(1.0), "seed": np.int64(0),
            "num_return_sequences": np.int32(2)}


def text_generator_endpoints(generate: tf.types.experimental.GenericFunction,
                             generate_on_request: tf.types.experimental.GenericFunction,
                             warmup_texts: Sequence[str], max_new_tokens: int) -> dict[str, Endpoint]:
    """``serving_default`` (``generate``) and ``generate`` (``generate_on_request``), each with its warmup."""
    texts = np.array([str(text) for text in warmup_texts], dtype=object)
    return {
        "serving_default": Endpoint(fn=generate, input_signature=generate.input_signature, warmup={"text": texts}),
        "generate": Endpoint(fn=generate_on_request, input_signature=generate_on_request.input_signature,
                             warmup={"text": texts, **beam_search_request(max_new_tokens)}),
    }
