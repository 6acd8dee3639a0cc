import numpy as np
import pytest
from PIL import Image, ImageFilter

from core.inputs.preprocess import resize_image
from core.inputs.quality import image_reference, image_warnings, sound_warnings


def _checkerboard(size=256, square=16):
    tiles = (np.indices((size, size)) // square).sum(axis=0) % 2
    return Image.fromarray((tiles * 200 + 30).astype(np.uint8)).convert("RGB")


def _warnings(image, size=128, reference=None):
    return image_warnings(image, resize_image(image, size), reference=reference)


def test_a_sharp_normal_image_has_no_warnings():
    assert _warnings(_checkerboard()) == []


@pytest.mark.parametrize(
    "image, expected",
    [
        (_checkerboard(40), "image is 40x40 px, smaller than the 128x128 px"),
        (Image.new("RGB", (256, 256), (5, 5, 5)), "very dark"),
        (Image.new("RGB", (256, 256), (250, 250, 250)), "very bright"),
        (_checkerboard().filter(ImageFilter.GaussianBlur(12)), "very blurry"),
    ],
)
def test_crafted_images_get_their_warning(image, expected):
    assert any(expected in warning for warning in _warnings(image))


def test_brightness_is_judged_against_the_training_images():
    charts = np.full((20, 64, 64, 3), 252, dtype=np.uint8)
    charts[:, ::16] = 0  # white charts with grid lines
    reference = image_reference(charts)
    white_chart = Image.fromarray(charts[0])
    assert not any("bright" in w for w in _warnings(white_chart, 64, reference))  # normal for charts
    assert any("bright" in w for w in _warnings(white_chart, 64))  # but not for fixed limits
    dim = Image.fromarray((charts[0] * 0.4).astype(np.uint8))
    assert any("very dark" in w and "training images" in w for w in _warnings(dim, 64, reference))


def _heartbeat(seconds, rate=2000, level=0.5):
    t = np.arange(int(seconds * rate)) / rate
    beats = np.exp(-(((t % 0.8) - 0.05) ** 2) / 0.0005) * np.sin(2 * np.pi * 60 * t)
    return (level * beats + 0.001 * np.random.default_rng(0).normal(size=len(t))).astype(np.float32)


def test_a_clean_recording_has_no_warnings():
    assert sound_warnings(_heartbeat(8), 2000, window_seconds=5) == []


def test_crafted_recordings_get_their_warning():
    short = sound_warnings(_heartbeat(2.1), 2000, window_seconds=5)
    assert short[0].startswith("recording is 2.1 s, shorter than the 5 s the model was trained on")
    assert any("silent" in w for w in sound_warnings(np.zeros(20000, np.float32), 2000, window_seconds=5))
    clipped = np.clip(_heartbeat(8, level=3.0), -1, 1)
    assert any("clipped" in w for w in sound_warnings(clipped, 2000, window_seconds=5))
    noise = np.random.default_rng(1).normal(0, 0.2, 20000).astype(np.float32)
    assert any("signal-to-noise" in w for w in sound_warnings(noise, 2000, window_seconds=5))
