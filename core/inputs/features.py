"""Hand-crafted features of model inputs, for the baseline model: numpy only, no TensorFlow.

The baseline reads the very arrays the CNNs read (`core.inputs.preprocess`):
a float32 image in [0, 1], or one log-mel spectrogram window. So a CNN that
does not beat it learned nothing a few summary statistics miss, and sounds are
windowed and aggregated exactly as the CNN's are.

- Images: per-channel moments; hue (weighted by saturation), saturation and
  value histograms; gradient energy and an edge-orientation histogram; a
  local-binary-pattern count histogram (texture); a coarse grid of brightness
  and edge energy (layout: where a chart's line runs).
- Sounds: per-band mean, spread and percentiles over time; per-band mean
  absolute change (deltas); spectral flux; the loudness envelope and its
  strongest periodicity between `MIN_PERIOD_SECONDS` and `MAX_PERIOD_SECONDS`
  (a heartbeat's rhythm); the spectral centroid over time.

The same rows are the baseline's embedding: the out-of-distribution
reference (`core.evaluation.ood`) standardises each feature, so their scales
may differ.
"""

from __future__ import annotations

import numpy as np

from core.inputs.preprocess import ImagePreprocessing, Preprocessing, SoundPreprocessing, as_model_input

CHUNK = 128  # inputs featurised at once: bounds memory for 224-px images
GRID = 4
HUE_BINS = SATURATION_BINS = VALUE_BINS = ORIENTATION_BINS = 8
STRONG_EDGE = 0.1
# Percentiles sort; every `PERCENTILE_STRIDE`-th pixel gives the same figures to a few thousandths, far faster.
PERCENTILE_STRIDE = 7
MIN_PERIOD_SECONDS, MAX_PERIOD_SECONDS = 0.25, 2.0
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def input_features(x: np.ndarray, params: Preprocessing) -> np.ndarray:
    """(n, n_features) float32 features of model inputs, `CHUNK` at a time.

    Args:
        x: (n, size, size, 3) images (uint8 as training keeps them, or float
            in [0, 1] as served), or (n, n_mels, frames, 1) spectrogram windows.
        params: The run's preprocessing, which says which kind `x` holds.
    """
    featurise = image_features if isinstance(params, ImagePreprocessing) else lambda c: sound_features(c, params)
    chunks = [featurise(as_model_input(x[start : start + CHUNK])) for start in range(0, len(x), CHUNK)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)


