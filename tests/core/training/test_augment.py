import numpy as np

from core.training.augment import SpecAugment, build_augmenter


def test_image_augmentation_is_seeded_and_changes_the_input(rng):
    x = rng.random((4, 32, 32, 3)).astype("float32")
    first = np.asarray(build_augmenter("image", seed=3)(x, training=True))
    again = np.asarray(build_augmenter("image", seed=3)(x, training=True))
    other = np.asarray(build_augmenter("image", seed=4)(x, training=True))
    assert first.shape == x.shape
    np.testing.assert_allclose(first, again)
    assert not np.allclose(first, other) and not np.allclose(first, x)


def test_chart_augmentation_has_no_flip():
    layers = [layer.name for layer in build_augmenter("image", seed=0, flip="none").layers]
    assert not any("flip" in name for name in layers)


def test_spec_augment_masks_shifts_and_stays_in_range(rng):
    x = np.full((8, 32, 64, 1), 0.5, dtype="float32")
    out = np.asarray(SpecAugment(seed=1, noise_std=0.0, max_gain=0.0)(x, training=True))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    zero_rows = (out[..., 0] == 0).all(axis=2).any(axis=1)  # a fully masked mel band
    zero_cols = (out[..., 0] == 0).all(axis=1).any(axis=1)  # a fully masked time span
    assert zero_rows.mean() > 0.5 and zero_cols.mean() > 0.5
    ramp = np.tile(np.linspace(0, 1, 64, dtype="float32"), (8, 32, 1))[..., None]
    shifted = np.asarray(SpecAugment(seed=2, noise_std=0, max_gain=0, freq_mask=0, time_mask=0)(ramp, training=True))
    assert not np.allclose(shifted, ramp)
    np.testing.assert_allclose(np.sort(shifted[0, 0, :, 0]), np.sort(ramp[0, 0, :, 0]))  # circular: nothing lost
    np.testing.assert_allclose(SpecAugment(seed=1)(x, training=False), x)


def test_mild_augmentation_for_charts_only_shifts_and_zooms():
    names = [type(layer).__name__ for layer in build_augmenter("image", seed=0, strength="mild").layers]
    assert names == ["RandomTranslation", "RandomZoom"]  # never a flip, a rotation or a colour change
    assert build_augmenter("image", seed=0, strength="none") is None
    (spec,) = build_augmenter("sound", seed=0, strength="mild").layers
    assert spec.noise_std == spec.freq_mask == spec.time_mask == 0 and spec.max_shift > 0
