"""Uploads a clinician's files can turn into: every case the prediction app must survive."""

from __future__ import annotations

import io

import numpy as np
import soundfile
from PIL import Image


def _image_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _wav(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def good_png() -> bytes:
    rng = np.random.default_rng(0)
    return _image_bytes(Image.fromarray((rng.random((200, 200, 3)) * 255).astype(np.uint8)), "PNG")


def bad_images() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what must happen): 'error' (clear refusal) or 'ok' (predicted, maybe with warnings)."""
    png = good_png()
    pixels = np.linspace(0, 65535, 300 * 300, dtype=np.uint16).reshape(300, 300)
    frames = [Image.new("RGB", (120, 120), colour) for colour in ("red", "green", "blue")]
    apng = io.BytesIO()
    frames[0].save(apng, format="PNG", save_all=True, append_images=frames[1:])
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    return {
        "empty.png": (b"", "error"),
        "truncated.png": (png[: len(png) // 3], "error"),
        "corrupt.jpg": (b"\xff\xd8\xff" + bytes(range(256)) * 20, "error"),
        "notes.png": (b"Patient notes, not an image.\n" * 20, "error"),
        "bomb.png": (_image_bytes(Image.new("1", (12000, 12000)), "PNG"), "error"),
        "animated.gif": (gif.getvalue(), "error"),
        "sixteen_bit.png": (_image_bytes(Image.fromarray(pixels), "PNG"), "ok"),
        "palette.png": (_image_bytes(Image.new("RGB", (150, 150), "teal").convert("P"), "PNG"), "ok"),
        "cmyk.jpg": (_image_bytes(Image.new("CMYK", (150, 150), (10, 200, 30, 0)), "JPEG"), "ok"),
        "animated.png": (apng.getvalue(), "ok"),
    }


def bad_sounds() -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(1)
    tone = (0.3 * np.sin(2 * np.pi * 60 * np.arange(8000) / 2000) + 0.01 * rng.normal(size=8000)).astype(np.float32)
    nan = tone.copy()
    nan[100] = np.nan
    inf = tone.copy()
    inf[200] = np.inf
    return {
        "zero_samples.wav": (_wav(np.zeros(0, np.float32), 2000, "PCM_16"), "error"),
        "nan.wav": (_wav(nan, 2000, "FLOAT"), "error"),
        "inf.wav": (_wav(inf, 2000, "FLOAT"), "error"),
        "hour.wav": (_wav(np.zeros(3600 * 1000, np.float32), 1000, "PCM_U8"), "error"),
        "truncated.wav": (_wav(tone, 2000, "PCM_16")[:30], "error"),
        "eight_bit.wav": (_wav(tone, 2000, "PCM_U8"), "ok"),
        "24_bit.wav": (_wav(tone, 2000, "PCM_24"), "ok"),
        "32_bit.wav": (_wav(tone, 2000, "PCM_32"), "ok"),
        "float.wav": (_wav(tone, 2000, "FLOAT"), "ok"),
        "many_channels.wav": (_wav(np.tile(tone[:, None], (1, 16)), 2000, "PCM_16"), "ok"),
        "high_rate.wav": (_wav(np.tile(tone, 10)[:192000], 192000, "PCM_16"), "ok"),
    }
