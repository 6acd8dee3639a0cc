"""Uploads a clinician's files can turn into: every case the prediction app must survive."""

from __future__ import annotations

import io

import numpy as np
import soundfile
from PIL import Image, ImageDraw


def _image_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _wav(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def good_png() -> bytes:
    """A chart like the demo model's training images: an input the model can judge."""
    from core.data.demo import draw_audiogram

    return _image_bytes(draw_audiogram("normal", np.random.default_rng(0)), "PNG")


def _pattern(size: int, mode: str = "RGB") -> Image.Image:
    """Stripes and a circle: content in every channel, so no image built on it is blank."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, size, max(2, size // 12)):
        draw.line([(x, 0), (x, size)], fill=(30, 90, 160), width=max(1, size // 60))
    draw.ellipse([size // 4, size // 4, 3 * size // 4, 3 * size // 4], outline=(200, 40, 40), width=max(1, size // 40))
    return image.convert(mode)


def bad_images() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what must happen): 'error' (clear refusal) or 'ok' (predicted, maybe with warnings)."""
    png = good_png()
    pixels = np.linspace(0, 65535, 300 * 300, dtype=np.uint16).reshape(300, 300)
    frames = [_pattern(120).rotate(angle) for angle in (0, 30, 60)]
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
        "palette.png": (_image_bytes(_pattern(150).convert("P"), "PNG"), "ok"),
        "cmyk.jpg": (_image_bytes(_pattern(150, "CMYK"), "JPEG"), "ok"),
        "animated.png": (apng.getvalue(), "ok"),
        "small_but_judgeable.png": (_image_bytes(_pattern(40), "PNG"), "ok"),
        "one_pixel.png": (_image_bytes(Image.new("RGB", (1, 1), "white"), "PNG"), "error"),
        "thin_strip.png": (_image_bytes(_pattern(400).resize((400, 20)), "PNG"), "error"),
        "black_36mp.png": (_image_bytes(Image.new("L", (6000, 6000)), "PNG"), "error"),
        "uniform_grey.jpg": (_image_bytes(Image.new("RGB", (800, 600), (128, 128, 128)), "JPEG"), "error"),
        "uniform_teal.png": (_image_bytes(Image.new("RGB", (150, 150), "teal").convert("P"), "PNG"), "error"),
    }


def decompression_bombs() -> dict[str, tuple[bytes, str]]:
    """Small files that decode to tens of megapixels (the memory cases): name -> (bytes, 'ok' or 'error').

    Every row is the same 16-step ramp, so the files compress to almost
    nothing while their pixels are what a worker would have to hold. The
    largest are refused from their header (above the 64 MB decode limit); the
    others decode just under it, in each of Pillow's wide layouts. The ramp is
    pale grey, like a chart's paper, so the demo chart model judges the ones
    that decode instead of refusing them as "not a chart" (`check_kind`).
    """
    side = 6300  # 39.7 megapixels
    steps = np.floor(np.linspace(0, 15.99, side)).astype(np.uint8)
    pale = 240 + steps
    sixteen = np.tile(pale.astype(np.uint16) * 257, (side, 1))
    floats = np.tile((steps.astype(np.float32) / 15) ** 0.2, (side, 1))  # min-max scaled when read: made pale by gamma
    palette = Image.fromarray(np.tile(steps, (side, 1)), "P")
    palette.putpalette([v for i in range(16) for v in (240 + i, 240 + i, 236 + i)])
    rgba = np.tile(np.stack([pale, pale, pale, 240 + steps], axis=-1)[:5700], (5700, 1, 1))
    deflate = {"compression": "tiff_adobe_deflate"}
    return {
        "sixteen_bit_40mp.png": (_image_bytes(Image.fromarray(sixteen), "PNG"), "error"),
        "sixteen_bit_32mp.png": (_image_bytes(Image.fromarray(sixteen[:5650, :5650]), "PNG"), "ok"),
        "float_40mp.tif": (_image_bytes(Image.fromarray(floats), "TIFF", **deflate), "error"),
        "float_31mp.tif": (_image_bytes(Image.fromarray(floats[:5600, :5600]), "TIFF", **deflate), "error"),
        "float_16mp.tif": (_image_bytes(Image.fromarray(floats[:4000, :4000]), "TIFF", **deflate), "ok"),
        "rgba_32mp.png": (_image_bytes(Image.fromarray(rgba, "RGBA"), "PNG"), "error"),
        "rgba_16mp.png": (_image_bytes(Image.fromarray(rgba[:4000, :4000], "RGBA"), "PNG"), "ok"),
        "palette_40mp.png": (_image_bytes(palette, "PNG", transparency=0), "ok"),
        "black_36mp.png": (_image_bytes(Image.new("L", (6000, 6000)), "PNG"), "error"),
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
        "high_rate.wav": (_wav(np.tile(tone, 96), 192000, "PCM_16"), "ok"),
        "eight_samples.wav": (_wav(tone[:8], 2000, "PCM_16"), "error"),
        "one_and_a_half_seconds.wav": (_wav(tone[:3000], 2000, "PCM_16"), "error"),
        "digital_silence.wav": (_wav(np.zeros(10000, np.float32), 2000, "PCM_16"), "error"),
        "near_silence.wav": (_wav(tone * 10 ** (-75 / 20), 2000, "FLOAT"), "error"),
        "dc_offset.wav": (_wav(np.full(10000, 0.5, np.float32), 2000, "PCM_16"), "error"),
    }


def long_flac(minutes: float = 10.0, rate: int = 48000, channels: int = 8, *, tone_hz: float | None = None) -> bytes:
    """Minutes of multichannel digital silence, or of a loud tone, as FLAC: small files that decode to tens of MB.

    Written one second at a time, so building it holds no more than a second.
    """
    buffer = io.BytesIO()
    second = np.zeros((rate, channels), dtype=np.int16)
    if tone_hz is not None:
        second[:] = (12000 * np.sin(2 * np.pi * tone_hz * np.arange(rate) / rate)).astype(np.int16)[:, None]
    with soundfile.SoundFile(buffer, "w", rate, channels, "PCM_16", format="FLAC") as sound:
        for _ in range(int(minutes * 60)):
            sound.write(second)
    return buffer.getvalue()
