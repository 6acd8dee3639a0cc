"""Input-quality warnings: reasons a prediction may be less trustworthy than usual.

Pure numpy over the decoded input, before it is resized or resampled. Each
warning is a sentence a clinician can act on. The limits are deliberately
loose: a warning should mean something is clearly off.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DARK, BRIGHT = 0.12, 0.92
BLUR_LIMIT = 10.0
SILENCE_DBFS = -50.0
CLIP_LEVEL, CLIP_SHARE = 0.999, 0.001
LOW_SNR_DB = 6.0


def _laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low for images without edges (blur)."""
    centre = gray[1:-1, 1:-1]
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def image_warnings(image: Image.Image, *, input_size: int) -> list[str]:
    """Warnings for a decoded RGB image: too small, very dark or bright, very blurry."""
    warnings = []
    width, height = image.size
    if min(width, height) < input_size:
        warnings.append(
            f"image is {width}x{height} px, smaller than the {input_size}x{input_size} px the model uses; "
            "it was enlarged and fine detail may be missing"
        )
    gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    brightness = gray.mean()
    if brightness < DARK:
        warnings.append(f"image is very dark (mean brightness {brightness:.0%})")
    elif brightness > BRIGHT:
        warnings.append(f"image is very bright (mean brightness {brightness:.0%})")
    scale = 256 / max(width, height)
    small = image.convert("L").resize((max(3, round(width * scale)), max(3, round(height * scale))), Image.Resampling.BILINEAR)
    sharpness = _laplacian_variance(np.asarray(small, dtype=np.float64))
    if sharpness < BLUR_LIMIT:
        warnings.append(f"image looks very blurry (sharpness {sharpness:.1f}, usually above {BLUR_LIMIT:g})")
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
