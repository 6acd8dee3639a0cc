"""Preprocessing a dataset's files into cached model inputs (`core.training.shards`), in parallel threads.

Decoding, resizing and FFTs release the GIL, so threads keep every core busy
without copying arrays between processes. The result is read lazily from the
cache, so memory stays flat however large the dataset.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from core.data.audit import file_sha256
from core.data.dataset import Item
from core.inputs.preprocess import ImagePreprocessing, Preprocessing, load_image, load_sound
from core.training import cache_folders
from core.training.shards import InputCache, InputRows

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
MAX_THREADS = 8
SHARD_FILES = 256  # files per shard: 38 MB of 224 px images held while a shard is made


@dataclass
class Encoded:
    """Model inputs of a set of items, one row per image or per sound window.

    Attributes:
        x: (n_rows, ...) uint8 images or float32 spectrogram windows, read
            lazily from the input cache (`InputRows`; training takes views of it with `subset`).
        owner: Index of the item each row came from.
        start_seconds: Start of each window in its recording (sounds only).
    """

    x: InputRows
    owner: np.ndarray
    start_seconds: np.ndarray | None = None


def thread_map(function: Callable[[T], R], values: Iterable[T]) -> list[R]:
    """`[function(v) for v in values]`, run on up to `MAX_THREADS` threads, results in order."""
    with ThreadPoolExecutor(min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        return list(pool.map(function, values))


def _load(path: Path, params: Preprocessing) -> tuple[np.ndarray, np.ndarray | None]:
    """One file's model-input rows and (sounds) window start times."""
    if isinstance(params, ImagePreprocessing):
        return load_image(path, params)[None], None
    return load_sound(path, params)


def _fill(cache: InputCache, missing: dict[str, Path]) -> None:
    """Preprocess the files not cached yet, a shard at a time, so memory holds one shard, never the dataset."""
    todo = list(missing.items())
    progress = tqdm(total=len(todo), unit="file", desc="preprocessing", disable=None)
    try:
        for start in range(0, len(todo), SHARD_FILES):
            chunk = todo[start : start + SHARD_FILES]
            loaded = thread_map(lambda entry: _load(entry[1], cache.params), chunk)
            cache.add([(digest, rows, starts) for (digest, _), (rows, starts) in zip(chunk, loaded, strict=True)])
            progress.update(len(chunk))
    finally:
        progress.close()


def encode(
    items: Sequence[Item],
    params: Preprocessing,
    *,
    cache_dir: Path | None,
    hashes: Mapping[Path, str] | None = None,
    cache_max_bytes: float | None = None,
) -> Encoded:
    """Every item's model inputs (one row per image, or one per window of each recording), as lazy cached rows.

    Files already in the cache (`core.training.shards`) are not decoded again.

    Args:
        cache_dir: The input cache folder (`INPUT_CACHE_DIR`); None caches in
            a temporary folder that lives as long as the returned rows.
        hashes: Each item's file SHA-256 when already known (the audit computes them).
        cache_max_bytes: The cache's bound (`INPUT_CACHE_MAX_GB`): once new
            inputs are written, other folders are evicted until it fits
            (`core.training.cache_folders.evict`); None never evicts.
    """
    started = time.perf_counter()
    paths = [item.path for item in items]
    digests = [hashes[path] for path in paths] if hashes is not None else thread_map(file_sha256, paths)
    cache = InputCache(cache_dir, params)
    missing = {digest: path for digest, path in zip(digests, paths, strict=True) if digest not in cache.entries}
    log.info(
        "preprocessing %d files (%d of %d distinct already in the input cache %s)",
        len(missing),
        len(set(digests)) - len(missing),
        len(set(digests)),
        cache.folder,
    )
    _fill(cache, missing)
    if missing and cache_dir is not None and cache_max_bytes is not None:
        cache_folders.evict(cache_dir, cache_max_bytes, keep=cache.folder)
    rows, owner, starts = cache.rows(digests)
    log.info("inputs ready: %d rows in %.1f s", len(rows), time.perf_counter() - started)
    return Encoded(rows, owner, starts)
