import numpy as np
import pytest
from PIL import Image, ImageFilter

from core.errors import InputUnjudgeable
from core.inputs.preprocess import resize_image
from core.inputs.quality import check_image, check_sound, image_reference, image_warnings, sound_warnings


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
    short = sound_warnings(_heartbeat(4.1), 2000, window_seconds=5)
    assert short[0].startswith("recording is 4.1 s, shorter than the 5 s the model was trained on")
    clipped = np.clip(_heartbeat(8, level=3.0), -1, 1)
    assert any("clipped" in w for w in sound_warnings(clipped, 2000, window_seconds=5))
    noise = np.random.default_rng(1).normal(0, 0.2, 20000).astype(np.float32)
    assert any("signal-to-noise" in w for w in sound_warnings(noise, 2000, window_seconds=5))


@pytest.mark.parametrize(
    "image, reason",
    [
        (Image.new("RGB", (1, 1), "white"), "1x1 px, too small to judge"),
        (_checkerboard(256).resize((256, 20)), "256x20 px, too small to judge"),
        (Image.new("RGB", (512, 512)), "blank or a single colour"),
        (Image.new("RGB", (300, 200), (0, 128, 128)), "blank or a single colour"),
    ],
)
def test_images_with_nothing_to_judge_are_refused(image, reason):
    with pytest.raises(InputUnjudgeable, match=reason) as refused:
        check_image(image, resize_image(image, 64))
    assert refused.value.status == 422


def test_the_smallest_judgeable_image_passes_the_gate_with_a_warning():
    image = _checkerboard(32, square=4)
    check_image(image, resize_image(image, 128))
    assert any("smaller than the 128x128 px" in w for w in _warnings(image))


@pytest.mark.parametrize(
    "signal, reason",
    [
        (_heartbeat(0.004), "0.0 s, too short to judge; send at least 3.75 s"),
        (_heartbeat(3.0), "3.0 s, too short to judge"),
        (np.zeros(20000, np.float32), "silent or nearly so"),
        (_heartbeat(8) * 10 ** (-60 / 20), "silent or nearly so"),  # peaks at -66 dBFS
        (np.full(20000, 0.5, np.float32), "silent or nearly so"),  # a constant offset is not sound
        (np.eye(1, 20000, 10000, dtype=np.float32)[0] * 0.01, "silent or nearly so"),  # one click in silence
    ],
)
def test_recordings_with_nothing_to_judge_are_refused(signal, reason):
    with pytest.raises(InputUnjudgeable, match=reason):
        check_sound(signal, 2000, window_seconds=5)


def test_the_gates_pass_recordings_that_fill_most_of_a_window():
    check_sound(_heartbeat(4.0), 2000, window_seconds=5)
    check_sound(_heartbeat(2.0), 2000, window_seconds=1)  # the 2 s floor, for models of short windows
    with pytest.raises(InputUnjudgeable, match="at least 2 s"):
        check_sound(_heartbeat(1.5), 2000, window_seconds=1)
