"""Occlusion-sensitivity heatmaps: which input regions the prediction depends on.

Model-agnostic and TensorFlow-free: a grid of patches is blanked one at a
time, the whole grid goes through the model as one batch, and each pixel's
heat is the mean drop in the predicted class's probability over the
patches that covered it.

One map costs (2 * grid - 1)^2 + 1 model inputs, so a recording is
explained through its deciding windows only (`deciding_windows`): every
window of a 15-minute recording cost 240 maps, about 140 s on two cores,
where its few windows that decided the call cost seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Model = Callable[[np.ndarray], np.ndarray]


def _positions(length: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(1, length - patch + 1), stride))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def occlusion_map(
    model: Model,
    x: np.ndarray,
    class_index: int,
    *,
    grid: int = 4,
    fill: float | np.ndarray | None = None,
) -> np.ndarray:
    """Heat in [0, 1] over one input's (height, width).

    Args:
        model: Maps a (batch, height, width, channels) array to probabilities.
        x: One model input, (height, width, channels).
        class_index: The class whose probability is followed.
        grid: Patches are a `grid`-th of each side, moved by half a patch,
            so (2 * grid - 1)^2 model inputs go in one batch.
        fill: Value of a blanked patch; default the input's per-channel mean.
    """
    height, width = x.shape[:2]
    patch_h, patch_w = max(1, height // grid), max(1, width // grid)
    fill_value = x.mean(axis=(0, 1)) if fill is None else fill
    boxes = [
        (top, left)
        for top in _positions(height, patch_h, max(1, patch_h // 2))
        for left in _positions(width, patch_w, max(1, patch_w // 2))
    ]
    batch = np.repeat(x[np.newaxis], len(boxes) + 1, axis=0)
    for index, (top, left) in enumerate(boxes, start=1):
        batch[index, top : top + patch_h, left : left + patch_w] = fill_value
    probs = model(batch)[:, class_index]
    drops = np.maximum(probs[0] - probs[1:], 0.0)
    heat = np.zeros((height, width))
    cover = np.zeros((height, width))
    for drop, (top, left) in zip(drops, boxes, strict=True):
        heat[top : top + patch_h, left : left + patch_w] += drop
        cover[top : top + patch_h, left : left + patch_w] += 1
    heat /= np.maximum(cover, 1)
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).astype(np.float32)


def deciding_windows(class_probs: np.ndarray, limit: int) -> np.ndarray:
    """The indices, in time order, of the `limit` windows that gave the class its highest probabilities.

    These are the windows that carried the call (all of them for a recording
    of `limit` windows or fewer); explaining only them bounds a heatmap's cost
    whatever the recording's length. Ties keep the earlier window.
    """
    ranked = np.argsort(-np.asarray(class_probs), kind="stable")[:limit]
    return np.sort(ranked)


def stitch_windows(windows: np.ndarray, starts_frames: np.ndarray, *, total: int | None = None) -> np.ndarray:
    """Overlay per-window (rows, frames) arrays on one time axis, averaging where windows overlap.

    `total`: the axis' length in frames (default: up to the last window's end); frames no window covers are 0.
    """
    rows, frames = windows.shape[1:3]
    total = int(starts_frames.max()) + frames if total is None else total
    canvas = np.zeros((rows, total))
    count = np.zeros(total)
    for window, start in zip(windows, starts_frames.astype(int), strict=True):
        canvas[:, start : start + frames] += window
        count[start : start + frames] += 1
    return (canvas / np.maximum(count, 1)).astype(np.float32)
