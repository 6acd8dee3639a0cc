"""Input quality: gates that refuse inputs no model can judge, and warnings for milder problems.

Pure numpy over the decoded input. Two levels:

- gates (`check_image`, `check_sound`) raise `InputUnjudgeable` (422) for an
  input with no signal: silence, a recording too short for one model window,
  a blank image, an image too small to hold a chart or a throat. Any class
  given for such an input would be a confident verdict on nothing, so the
  API, the page, the CLI and batch uploads all refuse it (they all predict
  through `core.serving.predictor.Predictor`, which calls the gates);
- warnings (`image_warnings`, `sound_warnings`) are sentences a clinician can
  act on, for inputs that can be judged but less well than usual.

The gate limits sit far below anything in real data: measured over the 592
throat photos and 850 heart-sound recordings of the development sets and the
synthetic demo data, none is refused (docs/benchmarks.md, "Input gates"). A
run trained with a band-pass also refuses a recording with no sound in that
band (`check_band`); none of the 850 recordings is refused at 25-400 Hz or
25-800 Hz (`bench/frontend.py`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.errors import InputUnjudgeable
from core.inputs.charts import looks_like_charts, paper_share

DARK, BRIGHT = 0.12, 0.92
BRIGHTNESS_MARGIN = 0.1
BLUR_LIMIT = 10.0
CLIP_LEVEL, CLIP_SHARE = 0.999, 0.001
LOW_SNR_DB = 6.0

# Gates. Keras' image models are defined for inputs of at least 32x32 px; a
# smaller picture enlarged 7x or more to the model's size holds no detail.
MIN_IMAGE_SIDE = 32
# Spread (standard deviation, of 255 levels) of every channel of the model-size
# image below which it is blank or one colour; real photos and charts: 19 or more.
BLANK_SPREAD = 2.0
# Silence: peak below -50 dBFS, or no 50 ms frame louder than -60 dBFS RMS
# (a click in silence); real recordings peak above -28 dBFS, frames above -35 dBFS.
SILENCE_DBFS = -50.0
NOISE_FLOOR_DBFS = -60.0
# A recording must last 2 s (two heartbeats at the slowest rate) and fill three
# quarters of one model window: a shorter one is mostly zero padding, which the
# model saw only at the ends of its shortest training recordings.
MIN_SECONDS = 2.0
MIN_WINDOW_SHARE = 0.75
# A photo sent to a chart model, or a chart to a photo model, told apart by its share of blank paper
# (`core.inputs.charts`; docs/benchmarks.md, "Chart-safe augmentation"): chart sets score 0.73-0.99, a
# photographed chart 0.38 at the least; photo sets 0.00-0.01, a throat photo 0.39 at the most. A chart model
# refuses an image with less paper than `PHOTO_FOR_CHARTS` (and than its training charts' 1st percentile);
# a photo model one with more than `CHART_FOR_PHOTOS` (and than its training photos' 99th percentile).
PHOTO_FOR_CHARTS = 0.2
CHART_FOR_PHOTOS = 0.7
# The band check skips this much at each end, where a band-pass filter rings
# (as much as -50 dBFS from a loud whistle far outside the band).
BAND_EDGE_SECONDS = 0.25


def check_image(image: Image.Image, pixels: np.ndarray) -> None:
    """Refuse an image too small to hold the content, or blank (`image`: decoded; `pixels`: model-size uint8).

    Raises:
        InputUnjudgeable: the image is smaller than MIN_IMAGE_SIDE on a side, or one colour.
    """
    width, height = image.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise InputUnjudgeable(
            f"image is {width}x{height} px, too small to judge; send one at least "
            f"{MIN_IMAGE_SIDE} px on each side (the model uses {pixels.shape[1]}x{pixels.shape[0]} px)"
        )
    spread = float(pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max())
    if spread < BLANK_SPREAD:
        raise InputUnjudgeable(
            f"image is blank or a single colour (pixel spread {spread:.1f} of 255), so there is nothing to judge"
        )


def check_kind(pixels: np.ndarray, reference: dict | None) -> None:
    """Refuse a photograph sent to a model trained on charts, or a chart or document sent to one trained on photos.

    A model has no notion of what it was not shown: an audiogram model given a
    photo still names a hearing class, sometimes with confidence, and the
    embedding's distance (`core.evaluation.ood`) need not see it when the
    backbone's features are generic. The share of blank paper does, in words a
    person can check. Runs made before the reference held it are not checked.

    Args:
        pixels: Model-size uint8 RGB pixels.
        reference: The run's `image_reference`, or None.

    Raises:
        InputUnjudgeable: the image is far outside the training images' paper share, on the other side of the
            chart/photo divide.
    """
    if reference is None or "paper_share" not in reference:
        return
    low, median, high = reference["paper_share"]
    share = paper_share(pixels)
    if looks_like_charts(median) and share < min(PHOTO_FOR_CHARTS, low):
        raise InputUnjudgeable(
            f"this does not look like a chart: {share:.0%} of it is blank paper, while nearly all the charts this "
            f"model was trained on are at least {low:.0%} paper; send the chart itself (a scan or an export)"
        )
    if not looks_like_charts(median) and share > max(CHART_FOR_PHOTOS, high):
        raise InputUnjudgeable(
            f"this looks like a chart or a document, not a photograph: {share:.0%} of it is blank paper, while "
            f"nearly all the photos this model was trained on are at most {high:.0%} paper"
        )


def _dbfs(level: float) -> float:
    return float(20 * np.log10(max(level, 1e-10)))


def check_sound(signal: np.ndarray, rate: int, *, window_seconds: float) -> None:
    """Refuse a mono recording (at its own `rate`) that is silent or too short for the model's window.

    Raises:
        InputUnjudgeable: silence or near-silence; shorter than 2 s or than three quarters of a window.
    """
    duration = len(signal) / rate
    shortest = max(MIN_SECONDS, MIN_WINDOW_SHARE * window_seconds)
    if duration < shortest:
        raise InputUnjudgeable(
            f"recording is {duration:.1f} s, too short to judge; send at least {shortest:g} s "
            f"(the model listens to {window_seconds:g} s windows)"
        )
    peak, loudest = _levels(signal, rate)
    if peak < SILENCE_DBFS or loudest < NOISE_FLOOR_DBFS:
        raise InputUnjudgeable(
            f"recording is silent or nearly so (peak {peak:.0f} dBFS, loudest 50 ms {loudest:.0f} dBFS); "
            "check the microphone or stethoscope and record again"
        )


def _levels(signal: np.ndarray, rate: int) -> tuple[float, float]:
    """(peak, loudest 50 ms RMS) in dBFS, about the mean: a constant offset is not sound."""
    offset = float(signal.mean(dtype=np.float64))
    peak = _dbfs(max(float(signal.max()) - offset, offset - float(signal.min())))
    return peak, _dbfs(float(_frame_rms(signal, rate, offset=offset).max()))


def check_band(filtered: np.ndarray, rate: int, band: tuple[float, float]) -> None:
    """Refuse a recording with no sound in the band a model listens to (`filtered`: after its band-pass).

    A run trained with a band-pass sees only that band, and each input is
    scaled to its own loudest part: a recording that is all hiss or whistle
    above the band would reach the model as filter residue stretched to full
    range, and get a class for nothing. The limits are `check_sound`'s,
    away from the ends (`BAND_EDGE_SECONDS`).

    Raises:
        InputUnjudgeable: the band-passed recording is silent or nearly so.
    """
    edge = int(BAND_EDGE_SECONDS * rate)
    peak, loudest = _levels(filtered[edge:-edge] if len(filtered) > 4 * edge else filtered, rate)
    if peak < SILENCE_DBFS or loudest < NOISE_FLOOR_DBFS:
        low, high = band
        raise InputUnjudgeable(
            f"recording has almost no sound between {low:g} and {high:g} Hz, the band the model listens to "
            f"(peak {peak:.0f} dBFS there); check the stethoscope's placement and record again"
        )


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
    stats = np.array([(*image_stats(pixels), paper_share(pixels)) for pixels in images])
    low, high = np.percentile(stats[:, 0], [1, 99])
    return {
        "brightness": [float(low), float(high)],
        "sharpness_p1": float(np.percentile(stats[:, 1], 1)),
        "paper_share": [float(share) for share in np.percentile(stats[:, 2], [1, 50, 99])],
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


def _frame_rms(signal: np.ndarray, rate: int, *, offset: float = 0.0, frame_seconds: float = 0.05) -> np.ndarray:
    """RMS of each 50 ms frame of `signal - offset`, without a copy of the signal (it may be minutes long)."""
    size = max(1, int(rate * frame_seconds))
    count = max(1, len(signal) // size)
    frames = signal[: count * size].reshape(count, -1) if len(signal) >= size else signal[None, :]
    n = frames.shape[1]
    energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) - 2 * offset * frames.sum(axis=1, dtype=np.float64)
    return np.sqrt(np.maximum(energy / n + offset**2, 0.0))


def sound_warnings(signal: np.ndarray, rate: int, *, window_seconds: float) -> list[str]:
    """Warnings for a mono recording at its own rate that passed `check_sound`: padded, clipped, very noisy."""
    warnings = []
    duration = len(signal) / rate
    if duration < window_seconds:
        warnings.append(
            f"recording is {duration:.1f} s, shorter than the {window_seconds:g} s the model was trained on; "
            "it was padded with silence"
        )
    clipped = np.count_nonzero(signal >= CLIP_LEVEL) + np.count_nonzero(signal <= -CLIP_LEVEL)
    clipped /= len(signal)
    if clipped > CLIP_SHARE:
        warnings.append(f"recording is clipped: {clipped:.1%} of samples are at full scale")
    rms = _frame_rms(signal, rate)
    loud, quiet = np.percentile(rms, 95), np.percentile(rms, 10)
    snr = 20 * np.log10(max(loud, 1e-12) / max(quiet, 1e-12))
    if snr < LOW_SNR_DB:
        warnings.append(f"very low signal-to-noise ratio (about {snr:.0f} dB between loud and quiet parts)")
    return warnings
