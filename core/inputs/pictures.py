"""Pictures of inputs as PNG: images, thumbnails and spectrograms. Plain numpy and Pillow.

The one place a picture is rendered: training stores previews with them, and
`core.web.data_uri` wraps them for the web pages.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_bytes(pixels: np.ndarray) -> bytes:
    """A uint8 (height, width[, channels]) array encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail(image: Image.Image, *, longest: int) -> np.ndarray:
    """The image's uint8 pixels, shrunk (never enlarged) so that its longest side is at most `longest`."""
    small = image.copy()
    small.thumbnail((longest, longest))
    return np.asarray(small)


def spectrogram_pixels(spectrogram: np.ndarray, *, width: int, height: int) -> np.ndarray:
    """A (n_mels, frames) spectrogram in [0, 1] as grey RGB uint8 pixels, low frequencies at the bottom."""
    grey = (np.clip(spectrogram[::-1], 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(grey).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(picture.convert("RGB"))
