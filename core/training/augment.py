"""Seeded data augmentation for images and spectrograms.

Augmentation is a Keras model applied to training batches only, outside the
classifier, so saved and exported models contain no random layers. It is
plain Keras (no TensorFlow import), so it runs on any Keras backend;
`core.training.batches` feeds it.

`--augment auto` (the default) is made concrete once per run, from the
training images, by `choose_augmentation`: "mild" for charts and documents,
which a flip or a colour change would make say something else
(`core.inputs.charts`), "standard" for other images and for sounds.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from core.config import AUGMENT_MODES, FLIP_MODES
from core.inputs.charts import CHART_CUTOFF, chart_score, looks_like_charts, sample_rows


@keras.saving.register_keras_serializable(package="core")
class SpecAugment(layers.Layer):
    """Time shift, gain, added noise and frequency/time masks on (mels, frames, 1) inputs in [0, 1].

    Args:
        max_shift: Largest circular time shift, as a fraction of the frames.
        max_gain: Largest level change, in input units (1.0 = the full `top_db` range).
        noise_std: Standard deviation of the added Gaussian noise.
        freq_mask: Widest frequency mask, as a fraction of the mel bands.
        time_mask: Widest time mask, as a fraction of the frames.
        seed: Seed of the layer's random stream.
    """

    def __init__(
        self,
        *,
        max_shift: float = 0.15,
        max_gain: float = 0.1,
        noise_std: float = 0.02,
        freq_mask: float = 0.12,
        time_mask: float = 0.1,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_shift, self.max_gain, self.noise_std = max_shift, max_gain, noise_std
        self.freq_mask, self.time_mask, self.seed = freq_mask, time_mask, seed
        self.generator = keras.random.SeedGenerator(seed)

    def _band_mask(self, batch: int, length: int, max_fraction: float):
        """(batch, length) float mask that is 0 on one random band per example."""
        width = keras.random.uniform((batch, 1), 0, max_fraction * length, seed=self.generator)
        start = keras.random.uniform((batch, 1), 0, 1, seed=self.generator) * (length - width)
        position = ops.cast(ops.arange(length), "float32")[None, :]
        inside = ops.logical_and(position >= start, position < start + width)
        return 1.0 - ops.cast(inside, "float32")

    def call(self, inputs, training=True):
        if not training:
            return inputs
        batch, mels, frames = ops.shape(inputs)[0], inputs.shape[1], inputs.shape[2]
        shift = ops.cast(
            keras.random.uniform((batch, 1), -self.max_shift, self.max_shift, seed=self.generator) * frames,
            "int32",
        )
        index = ops.mod(ops.arange(frames)[None, :] - shift, frames)
        x = ops.take_along_axis(inputs, ops.reshape(index, (batch, 1, frames, 1)), axis=2)
        x = x + keras.random.uniform((batch, 1, 1, 1), -self.max_gain, self.max_gain, seed=self.generator)
        x = x + keras.random.normal(ops.shape(x), stddev=self.noise_std, seed=self.generator)
        x = x * ops.reshape(self._band_mask(batch, mels, self.freq_mask), (batch, mels, 1, 1))
        x = x * ops.reshape(self._band_mask(batch, frames, self.time_mask), (batch, 1, frames, 1))
        return ops.clip(x, 0.0, 1.0)

    def get_config(self):
        return {
            **super().get_config(),
            "max_shift": self.max_shift,
            "max_gain": self.max_gain,
            "noise_std": self.noise_std,
            "freq_mask": self.freq_mask,
            "time_mask": self.time_mask,
            "seed": self.seed,
        }


def _image_steps(seed: int, flip: str, strength: str) -> list[layers.Layer]:
    """Standard: flips, rotation, shifts, zoom, brightness and contrast. Mild: small shifts and zoom only.

    Mild suits charts (audiograms, say): a flipped or recoloured axis changes
    the meaning, and a chart's border is blank, so the edge is extended
    ("nearest") rather than mirrored into the plot.
    """
    if strength == "mild":
        return [
            layers.RandomTranslation(0.04, 0.04, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom(0.05, fill_mode="nearest", seed=seed + 3),
        ]
    steps = [] if flip == "none" else [layers.RandomFlip(flip, seed=seed)]
    return steps + [
        layers.RandomRotation(0.03, fill_mode="reflect", seed=seed + 1),
        layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 2),
        layers.RandomZoom(0.1, fill_mode="reflect", seed=seed + 3),
        layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed + 4),
        layers.RandomContrast(0.15, value_range=(0.0, 1.0), seed=seed + 5),
    ]


def build_augmenter(
    modality: str, *, seed: int, flip: str = "horizontal", strength: str = "standard"
) -> keras.Sequential | None:
    """The augmentation pipeline for one modality, or None for `strength="none"`.

    Args:
        modality: "image" or "sound".
        seed: Seed for every random layer.
        flip: Image flips (standard strength only); use "none" for charts,
            where a mirrored axis changes the meaning (an audiogram's
            frequency axis, say).
        strength: "standard", "mild" (images: small shifts and zoom, never a
            flip or a colour change; sounds: time shift and gain only, no
            noise or masks) or "none".
    """
    if flip not in FLIP_MODES:
        raise ValueError(f"flip must be one of {FLIP_MODES}, got {flip!r}")
    if strength not in AUGMENT_MODES or strength == "auto":
        concrete = tuple(mode for mode in AUGMENT_MODES if mode != "auto")
        raise ValueError(
            f"strength must be one of {concrete} (resolve auto with choose_augmentation), got {strength!r}"
        )
    if strength == "none":
        return None
    if modality == "sound":
        gentle = {"noise_std": 0.0, "freq_mask": 0.0, "time_mask": 0.0} if strength == "mild" else {}
        return keras.Sequential([SpecAugment(seed=seed, name="spec_augment", **gentle)], name="augment_sound")
    return keras.Sequential(_image_steps(seed, flip, strength), name="augment_image")


def choose_augmentation(asked: str, modality: str, train_images=None) -> dict:
    """What `--augment` means for one run: the mode asked for or, for "auto", the one the training images call for.

    "auto" is "mild" for images that look like charts or documents
    (`core.inputs.charts`: a flip or a colour change alters what a chart
    says) and "standard" for other images and for sounds (today's behaviour).
    Only training images are measured, never validation or test ones.

    Args:
        asked: A mode of `AUGMENT_MODES`.
        modality: "image" or "sound".
        train_images: (n, height, width, 3) uint8 training images (an array
            or the input cache's `InputRows`); read only for "auto" on images.

    Returns:
        The run's record: `asked`, the `mode` trained with, and for "auto" on
        images the `chart_score`, the `chart_cutoff` it was held against and
        the number of `images_measured`.
    """
    if asked not in AUGMENT_MODES:
        raise ValueError(f"augment must be one of {AUGMENT_MODES}, got {asked!r}")
    if asked != "auto" or modality != "image":
        return {"asked": asked, "mode": "standard" if asked == "auto" else asked}
    if train_images is None or not len(train_images):
        raise ValueError("--augment auto on images needs the training images")
    score = round(chart_score(train_images), 4)  # decided on the score recorded, so the record never contradicts it
    return {
        "asked": asked,
        "mode": "mild" if looks_like_charts(score) else "standard",
        "chart_score": score,
        "chart_cutoff": CHART_CUTOFF,
        "images_measured": len(sample_rows(len(train_images))),
    }
