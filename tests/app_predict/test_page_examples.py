"""The prediction page's example buttons and pictures: keys instead of paths, numbered labels, icons, axes."""

import io

import numpy as np
import soundfile
from PIL import Image

from app_predict import figures
from core.inputs.preprocess import SoundPreprocessing
from core.inputs.previews import band_frequencies, icon_png, waveform_pixels
from core.store.examples import find_example, list_examples
from tests.support.bad_inputs import good_png


def _examples(root, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / "examples" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _wav(seconds: float = 1.0, rate: int = 4000) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(buffer, 0.5 * np.sin(2 * np.pi * 50 * t) * (t > 0.5), rate, format="WAV")
    return buffer.getvalue()


def test_examples_are_numbered_per_class_and_named_by_a_stable_key_not_a_path(tmp_path):
    _examples(
        tmp_path,
        {
            "hearts/murmur__a.wav": _wav(),
            "hearts/murmur__b.wav": _wav(),
            "hearts/normal__c.wav": _wav(),
            "charts/murmur__d.png": good_png(),
        },
    )
    hearts = list_examples(tmp_path, "sound", dataset="hearts")
    assert [(e["label"], e["number"]) for e in hearts] == [("murmur", 1), ("murmur", 2), ("normal", 1)]
    assert [e["dataset"] for e in list_examples(tmp_path, "image")] == ["charts"]
    keys = [e["key"] for e in list_examples(tmp_path)]
    assert len(set(keys)) == 4 and not any("/" in key or "murmur" in key for key in keys)
    assert keys == [e["key"] for e in list_examples(tmp_path)]  # the same on every request
    assert find_example(tmp_path, hearts[1]["key"])["path"].endswith("murmur__b.wav")
    assert find_example(tmp_path, "/etc/passwd") is None and list_examples(tmp_path / "nowhere") == []


def test_example_icons_are_a_thumbnail_or_the_recordings_waveform():
    with Image.open(io.BytesIO(icon_png(good_png(), "image"))) as thumb:
        assert max(thumb.size) == 64
    with Image.open(io.BytesIO(icon_png(_wav(), "sound"))) as wave:
        assert wave.size == (64, 32)
    pixels = waveform_pixels(np.concatenate([np.zeros(500), np.ones(500)]), width=10, height=9)
    assert (pixels[:, :5] == 255).sum() > (pixels[:, 5:] == 255).sum()  # silent first half, loud second half
    assert (pixels[4] == 40).all()  # a centre line even where it is silent


def test_the_spectrogram_figure_has_a_time_axis_and_a_frequency_axis_in_hz():
    params = SoundPreprocessing(sample_rate=4000, n_mels=32, fmin=20.0)
    hz = band_frequencies(params)
    assert len(hz) == 32 and 20 < hz[0] < hz[-1] < 2000 and np.all(np.diff(hz) > 0)
    figure = figures.fig_spectrogram(
        "data:image/png;base64,", frames=1000, seconds_per_frame=0.032, band_hz=hz.tolist()
    ).to_plotly_json()
    assert figure["layout"]["xaxis"]["title"]["text"] == "time (s)" and figure["layout"]["xaxis"]["range"] == [0, 32.0]
    assert figure["layout"]["yaxis"]["title"]["text"] == "frequency (Hz)"
    assert figure["layout"]["yaxis"]["ticktext"] == ["100", "200", "500", "1000"]  # within the bands, 70-1899 Hz
    assert figure["layout"]["images"][0]["sizex"] == 32.0 and figure["data"][0]["visible"] is False
    heat = figures.heat_trace(np.random.default_rng(0).random((32, 1000)), seconds_per_frame=0.032, opacity=0.5)
    assert np.asarray(heat.z).shape == (32, figures.HEAT_COLUMNS) and heat.x[-1] < 32.0 < heat.x[-1] + 0.1
