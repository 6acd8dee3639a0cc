"""Preprocessing a dataset's files into in-memory model-input arrays, in parallel threads.

Decoding, resizing and FFTs release the GIL, so threads keep every core busy
without copying arrays between processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from core.data.dataset import Item
from core.inputs.preprocess import ImagePreprocessing, Preprocessing, load_image, load_sound

T = TypeVar("T")
R = TypeVar("R")
MAX_THREADS = 8


@dataclass
class Encoded:
    """Model inputs of a set of items, one row per image or per sound window.

    Attributes:
        x: (n_rows, ...) uint8 images or float32 spectrogram windows.
        owner: Index of the item each row came from.
        start_seconds: Start of each window in its recording (sounds only).
    """

    x: np.ndarray
    owner: np.ndarray
    start_seconds: np.ndarray | None = None


def thread_map(function: Callable[[T], R], values: Iterable[T]) -> list[R]:
    """`[function(v) for v in values]`, run on up to `MAX_THREADS` threads, results in order."""
    with ThreadPoolExecutor(min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        return list(pool.map(function, values))


def encode(items: Sequence[Item], params: Preprocessing) -> Encoded:
    """Every item's model inputs: one row per image, or one per window of each recording."""
    paths = [item.path for item in items]
    if isinstance(params, ImagePreprocessing):
        images = thread_map(lambda path: load_image(path, params), paths)
        return Encoded(np.stack(images), np.arange(len(items)))
    sounds = thread_map(lambda path: load_sound(path, params), paths)
    owner = np.concatenate([np.full(len(windows), index) for index, (windows, _) in enumerate(sounds)])
    return Encoded(
        np.concatenate([windows for windows, _ in sounds]),
        owner,
        np.concatenate([starts for _, starts in sounds]),
    )
