"""T5 span corruption: noise density, span lengths, sentinel order, and inputs + targets = the original."""

import numpy as np
import pytest

from zoo.models.text.span_corruption import noise_mask, reconstruct, span_corrupt

SENTINELS = list(range(999, 899, -1))  # <extra_id_0> = 999, <extra_id_1> = 998, ...
EOS = 1


def spans_of(mask):
    """Lengths of the runs of True in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


@pytest.mark.parametrize("length", [2, 3, 10, 37, 255, 512])
def test_noise_count_is_rounded_density_and_first_token_is_kept(length):
    for seed in range(20):
        mask = noise_mask(length, np.random.default_rng(seed))
        assert mask.shape == (length,) and mask.dtype == bool and not mask[0]
        assert mask.sum() == min(max(round(length * 0.15), 1), length - 1)


def test_span_count_and_mean_length_follow_t5():
    lengths = []
    for seed in range(200):
        mask = noise_mask(512, np.random.default_rng(seed))
        spans = spans_of(mask)
        assert len(spans) == round(77 / 3) and spans.min() >= 1  # 77 = round(512 * 0.15) noise tokens
        lengths.extend(spans.tolist())
    assert np.mean(lengths) == pytest.approx(77 / 26)  # every draw: 77 tokens in 26 spans, mean ≈ 3
    assert max(lengths) > 3 and min(lengths) == 1  # lengths vary, they are not all the mean


def test_density_and_span_length_are_configurable():
    mask = noise_mask(1000, np.random.default_rng(0), noise_density=0.5, mean_span_length=10)
    assert mask.sum() == 500 and len(spans_of(mask)) == 50


def test_sentinels_appear_in_order_in_inputs_and_targets():
    tokens = np.arange(10, 266)
    inputs, targets = span_corrupt(tokens, np.random.default_rng(1), SENTINELS, EOS)
    in_inputs = [t for t in inputs.tolist() if t in SENTINELS]
    in_targets = [t for t in targets.tolist() if t in SENTINELS]
    assert in_inputs == in_targets == SENTINELS[: len(in_inputs)]
    assert inputs[-1] == EOS and targets[-1] == EOS and targets[0] == SENTINELS[0]
    assert inputs.dtype == targets.dtype == np.int32


@pytest.mark.parametrize("seed", range(25))
def test_inputs_and_targets_reconstruct_the_original(seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(3, 800, size=int(rng.integers(2, 300)))
    inputs, targets = span_corrupt(tokens, rng, SENTINELS, EOS)
    np.testing.assert_array_equal(reconstruct(inputs, targets, SENTINELS, EOS), tokens)
    noise = len(targets) - 1 - sum(t in SENTINELS for t in targets.tolist())
    assert len(inputs) - 1 - sum(t in SENTINELS for t in inputs.tolist()) == len(tokens) - noise


def test_too_few_sentinels_or_tokens_is_a_clear_error():
    with pytest.raises(ValueError, match="sentinels"):
        span_corrupt(np.arange(3, 303), np.random.default_rng(0), SENTINELS[:2], EOS)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        noise_mask(1, np.random.default_rng(0))
