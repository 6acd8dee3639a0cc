"""Input-quality warnings: reasons a prediction may be less trustworthy than usual.

Pure numpy over the decoded input, before it is resized or resampled. Each
warning is a sentence a clinician can act on. The limits are deliberately
loose: a warning should mean something is clearly off.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DARK, BRIGHT = 0.12, 0.92
BRIGHTNESS_MARGIN = 0.1
BLUR_LIMIT = 10.0
SILENCE_DBFS = -50.0
CLIP_LEVEL, CLIP_SHARE = 0.999, 0.001
LOW_SNR_DB = 6.0


def _laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low for images without edges (blur)."""
    centre = gray[1:-1, 1:-1]
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def image_stats(pixels: np.ndarray) -> tuple[float, float]:
    """(mean brightness in [0, 1], sharpness) of a model-size uint8 RGB image."""
    gray = pixels.astype(np.float64).mean(axis=-1)
    return float(gray.mean() / 255.0), _laplacian_variance(gray)


def image_reference(images: np.ndarray) -> dict:
    """What the training images look like, so serving can say when an input is unlike them.

    Args:
        images: (n, size, size, 3) uint8 model-size training images.
    """
    stats = np.array([image_stats(pixels) for pixels in images])
    low, high = np.percentile(stats[:, 0], [1, 99])
    return {
        "brightness": [float(low), float(high)],
        "sharpness_p1": float(np.percentile(stats[:, 1], 1)),
        "n": int(len(images)),
    }


def image_warnings(image: Image.Image, pixels: np.ndarray, *, reference: dict | None = None) -> list[str]:
    """Warnings for a decoded image (`image`) and its model-size pixels: too small, too dark or bright, too blurry.

    With a `reference` from the training images, brightness and sharpness are
    judged against them (a chart is mostly white, a throat photo is not);
    without one, fixed limits apply.
    """
    warnings = []
    width, height = image.size
    size = pixels.shape[0]
    if min(width, height) < size:
        warnings.append(
            f"image is {width}x{height} px, smaller than the {size}x{size} px the model uses; "
            "it was enlarged and fine detail may be missing"
        )
    brightness, sharpness = image_stats(pixels)
    if reference is None:
        dark, bright, blur = DARK, BRIGHT, BLUR_LIMIT
        usual = ""
    else:
        (low, high), blur = reference["brightness"], reference["sharpness_p1"] / 2
        dark, bright = low - BRIGHTNESS_MARGIN, high + BRIGHTNESS_MARGIN
        usual = f"; training images: {low:.0%}-{high:.0%}"
    if brightness < dark:
        warnings.append(f"image is very dark (mean brightness {brightness:.0%}{usual})")
    elif brightness > bright:
        warnings.append(f"image is very bright (mean brightness {brightness:.0%}{usual})")
    if sharpness < blur:
        warnings.append(f"image looks very blurry (sharpness {sharpness:.1f}, usually above {blur:.1f})")
    return warnings


def _frame_rms(signal: np.ndarray, rate: int, *, frame_seconds: float = 0.05) -> np.ndarray:
    size = max(1, int(rate * frame_seconds))
    count = max(1, len(signal) // size)
    frames = signal[: count * size].reshape(count, -1) if len(signal) >= size else signal[None, :]
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))


def sound_warnings(signal: np.ndarray, rate: int, *, window_seconds: float) -> list[str]:
    """Warnings for a mono recording at its own rate: too short, silent, clipped, very noisy."""
    warnings = []
    duration = len(signal) / rate
    if duration < window_seconds:
        warnings.append(
            f"recording is {duration:.1f} s, shorter than the {window_seconds:g} s the model was trained on; "
            "it was padded with silence"
        )
    peak = float(np.abs(signal).max()) if len(signal) else 0.0
    peak_dbfs = 20 * np.log10(max(peak, 1e-10))
    if peak_dbfs < SILENCE_DBFS:
        warnings.append(f"recording is silent or nearly so (peak level {peak_dbfs:.0f} dBFS)")
        return warnings
    clipped = float(np.mean(np.abs(signal) >= CLIP_LEVEL))
    if clipped > CLIP_SHARE:
        warnings.append(f"recording is clipped: {clipped:.1%} of samples are at full scale")
    rms = _frame_rms(signal, rate)
    loud, quiet = np.percentile(rms, 95), np.percentile(rms, 10)
    snr = 20 * np.log10(max(loud, 1e-12) / max(quiet, 1e-12))
    if snr < LOW_SNR_DB:
        warnings.append(f"very low signal-to-noise ratio (about {snr:.0f} dB between loud and quiet parts)")
    return warnings
