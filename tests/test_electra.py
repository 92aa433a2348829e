"""electra recipe: replaced-token detection as the paper defines it, and a tiny run that pretrains,
fine-tunes and exports a version passing the gate, with a per-token `replaced` signature on raw text."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.models.text.electra import ElectraPretrainer, write_selected


def tiny_discriminator():
    return keras_hub.models.ElectraBackbone(vocab_size=50, num_layers=1, num_heads=1, hidden_dim=16,
                                            embedding_dim=16, intermediate_dim=32, max_sequence_length=8)


def test_generator_shares_the_discriminator_embeddings():
    pretrainer = ElectraPretrainer(tiny_discriminator(), generator_hidden_dim=8, generator_layers=1)
    shared = pretrainer.discriminator.token_embedding.embeddings
    assert any(v is shared for v in pretrainer.generator.trainable_variables)
    assert len({id(v) for v in pretrainer.trainable_variables}) == len(pretrainer.trainable_variables)


def test_loss_is_generator_mlm_plus_50_times_discriminator_and_labels_follow_samples():
    keras.utils.set_random_seed(1)
    pretrainer = ElectraPretrainer(tiny_discriminator(), generator_hidden_dim=8, generator_layers=1)
    features = {"token_ids": tf.constant([[2, 4, 5, 6, 3, 0]]), "segment_ids": tf.zeros([1, 6], tf.int32),
                "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0]]), "mask_positions": tf.constant([[1, 3]])}
    mask_ids = tf.constant([[7, 8]])
    values = pretrainer.losses_on(features, mask_ids, tf.constant([[1.0, 1.0]]), training=False)
    np.testing.assert_allclose(values["loss"], values["generator_loss"] + 50 * values["discriminator_loss"], rtol=1e-6)
    # only the two selected positions can be replaced: at most 2 of the 5 real tokens
    assert 0.0 <= float(values["replaced_fraction"]) <= 2 / 5 + 1e-6


def test_unused_selection_slots_leave_cls_in_place():
    # MaskedLMMaskGenerator pads unused slots with position 0 and id 0; they must not overwrite [CLS] with [PAD]
    token_ids = tf.constant([[2, 4, 5, 6, 3, 0], [2, 9, 3, 0, 0, 0]])
    positions, selected = tf.constant([[1, 3, 0], [1, 0, 0]]), tf.constant([[True, True, False], [True, False, False]])
    written = write_selected(token_ids, positions, tf.constant([[7, 8, 0], [11, 0, 0]]), selected)
    assert written.numpy().tolist() == [[2, 7, 5, 8, 3, 0], [2, 11, 3, 0, 0, 0]]


def test_losses_are_float32_under_the_mixed_bfloat16_policy():
    """bench.pretraining_speed times the step under mixed_bfloat16: bfloat16 logits meet float32 labels there."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        pretrainer = ElectraPretrainer(tiny_discriminator(), generator_hidden_dim=8, generator_layers=0,
                                       shared_layers=1, disallow_correct=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    features = {"token_ids": tf.constant([[2, 4, 5, 6, 3, 0]]), "segment_ids": tf.zeros([1, 6], tf.int32),
                "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0]]), "mask_positions": tf.constant([[1, 3]])}
    # traced, as fit runs it (KerasHub's MaskedLMHead adds its float32 bias unconverted when called eagerly)
    values = tf.function(pretrainer.losses_on)(features, tf.constant([[7, 8]]), tf.constant([[1.0, 1.0]]), training=True)
    assert values["loss"].dtype == tf.float32 and np.isfinite(float(values["loss"]))
    assert float(values["replaced_fraction"]) == pytest.approx(2 / 5)


def test_shared_layers_put_the_discriminators_bottom_layers_inside_the_generator():
    discriminator = keras_hub.models.ElectraBackbone(vocab_size=50, num_layers=2, num_heads=1, hidden_dim=16,
                                                     embedding_dim=16, intermediate_dim=32, max_sequence_length=8)
    pretrainer = ElectraPretrainer(discriminator, generator_hidden_dim=8, generator_layers=0, shared_layers=1)
    generator = {id(v) for v in pretrainer.generator.trainable_variables}
    assert all(id(v) in generator for v in discriminator.transformer_layers[0].trainable_variables)
    assert not any(id(v) in generator for v in discriminator.transformer_layers[1].trainable_variables)


def test_disallow_correct_replaces_every_selected_token():
    keras.utils.set_random_seed(2)
    features = {"token_ids": tf.constant([[2, 4, 4, 4, 3, 0]] * 8), "segment_ids": tf.zeros([8, 6], tf.int32),
                "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0]] * 8), "mask_positions": tf.constant([[1, 3]] * 8)}
    mask_ids, mask_weights = tf.constant([[7, 7]] * 8), tf.constant([[1.0, 1.0]] * 8)
    for disallow_correct, expected in ((True, 2 / 5), (False, 0.0)):
        pretrainer = ElectraPretrainer(tiny_discriminator(), generator_hidden_dim=8, generator_layers=1,
                                       disallow_correct=disallow_correct)
        # make the generator certain of the original token: without disallow_correct it samples it back
        pretrainer.generator.get_layer("mlm_head")._bias.assign(tf.one_hot(7, 50) * 1e4)
        fraction = float(pretrainer.losses_on(features, mask_ids, mask_weights, training=False)["replaced_fraction"])
        assert fraction == pytest.approx(expected)


def test_a_high_temperature_samples_the_generators_unlikely_tokens():
    """At temperature 1 a generator 8 nats surer of token 8 samples it nearly always; at 100 nearly uniformly."""
    features = {"token_ids": tf.constant([[2, 4, 4, 4, 3, 0]] * 64), "segment_ids": tf.zeros([64, 6], tf.int32),
                "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0]] * 64), "mask_positions": tf.constant([[1, 3]] * 64)}
    mask_ids, mask_weights = tf.constant([[7, 7]] * 64), tf.constant([[1.0, 1.0]] * 64)
    shares = {}
    for temperature in (1.0, 100.0):
        keras.utils.set_random_seed(0)
        pretrainer = ElectraPretrainer(tiny_discriminator(), generator_hidden_dim=8, generator_layers=0,
                                       disallow_correct=True, temperature=temperature)
        pretrainer.generator.get_layer("mlm_head")._bias.assign(tf.one_hot(8, 50) * 8.0)
        corrupted = pretrainer.losses_on(features, mask_ids, mask_weights, training=False)["corrupted"].numpy()
        shares[temperature] = float(np.mean(corrupted[:, [1, 3]] == 8))
    assert shares[1.0] > 0.9 and shares[100.0] < 0.1


@pytest.mark.slow
def test_tiny_run_pretrains_fine_tunes_and_exports_through_the_gate(tmp_path):
    Electra = zoo.get_recipe("electra")
    config = Electra.Config(pretrain_steps=3, pretrain_batch_size=4, hidden_dim=32, num_layers=1, num_heads=1,
                            generator_hidden_dim=16, sequence_length=32, epochs=1, batch_size=8, max_examples=24)
    result = Electra(config, run_dir=tmp_path / "run", verbose=0).run(tmp_path / "exports")
    assert set(result.export.gate.signatures_run) == {"serving_default", "classify", "embed", "encode", "replaced"}
    pretraining = result.trained.pretraining
    assert pretraining["steps"] == 3 and 0.0 <= pretraining["replaced_auc"] <= 1.0 and pretraining["generator_loss"] > 0
    replaced = tf.saved_model.load(str(result.export.path)).signatures["replaced"](
        text=tf.constant(["the cat sat on the mat", "a"]))
    probabilities, token_ids = replaced["replaced_probabilities"].numpy(), replaced["token_ids"].numpy()
    assert probabilities.shape == token_ids.shape == (2, 8)
    assert ((probabilities >= 0) & (probabilities <= 1)).all() and not probabilities[1, 3:].any()


def test_pretrain_steps_zero_fine_tunes_an_encoder_that_was_never_pretrained():
    """The no-pretraining arm of the comparison: the initial encoder is the new one, its pretraining 0 steps."""
    Electra = zoo.get_recipe("electra")
    initial = Electra(Electra.Config(**{**Electra.tiny, "pretrain_steps": 0}), verbose=0).initial_encoder(splits=None)
    assert initial.pretraining == {"steps": 0, "seconds": 0.0}
    assert not initial.pretrainer.compiled  # never compiled, so never stepped
