import io

import numpy as np
from PIL import Image

from core.inputs.pictures import png_bytes, spectrogram_pixels, thumbnail


def test_png_bytes_round_trip_the_pixels(rng):
    pixels = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(png_bytes(pixels))) as decoded:
        assert decoded.format == "PNG"
        np.testing.assert_array_equal(np.asarray(decoded), pixels)


def test_thumbnail_shrinks_the_longest_side_and_never_enlarges():
    wide = Image.new("RGB", (1000, 500), "white")
    assert thumbnail(wide, longest=240).shape == (120, 240, 3)
    assert wide.size == (1000, 500)  # the caller's image is left alone
    assert thumbnail(Image.new("RGB", (100, 50)), longest=240).shape == (50, 100, 3)


def test_spectrogram_pixels_put_low_frequencies_at_the_bottom():
    spectrogram = np.zeros((8, 20))
    spectrogram[0] = 1.0  # energy in the lowest mel band
    pixels = spectrogram_pixels(spectrogram, width=40, height=16)
    assert pixels.shape == (16, 40, 3) and pixels.dtype == np.uint8
    assert pixels[-1].mean() > 200 and pixels[0].mean() < 10
