"""Inputs as `data:` URIs for the web pages: pictures of images and spectrograms, and files for players.

Plain numpy and Pillow, shared by the prediction app and the dashboard.
"""

from __future__ import annotations

import base64
import io
import mimetypes
from pathlib import Path

import numpy as np
from PIL import Image


def png_data_uri(pixels: np.ndarray) -> str:
    """A uint8 (height, width[, channels]) array as a PNG data URI."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def spectrogram_png(spectrogram: np.ndarray, *, width: int, height: int) -> str:
    """A (n_mels, frames) spectrogram in [0, 1] as a grey PNG, low frequencies at the bottom."""
    grey = (np.clip(spectrogram[::-1], 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(grey).resize((width, height), Image.Resampling.BILINEAR)
    return png_data_uri(np.asarray(picture.convert("RGB")))


def file_data_uri(path: str | Path) -> str:
    """A file's bytes as a data URI, typed from its name.

    Raises:
        OSError: the file cannot be read.
    """
    kind = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode()
