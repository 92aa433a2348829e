"""Greedy search, sampling and beam search in stock TensorFlow ops, for any autoregressive decoder.

One decoding module for every generator in the zoo (t5 now, gpt2 next). A model brings a *step*: ``steps(fan)``
returns ``(step, state)`` where ``state`` holds each source row repeated ``fan`` times (rows ordered source-major)
and ``step(index, tokens, generated, state) → (logits [rows, vocabulary], state)`` feeds the newest token of every
row (``generated`` [rows, length] holds the tokens so far, for models that recompute the prefix). Every tensor of
``state`` has the rows on axis 0, so beam search can reorder it with a gather; a key/value cache is just state.
Logits may come in bfloat16 (a model exported at ``precision=bfloat16``): the search itself runs in float32, and
:func:`attention_weights` gives the models' attention float32's softmax.

The search follows Hugging Face ``generate`` (transformers 5) so its tokens and scores can be held against it:

- **greedy** (``num_beams=1``, ``do_sample=False``): the argmax at every step;
- **sampling** (``do_sample=True``): the logits divided by ``temperature``, then ``top_k`` (0 = off), then ``top_p``
  (1.0 = off; the smallest set of tokens whose probability reaches ``top_p``, at least one), then a draw.
  ``num_return_sequences`` rows are drawn per input. The draw is a Gumbel-max over stateless uniform noise keyed
  by ``(seed, step)`` and the return-sequence index alone, so a fixed seed repeats, and an input's samples do not
  depend on the other inputs in its batch (two equal inputs in one request get equal samples);
- **beam search** (``num_beams>1``): Hugging Face's vectorised beam search: the ``2 * num_beams`` best
  continuations of all beams, the best ``num_beams`` unfinished ones run on, those of the best ``num_beams`` that end
  (eos, or the last step) join the finished hypotheses scored ``sum of log-probs / length ** length_penalty``, and
  with ``early_stopping=False`` a row stops when its best running beam, at the current length, cannot beat its worst
  finished hypothesis. Beam sampling (``do_sample`` with ``num_beams>1``) is refused.

Each row's tokens stop at its eos; later positions hold ``pad``. Scores: beam search's ``sequences_scores``; for
greedy and sampling, the mean log-probability under the model (before temperature, top-k and top-p) of the
generated tokens, eos included.

Example, on a toy decoder whose logits favour token ``(previous + 1) mod 5``, eos 4:

>>> import tensorflow as tf
>>> def steps(fan):
...     def step(index, tokens, generated, state):
...         return 3.0 * tf.one_hot((tokens + 1) % 5, 5), state
...     return step, ()
>>> options = GenerationOptions(max_new_tokens=6, num_beams=2, num_return_sequences=2)
>>> tokens, scores = decode(steps, batch=1, options=options, bound=6, eos_id=4, pad_id=0, start_id=1)
>>> tokens.numpy().tolist()
[[[2, 3, 4, 0, 0, 0], [2, 3, 0, 1, 2, 3]]]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import tensorflow as tf

from zoo.config import MAX_BEAMS

_NEG = -1.0e9  # Hugging Face's score for "not a candidate"


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """How to decode: each field a Python value (fixed at export) or a scalar tensor (chosen per request).

    >>> GenerationOptions(num_beams=4).is_beam_search
    True
    """

    max_new_tokens: Any = 20
    num_beams: Any = 1
    do_sample: Any = False
    temperature: Any = 1.0
    top_k: Any = 0
    top_p: Any = 1.0
    seed: Any = 0
    num_return_sequences: Any = 1
    length_penalty: float = 1.0  # always fixed at export
    early_stopping: bool = False  # always fixed at export

    @classmethod
    def of(cls, config: Any) -> "GenerationOptions":
        """The options a recipe's config fixes at export (its ``max_new_tokens``, the :class:`zoo.GenerationConfig`
        keys and ``seed``): one sequence per input.

        >>> import zoo
        >>> GenerationOptions.of(zoo.get_recipe("t5").Config(max_new_tokens=8, num_beams=2)).num_beams
        2
        """
        return cls(config.max_new_tokens, config.num_beams, config.do_sample, config.temperature, config.top_k,
                   config.top_p, config.seed, 1, config.length_penalty, config.beam_early_stopping)

    @property
    def is_beam_search(self) -> Any:
        """A Python bool when ``num_beams`` is one; else a boolean tensor."""
        return self.num_beams > 1


# The per-request inputs of every generator's ``generate`` signature (beside ``text``), in GenerationOptions' order.
OPTION_SPECS = (
    tf.TensorSpec([], tf.int32, name="max_new_tokens"),
    tf.TensorSpec([], tf.int32, name="num_beams"),
    tf.TensorSpec([], tf.bool, name="do_sample"),
    tf.TensorSpec([], tf.float32, name="temperature"),
    tf.TensorSpec([], tf.int32, name="top_k"),
    tf.TensorSpec([], tf.float32, name="top_p"),
    tf.TensorSpec([], tf.int64, name="seed"),
    tf.TensorSpec([], tf.int32, name="num_return_sequences"),
)

Steps = Callable[[Any], tuple[Callable, Any]]


def generate_signature(decoded: Callable[[tf.Tensor, GenerationOptions], dict], length_penalty: float = 1.0,
                       early_stopping: bool = False) -> tf.types.experimental.GenericFunction:
    """The ``generate`` signature's function: ``text`` [None] and the :data:`OPTION_SPECS` scalars, passed to
    ``decoded(text, options)`` (which returns the outputs), with ``length_penalty`` and ``early_stopping`` fixed."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"), *OPTION_SPECS])
    def generate(text, max_new_tokens, num_beams, do_sample, temperature, top_k, top_p, seed, num_return_sequences):
        return decoded(text, GenerationOptions(max_new_tokens, num_beams, do_sample, temperature, top_k, top_p, seed,
                                               num_return_sequences, length_penalty, early_stopping))

    return generate


