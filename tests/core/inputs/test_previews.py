import io
import wave

import numpy as np
import soundfile
from PIL import Image

from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing
from core.inputs.previews import BROWSER_MIN_RATE, MAX_WAV_BYTES, PLAYBACK_RATE, PREVIEW_SIDE, playable_wav, previews


def _wav(data: bytes) -> tuple[tuple, np.ndarray]:
    """The WAV's parameters (channels, sample width, rate, ...) and its 16-bit samples."""
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getparams(), np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")


def test_a_recording_below_what_chromium_plays_is_resampled_to_8000_hz():
    rate = 2000
    signal = 0.5 * np.sin(2 * np.pi * 100 * np.arange(rate) / rate).astype(np.float32)
    params, samples = _wav(playable_wav(signal, rate))
    assert rate < BROWSER_MIN_RATE and params.framerate == PLAYBACK_RATE
    assert (params.nchannels, params.sampwidth) == (1, 2)
    assert len(samples) == 4 * rate
    assert abs(int(np.abs(samples.astype(int)).max()) - 16383) < 300  # the tone's level survives resampling


def test_a_playable_rate_is_kept_and_samples_are_clipped_to_full_scale():
    params, samples = _wav(playable_wav(np.array([0.0, 0.5, 2.0, -3.0], dtype=np.float32), 4000))
    assert params.framerate == 4000
    assert samples.tolist() == [0, 16383, 32767, -32767]


def test_a_long_recording_keeps_its_beginning_within_the_size_cap(rng):
    signal = rng.uniform(-1, 1, 44100 * 10).astype(np.float32)
    data = playable_wav(signal, 44100, max_bytes=100_000)
    params, samples = _wav(data)
    assert len(data) <= 100_000 and len(samples) == (100_000 - 44) // 2
    np.testing.assert_array_equal(samples[:100], (signal[:100] * 32767).astype("<i2"))
    assert len(playable_wav(np.zeros(44100 * 120, dtype=np.float32), 44100)) <= MAX_WAV_BYTES


def test_image_preview_is_a_thumbnail_png():
    buffer = io.BytesIO()
    Image.new("RGB", (960, 480), (200, 30, 30)).save(buffer, format="JPEG")
    files = previews(buffer.getvalue(), ImagePreprocessing())
    assert list(files) == [".png"]
    with Image.open(io.BytesIO(files[".png"])) as picture:
        assert picture.format == "PNG" and picture.size == (PREVIEW_SIDE, PREVIEW_SIDE // 2)


def test_sound_previews_are_a_spectrogram_picture_and_a_mono_wav():
    rate = 4000
    t = np.arange(rate * 3) / rate
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 60 * t), 0.4 * np.sin(2 * np.pi * 60 * t)], axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, stereo, rate, format="WAV", subtype="PCM_16")
    files = previews(buffer.getvalue(), SoundPreprocessing(sample_rate=rate, window_seconds=2.0))
    assert sorted(files) == [".png", ".wav"]
    with Image.open(io.BytesIO(files[".png"])) as picture:
        pixels = np.asarray(picture.convert("L"), dtype=float)
    assert pixels.shape == (PREVIEW_SIDE // 2, PREVIEW_SIDE)
    assert pixels[-10:].mean() > pixels[:10].mean() + 50  # a 60 Hz tone is bright at the bottom
    params, samples = _wav(files[".wav"])
    assert (params.nchannels, params.framerate) == (1, rate) and len(samples) == len(t)
