"""Inputs as `data:` URIs for the web pages: pictures of images and spectrograms, and files for players.

Only the wrapping lives here; `core.inputs.pictures` renders the pictures.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

import numpy as np

from core.inputs.pictures import png_bytes, spectrogram_pixels


def bytes_data_uri(data: bytes, kind: str) -> str:
    """`data` as a base64 data URI of MIME type `kind`."""
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def png_data_uri(pixels: np.ndarray) -> str:
    """A uint8 (height, width[, channels]) array as a PNG data URI."""
    return bytes_data_uri(png_bytes(pixels), "image/png")


def spectrogram_png(spectrogram: np.ndarray, *, width: int, height: int) -> str:
    """A (n_mels, frames) spectrogram in [0, 1] as a grey PNG data URI, low frequencies at the bottom."""
    return png_data_uri(spectrogram_pixels(spectrogram, width=width, height=height))


def file_data_uri(path: str | Path) -> str:
    """A file's bytes as a data URI, typed from its name.

    Raises:
        OSError: the file cannot be read.
    """
    kind = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return bytes_data_uri(Path(path).read_bytes(), kind)