def checks(options: GenerationOptions, bound: int) -> list[tf.Operation]:
    """Assertions that fail with INVALID_ARGUMENT and a one-line reason when a request's options are out of range.

    Run them before decoding (``tf.control_dependencies``): a bad value must not reach the loop. ``bound`` is the
    most new tokens the export allows.
    """
    o = options
    sampling = tf.cast(o.do_sample, tf.bool)
    beams = tf.cast(o.num_beams, tf.int32)
    returned = tf.cast(o.num_return_sequences, tf.int32)
    max_new = tf.cast(o.max_new_tokens, tf.int32)
    rules = [
        ((max_new >= 1) & (max_new <= bound), f"max_new_tokens must be in [1, {bound}] (this export's bound); got",
         max_new),
        ((beams >= 1) & (beams <= MAX_BEAMS), f"num_beams must be in [1, {MAX_BEAMS}]; got", beams),
        ((returned >= 1) & (returned <= MAX_BEAMS), f"num_return_sequences must be in [1, {MAX_BEAMS}]; got", returned),
        ((beams == 1) | (returned <= beams), "num_return_sequences must be at most num_beams; got", returned),
        (sampling | (beams > 1) | (returned == 1),
         "greedy search returns one sequence: num_return_sequences must be 1 (or set num_beams or do_sample); got",
         returned),
        (~sampling | (beams == 1), "do_sample with num_beams > 1 (beam sampling) is not supported; num_beams", beams),
        (~sampling | (tf.cast(o.temperature, tf.float32) > 0.0), "temperature must be above 0 when sampling; got",
         tf.cast(o.temperature, tf.float32)),
        (tf.cast(o.top_k, tf.int32) >= 0, "top_k must be 0 (off) or more; got", tf.cast(o.top_k, tf.int32)),
        ((tf.cast(o.top_p, tf.float32) > 0.0) & (tf.cast(o.top_p, tf.float32) <= 1.0),
         "top_p must be in (0, 1]; got", tf.cast(o.top_p, tf.float32)),
    ]
    return [tf.debugging.Assert(holds, [message, value], name="generation_option_check")
            for holds, message, value in rules]


