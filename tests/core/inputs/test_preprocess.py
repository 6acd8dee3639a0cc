import io

import numpy as np
import pytest
import soundfile
from PIL import Image, ImageDraw

from core.errors import CoreError
from core.inputs.preprocess import (
    ImagePreprocessing,
    SoundPreprocessing,
    aggregate_windows,
    as_model_input,
    decode_audio,
    decode_image,
    frame_windows,
    load_image,
    load_sound,
    log_mel,
    preprocessing_from_dict,
    resize_image,
    window_starts,
)


def _png_bytes(image: Image.Image, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=save_args.pop("format", "PNG"), **save_args)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    decoded = decode_image(_png_bytes(image, format="JPEG", exif=exif.tobytes(), quality=95))
    assert decoded.size == (20, 40)
    top = np.asarray(decoded)[:5].mean(axis=(0, 1))
    assert top[0] > 200 and top[1] < 80  # the stripe moved to the top


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "LA"])
def test_every_mode_becomes_rgb(mode):
    base = Image.new("RGB", (12, 12), (10, 120, 200))
    image = base.convert(mode) if mode != "I;16" else Image.fromarray(np.full((12, 12), 4000, dtype=np.uint16))
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    decoded = decode_image(_png_bytes(image, format=fmt))
    assert decoded.mode == "RGB" and decoded.size == (12, 12)


def test_resize_keeps_thin_chart_lines_that_nearest_neighbour_drops():
    image = Image.new("RGB", (1000, 1000), "white")
    draw = ImageDraw.Draw(image)
    columns = [13, 131, 257, 389, 517, 643, 771, 899]  # off the 8-pixel sampling grid
    for x in columns:
        draw.line([(x, 0), (x, 999)], fill="black", width=1)
    ours = resize_image(image, 125).astype(float)
    nearest = np.asarray(image.resize((125, 125), Image.Resampling.NEAREST)).astype(float)
    ours_visible = sum(ours[:, max(0, x // 8 - 1) : x // 8 + 2].min() < 235 for x in columns)
    nearest_visible = sum(nearest[:, max(0, x // 8 - 1) : x // 8 + 2].min() < 235 for x in columns)
    assert ours_visible == len(columns)
    assert nearest_visible < len(columns) / 2


def test_load_image_returns_square_uint8_rgb():
    pixels = load_image(_png_bytes(Image.new("RGB", (300, 200), "blue")), ImagePreprocessing(image_size=32))
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8


def test_text_renamed_png_and_decompression_bombs_are_clear_errors(monkeypatch):
    with pytest.raises(CoreError, match="not a readable image"):
        decode_image(b"hello, I am text")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(CoreError, match="too large"):
        decode_image(_png_bytes(Image.new("RGB", (50, 50))))


def _wav(signal, rate, **kwargs) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, rate, format="WAV", **kwargs)
    return buffer.getvalue()


def test_audio_becomes_mono_at_the_requested_rate():
    rate = 8000
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 100 * t)], axis=1) * 0.5
    mono = decode_audio(_wav(stereo, rate, subtype="PCM_24"), 4000)
    assert mono.ndim == 1 and len(mono) == 4000 and mono.dtype == np.float32
    assert np.abs(mono).max() == pytest.approx(0.5, abs=0.02)


def test_windows_overlap_cover_the_end_and_pad_short_recordings():
    params = SoundPreprocessing(sample_rate=100, window_seconds=1.0, overlap=0.25)
    assert window_starts(250, params).tolist() == [0, 75, 150]  # 150 + 100 = 250 covers the end
    assert window_starts(260, params).tolist() == [0, 75, 150, 160]
    short = frame_windows(np.ones(30, dtype=np.float32), params)
    assert short.shape == (1, 100) and short[0, :30].sum() == 30 and short[0, 30:].sum() == 0


def test_log_mel_shape_range_and_gain_invariance(rng):
    params = SoundPreprocessing(sample_rate=2000, window_seconds=2.0, n_mels=32, n_fft=256, hop_length=64)
    windows = rng.normal(size=(3, params.window_samples)).astype(np.float32)
    spectrograms = log_mel(windows, params)
    assert spectrograms.shape == (3, *params.input_shape)
    assert spectrograms.min() >= 0 and spectrograms.max() == pytest.approx(1.0)
    np.testing.assert_allclose(log_mel(windows * 0.01, params), spectrograms, atol=1e-4)


def test_load_sound_uses_the_recorded_parameters():
    params = SoundPreprocessing(sample_rate=2000, window_seconds=1.0, n_mels=16, n_fft=128, hop_length=50)
    inputs, starts = load_sound(_wav(np.zeros(10000, dtype=np.float32) + 0.01, 4000), params)
    assert inputs.shape[1:] == (16, 41, 1)
    assert starts.tolist() == [0.0, 0.75, 1.5]


def test_window_aggregation():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    np.testing.assert_allclose(aggregate_windows(probs), [0.5, 0.5])
    np.testing.assert_allclose(aggregate_windows(probs, "max"), [0.5, 0.5])
    np.testing.assert_allclose(aggregate_windows(probs[:2], "max"), [0.9 / 1.4, 0.5 / 1.4])


def test_parameters_round_trip_and_are_validated():
    params = SoundPreprocessing(n_mels=40, fmax=900.0)
    assert preprocessing_from_dict(params.to_dict()) == params
    assert preprocessing_from_dict(ImagePreprocessing(96).to_dict()) == ImagePreprocessing(96)
    with pytest.raises(CoreError, match="overlap"):
        SoundPreprocessing(overlap=1.0)
    with pytest.raises(CoreError, match="Nyquist"):
        SoundPreprocessing(sample_rate=2000, fmax=1500)


def test_model_inputs_scale_uint8_images_once_and_pass_spectrograms_through():
    pixels = np.array([[[0, 51, 255]]], dtype=np.uint8)
    scaled = as_model_input(pixels)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[[0.0, 0.2, 1.0]]], rtol=1e-6)
    windows = np.full((2, 4, 3, 1), 0.5, dtype=np.float32)
    assert as_model_input(windows) is windows