def _histogram(values: np.ndarray, bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-row normalised histogram of (n, m) values in [0, 1] over `bins` equal bins."""
    n = len(values)
    index = np.minimum((values * bins).astype(np.int64), bins - 1) + np.arange(n)[:, None] * bins
    counts = np.bincount(index.ravel(), None if weights is None else weights.ravel(), minlength=n * bins)
    counts = counts.reshape(n, bins)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)


def _grid_means(values: np.ndarray) -> np.ndarray:
    """Mean of (n, h, w) values over a `GRID` x `GRID` grid of cells, as (n, GRID * GRID)."""
    n, h, w = values.shape
    rows, cols = max(1, h // GRID), max(1, w // GRID)
    cropped = values[:, : rows * GRID, : cols * GRID]
    return cropped.reshape(n, GRID, rows, GRID, cols).mean(axis=(2, 4)).reshape(n, -1)


def _colour(x: np.ndarray) -> np.ndarray:
    """Per-channel mean, spread and percentiles, and hue, saturation and value histograms."""
    red, green, blue = channels = np.ascontiguousarray(x.reshape(len(x), -1, 3).transpose(2, 0, 1))
    sample = channels[:, :, ::PERCENTILE_STRIDE]
    moments = [
        channels.mean(axis=2).T,
        channels.std(axis=2).T,
        *np.percentile(sample, [10, 50, 90], axis=2).transpose(0, 2, 1),
    ]
    high, low = np.maximum(np.maximum(red, green), blue), np.minimum(np.minimum(red, green), blue)
    chroma = high - low
    saturation = chroma / np.maximum(high, 1e-6)
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(
        high == red,
        ((green - blue) / safe) % 6,
        np.where(high == green, (blue - red) / safe + 2, (red - green) / safe + 4),
    )
    return np.concatenate(
        [
            *moments,
            _histogram(hue / 6.0, HUE_BINS, weights=saturation),
            _histogram(saturation, SATURATION_BINS),
            _histogram(high, VALUE_BINS),
        ],
        axis=1,
    )


def _edges(gray: np.ndarray) -> np.ndarray:
    """Gradient energy overall, at half scale and on a grid, and a magnitude-weighted orientation histogram."""
    dx, dy = np.diff(gray, axis=2)[:, :-1, :], np.diff(gray, axis=1)[:, :, :-1]
    magnitude = np.hypot(dx, dy)
    flat = magnitude.reshape(len(gray), -1)
    n, h, w = gray.shape
    half = gray[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    half_energy = np.hypot(np.diff(half, axis=2)[:, :-1, :], np.diff(half, axis=1)[:, :, :-1]).reshape(n, -1)
    orientation = (np.arctan2(dy, dx) % np.pi) / np.pi  # undirected, in [0, 1)
    summary = [
        np.abs(dx).reshape(n, -1).mean(axis=1),
        np.abs(dy).reshape(n, -1).mean(axis=1),
        flat.mean(axis=1),
        flat.std(axis=1),
        np.percentile(flat[:, ::PERCENTILE_STRIDE], 90, axis=1),
        (flat > STRONG_EDGE).mean(axis=1),
        half_energy.mean(axis=1) if half_energy.size else np.zeros(n),
    ]
    return np.concatenate(
        [
            np.stack(summary, axis=1),
            _histogram(orientation.reshape(n, -1), ORIENTATION_BINS, flat),
            _grid_means(magnitude),
        ],
        axis=1,
    )


def _local_binary_counts(gray: np.ndarray) -> np.ndarray:
    """Histogram of how many of its 8 neighbours are brighter than each pixel: a rotation-free texture code."""
    centre = gray[:, 1:-1, 1:-1]
    h, w = centre.shape[1:]
    brighter = sum(
        (gray[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] > centre + 1.0 / 255).astype(np.int64)
        for dy, dx in NEIGHBOURS
    )
    return _histogram(brighter.reshape(len(gray), -1) / 9.0, len(NEIGHBOURS) + 1)


def image_features(x: np.ndarray) -> np.ndarray:
    """Colour, edge, texture and layout features of (n, size, size, 3) float images in [0, 1]."""
    x = np.asarray(x, dtype=np.float32)
    gray = x @ LUMA
    return np.concatenate([_colour(x), _edges(gray), _local_binary_counts(gray), _grid_means(gray)], axis=1)


def _periodicity(envelope: np.ndarray, frames_per_second: float) -> np.ndarray:
    """Strongest normalised autocorrelation of each envelope in the heartbeat range, and its period in seconds."""
    n, frames = envelope.shape
    centred = envelope - envelope.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * frames, axis=1)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frames]
    autocorrelation /= np.maximum(autocorrelation[:, :1], 1e-12)
    low = max(1, int(MIN_PERIOD_SECONDS * frames_per_second))
    high = min(frames, int(MAX_PERIOD_SECONDS * frames_per_second) + 1)
    if high <= low:
        return np.zeros((n, 2))
    lag = autocorrelation[:, low:high].argmax(axis=1)
    strength = autocorrelation[np.arange(n), low + lag]
    return np.stack([strength, (low + lag) / frames_per_second], axis=1)


def _spread(values: np.ndarray) -> list[np.ndarray]:
    """Mean, spread and 10th, 50th and 90th percentiles of (n, t) values over t."""
    return [values.mean(axis=1), values.std(axis=1), *np.percentile(values, [10, 50, 90], axis=1)]


def sound_features(x: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Band, change, loudness and rhythm features of (n, n_mels, frames, 1) log-mel windows in [0, 1]."""
    spectrogram = np.asarray(x, dtype=np.float32)[..., 0]
    bands = [
        spectrogram.mean(axis=2),
        spectrogram.std(axis=2),
        *np.percentile(spectrogram, [10, 90], axis=2),
        np.abs(np.diff(spectrogram, axis=2)).mean(axis=2),
    ]
    flux = np.clip(np.diff(spectrogram, axis=2), 0, None).sum(axis=1)
    envelope = spectrogram.mean(axis=1)
    weights = np.arange(1, spectrogram.shape[1] + 1, dtype=np.float32)[None, :, None]
    centroid = (spectrogram * weights).sum(axis=1) / np.maximum(spectrogram.sum(axis=1), 1e-6)
    overall = np.stack(
        [*_spread(flux), *_spread(envelope), centroid.mean(axis=1), centroid.std(axis=1), flux.max(axis=1)], axis=1
    )
    rhythm = _periodicity(envelope, params.sample_rate / params.hop_length)
    return np.concatenate([*bands, overall, rhythm], axis=1)