def decode(steps: Steps, batch: Any, options: GenerationOptions, bound: int, eos_id: Any, pad_id: int,
           start_id: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Token ids int32 [batch, R, max_new_tokens] (``pad`` after each eos) and scores float32 [batch, R].

    R is ``num_return_sequences``. ``steps`` builds the model's step for a fan of rows per input (see the module
    docstring); ``bound`` is the length the model's caches were built for (``max_new_tokens`` ≤ ``bound``).
    """
    with tf.control_dependencies(checks(options, bound)):
        max_new = tf.identity(tf.cast(options.max_new_tokens, tf.int32))
    search = _Search(steps, batch, options, max_new, eos_id, pad_id, start_id)
    return _choose(options.is_beam_search, search.beams, search.rows)


def _choose(condition: Any, if_true: Callable, if_false: Callable) -> Any:
    """``if_true()`` or ``if_false()``: chosen in Python for a Python bool, by ``tf.cond`` for a tensor."""
    if isinstance(condition, (bool, int)):
        return if_true() if condition else if_false()
    return tf.cond(condition, if_true, if_false)


def _while(running: Callable, body: Callable, start: tuple) -> tuple:
    """``tf.while_loop`` whose loop variables keep the static shapes they enter with (what a Python option makes
    static, such as the number of beams, a gather or reshape in the body would otherwise blur)."""
    def shaped_body(*variables):
        return tf.nest.map_structure(lambda new, old: tf.ensure_shape(new, old.shape), body(*variables), variables)

    return tf.while_loop(running, shaped_body, start)


def _write(buffer: tf.Tensor, index: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """``buffer`` [..., length] with position ``index`` of its last axis set to ``values`` [...]."""
    here = tf.equal(tf.range(tf.shape(buffer)[-1]), index)
    return tf.where(here, values[..., tf.newaxis], buffer)


@dataclasses.dataclass
class _Search:
    steps: Steps
    batch: Any
    options: GenerationOptions
    max_new: tf.Tensor
    eos_id: Any
    pad_id: int
    start_id: int

    def float32_steps(self, fan: tf.Tensor) -> tuple[Callable, Any]:
        """The model's step for ``fan`` rows per input (``steps``), its logits cast to float32: the search runs in
        float32 whatever the model computes in (a no-op cast for a float32 model)."""
        step, state = self.steps(fan)

        def float32_step(*arguments):
            logits, state = step(*arguments)
            return tf.cast(logits, tf.float32), state

        return float32_step, state

    # ------------------------------------------------------------------ greedy search and sampling: rows apart
    def rows(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Each of ``num_return_sequences`` rows per input decoded on its own (argmax or a draw)."""
        fan = tf.cast(self.options.num_return_sequences, tf.int32)
        step, state = self.float32_steps(fan)
        count = self.batch * fan

        def body(index, tokens, generated, finished, log_prob_sum, lengths, state):
            logits, state = step(index, tokens, generated, state)
            log_probs = tf.nn.log_softmax(logits)
            chosen = _choose(self.options.do_sample, lambda: self.sampled(logits, index, fan),
                             lambda: tf.argmax(logits, axis=-1, output_type=tf.int32))
            chosen = tf.where(finished, self.pad_id, chosen)
            live = tf.cast(~finished, tf.float32)
            log_prob_sum += live * tf.gather(log_probs, chosen, batch_dims=1)
            lengths += live
            return (index + 1, chosen, _write(generated, index, chosen), finished | tf.equal(chosen, self.eos_id),
                    log_prob_sum, lengths, state)

        def running(index, tokens, generated, finished, *_):
            return (index < self.max_new) & ~tf.reduce_all(finished)

        start = (tf.constant(0), tf.fill([count], self.start_id), tf.fill([count, self.max_new], self.pad_id),
                 tf.zeros([count], tf.bool), tf.zeros([count]), tf.zeros([count]), state)
        _, _, generated, _, log_prob_sum, lengths, _ = _while(running, body, start)
        return (tf.reshape(generated, [self.batch, fan, self.max_new]),
                tf.reshape(log_prob_sum / tf.maximum(lengths, 1.0), [self.batch, fan]))

    def sampled(self, logits: tf.Tensor, index: tf.Tensor, fan: tf.Tensor) -> tf.Tensor:
        """One token per row drawn from temperature-scaled, top-k then top-p filtered ``logits`` (rows input-major,
        ``fan`` per input); the noise of return sequence r at step ``index`` depends only on (seed, index, r)."""
        o = self.options
        scores = logits / tf.cast(o.temperature, logits.dtype)
        top_k = tf.cast(o.top_k, tf.int32)
        scores = tf.cond(top_k > 0, lambda: top_k_filtered(scores, top_k), lambda: scores)
        top_p = tf.cast(o.top_p, tf.float32)
        scores = tf.cond(top_p < 1.0, lambda: top_p_filtered(scores, top_p), lambda: scores)
        seed = tf.stack([tf.cast(o.seed, tf.int64), tf.cast(index, tf.int64)])
        uniform = tf.random.stateless_uniform([fan, tf.shape(scores)[-1]], seed, minval=1e-20, maxval=1.0)
        gumbel = tf.tile(-tf.math.log(-tf.math.log(uniform)), [tf.shape(scores)[0] // fan, 1])
        return tf.argmax(scores + gumbel, axis=-1, output_type=tf.int32)

    # ------------------------------------------------------------------ beam search: rows of an input together
    def beams(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Hugging Face's beam search: the best ``num_return_sequences`` finished hypotheses per input."""
        o = self.options
        k = tf.cast(o.num_beams, tf.int32)
        step, state = self.float32_steps(k)
        b, length = self.batch, self.max_new
        penalty, early_stopping = float(o.length_penalty), bool(o.early_stopping)
        top_k_mask = tf.range(2 * k) < k  # only the best num_beams candidates may finish

        def body(index, tokens, running, running_scores, finished, finished_scores, is_finished, improvable, state):
            logits, state = step(index, tokens, tf.reshape(running, [b * k, length]), state)
            vocabulary = tf.shape(logits)[-1]
            log_probs = tf.reshape(tf.nn.log_softmax(logits), [b, k, vocabulary]) + running_scores[:, :, tf.newaxis]
            top_scores, top_flat = tf.math.top_k(tf.reshape(log_probs, [b, -1]), 2 * k)
            source_beam, token = top_flat // vocabulary, top_flat % vocabulary
            candidates = _write(tf.gather(running, source_beam, batch_dims=1), index, token)  # [b, 2k, length]
            ends = tf.equal(token, self.eos_id) | tf.equal(index + 1, length)

            # The best num_beams candidates that did not end run on.
            running_scores, keep = tf.math.top_k(top_scores + tf.cast(ends, tf.float32) * _NEG, k)
            running = tf.gather(candidates, keep, batch_dims=1)
            rows = tf.reshape(tf.gather(source_beam, keep, batch_dims=1) + tf.range(b)[:, tf.newaxis] * k, [-1])
            state = tf.nest.map_structure(lambda s: tf.gather(s, rows), state)

            # Those of the best num_beams that ended join the finished hypotheses, if they can still improve them.
            just_finished = ends & top_k_mask[tf.newaxis, :]
            normalised = top_scores / tf.cast(index + 1, tf.float32) ** penalty
            closed = ~improvable[:, tf.newaxis]
            if early_stopping:
                closed |= tf.reduce_all(is_finished, axis=1, keepdims=True)
            normalised += tf.cast(closed, tf.float32) * _NEG + tf.cast(~just_finished, tf.float32) * _NEG
            merged_scores = tf.concat([finished_scores, normalised], axis=1)
            _, best = tf.math.top_k(merged_scores, k)
            finished = tf.gather(tf.concat([finished, candidates], axis=1), best, batch_dims=1)
            finished_scores = tf.gather(merged_scores, best, batch_dims=1)
            is_finished = tf.gather(tf.concat([is_finished, just_finished], axis=1), best, batch_dims=1)

            # Hugging Face's heuristic: can the best running beam, at today's length, beat the worst finished one?
            best_running = running_scores[:, 0] / tf.cast(index + 1, tf.float32) ** penalty
            worst_finished = tf.where(is_finished, tf.reduce_min(finished_scores, axis=1, keepdims=True), _NEG)
            improvable &= tf.reduce_any(best_running[:, tf.newaxis] > worst_finished, axis=1)
            stop = tf.reduce_all(ends)
            if early_stopping:
                stop |= tf.reduce_all(is_finished)
            return (tf.where(stop, length, index + 1), tf.reshape(running[:, :, index], [-1]),
                    running, running_scores, finished, finished_scores, is_finished, improvable, state)

        def searching(index, *_rest):
            improvable = _rest[-2]
            return (index < length) & tf.reduce_any(improvable)

        first_beam_only = tf.where(tf.range(k) == 0, 0.0, _NEG)
        start = (tf.constant(0), tf.fill([b * k], self.start_id), tf.fill([b, k, length], self.pad_id),
                 tf.tile(first_beam_only[tf.newaxis, :], [b, 1]), tf.fill([b, k, length], self.pad_id),
                 tf.fill([b, k], _NEG), tf.zeros([b, k], tf.bool), tf.ones([b], tf.bool), state)
        loop = _while(searching, body, start)
        finished, finished_scores = loop[4], loop[5]
        returned = tf.cast(o.num_return_sequences, tf.int32)
        return finished[:, :returned], finished_scores[:, :returned]


def attention_weights(scores: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """``softmax(scores + bias)`` over the last axis, computed in float32 and returned in ``scores``' dtype, so a
    model that computes in bfloat16 keeps float32's masking (``bias`` -1e9) and normalisation; no-op casts in float32.

    >>> scores = tf.constant([[1.0, 2.0]], tf.bfloat16)
    >>> weights = attention_weights(scores, tf.constant([[0.0, -1e9]]))
    >>> weights.dtype.name, weights.numpy().astype(float).tolist()
    ('bfloat16', [[1.0, 0.0]])
    """
    weights = tf.nn.softmax(tf.cast(scores, tf.float32) + tf.cast(bias, tf.float32), axis=-1)
    return tf.cast(weights, scores.dtype)


def head_major(states: tf.Tensor) -> tf.Tensor:
    """[batch, length, heads, head_dim] → [batch, heads, length, head_dim]: the layout a decoder's key/value cache
    is kept in, so each step's attention products are batched matrix products that read the cache as it lies.
    (An einsum over ``bqnd,bknd`` copied every layer's whole cache into this layout at every step: 37% of the op
    time of a t5-small greedy call, batch 32 × 64 new tokens, in ``python -m bench.profile``.)

    >>> head_major(tf.zeros([2, 5, 3, 4])).shape.as_list()
    [2, 3, 5, 4]
    """
    return tf.transpose(states, [0, 2, 1, 3])


def top_k_filtered(scores: tf.Tensor, top_k: tf.Tensor) -> tf.Tensor:
    """``scores`` [rows, vocabulary] with all but each row's ``top_k`` highest set to -inf (ties kept).

    >>> top_k_filtered(tf.constant([[1.0, 3.0, 2.0]]), tf.constant(2)).numpy().tolist()
    [[-inf, 3.0, 2.0]]
    """
    k = tf.minimum(top_k, tf.shape(scores)[-1])
    kth = tf.math.top_k(scores, k).values[:, -1:]
    return tf.where(scores < kth, float("-inf"), scores)


def top_p_filtered(scores: tf.Tensor, top_p: tf.Tensor) -> tf.Tensor:
    """``scores`` with -inf outside each row's nucleus: its most probable tokens, in order, until their probability
    reaches ``top_p`` (Hugging Face's rule: a token goes when the tokens less probable than it, it included, hold at
    most ``1 - top_p``; the most probable always stays).

    >>> tf.math.is_finite(top_p_filtered(tf.math.log(tf.constant([[0.5, 0.3, 0.2]])), tf.constant(0.7))).numpy()
    array([[ True,  True, False]])
    """
    ordered = tf.math.top_k(scores, tf.shape(scores)[-1]).values  # descending
    from_the_tail = tf.cumsum(tf.nn.softmax(ordered), axis=-1, reverse=True)
    kept = (from_the_tail > 1.0 - top_p) | (tf.range(tf.shape(scores)[-1]) == 0)
    least_kept = tf.reduce_min(tf.where(kept, ordered, float("inf")), axis=-1, keepdims=True)
    return tf.where(scores < least_kept, float("-inf"), scores)
