"""The on-disk cache of preprocessed model inputs, so training never holds a whole dataset in memory.

One 224 px image is 150 KB as uint8 (600 KB as float32): 40,000 of them would
fill this machine's memory before training starts, and decoding them again for
every run costs minutes. So each file's model inputs are written once, compactly
(uint8 images, float16 spectrogram windows, which hold [0, 1] to about 1e-3),
and read back a few rows at a time through `InputRows`.

What decides an input decides its key: the preprocessing parameters (one folder
per parameter set, `params_key`) and the file's SHA-256 (one entry per distinct
content: a changed file is a new entry, identical files share one). Entries are
grouped into shards: `<key>/<name>.rows` (raw rows, C order) and
`<key>/<name>.json` (the files it holds, their row counts and window starts).
Both are written under temporary names and renamed, the manifest last, and a
shard whose data file is missing or not the size its manifest says is passed
over, so a killed writer never leaves anything a later run trusts. Several runs
may fill one cache at once: shard names are random, and a file encoded twice is
merely stored twice.

Old parameter sets are never deleted automatically; remove the folder to reclaim
the space. Bump `CACHE_VERSION` when preprocessing code changes what a parameter
set produces, so no run reads inputs made by older code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.inputs.preprocess import ImagePreprocessing, Preprocessing
from core.store import artifacts

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def params_key(params: Preprocessing) -> str:
    """The folder name of one preprocessing parameter set (and cache version)."""
    text = json.dumps({"cache_version": CACHE_VERSION, **params.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _dtypes(params: Preprocessing) -> tuple[np.dtype, np.dtype]:
    """(stored, returned) dtypes: images stay uint8; windows are stored float16 and returned float32."""
    if isinstance(params, ImagePreprocessing):
        return np.dtype(np.uint8), np.dtype(np.uint8)
    return np.dtype(np.float16), np.dtype(np.float32)


class InputRows:
    """A read-only, array-like view of cached model-input rows that reads only the rows asked for.

    Supports what training does with an array: `len(x)`, `x.shape`, `x.dtype`,
    `x.ndim`, `x[i]`, `x[a:b:k]`, `x[int_array]` and `x[bool_mask]` (each returns a
    numpy array of just those rows), iteration, and `subset(rows)` (a lazy view).
    Rows are read with positional reads (`os.preadv`) into a fresh array, so
    nothing is memory-mapped and resident memory holds only what was asked for.

    Args:
        files: The shards' data files.
        shard: Index into `files` of each row.
        position: Row number of each row inside its shard.
        row_shape: Shape of one row.
        stored: dtype on disk; `dtype`: dtype returned.
        keep: An object kept alive as long as any view (a temporary cache folder).
    """

    def __init__(
        self,
        files: Sequence[Path],
        shard: np.ndarray,
        position: np.ndarray,
        row_shape: tuple[int, ...],
        stored: np.dtype,
        dtype: np.dtype,
        keep: object = None,
    ):
        self.files, self.shard, self.position = list(files), np.asarray(shard), np.asarray(position)
        self.row_shape, self.stored, self.dtype, self._keep = tuple(row_shape), stored, dtype, keep
        self.row_bytes = int(np.prod(self.row_shape)) * stored.itemsize

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.shard), *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __len__(self) -> int:
        return len(self.shard)

    def __repr__(self) -> str:
        return f"InputRows(shape={self.shape}, dtype={self.dtype}, shards={len(set(self.shard.tolist()))})"

    def _indices(self, key: int | slice | np.ndarray | Sequence[int]) -> np.ndarray:
        """The row numbers `key` selects, as numpy indexing would select them."""
        if isinstance(key, slice):
            return np.arange(len(self))[key]
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"boolean index of shape {rows.shape} for {len(self)} rows")
            return np.flatnonzero(rows)
        if rows.ndim != 1 or not (rows.size == 0 or np.issubdtype(rows.dtype, np.integer)):
            raise IndexError("rows are selected by an integer, a slice, or a 1-D integer or boolean array")
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        return np.where(rows < 0, rows + len(self), rows)

    def __getitem__(self, key: int | slice | np.ndarray | Sequence[int]) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        return self._read(self._indices(key))

    def __iter__(self):
        """Row by row, read a block at a time."""
        for start in range(0, len(self), 256):
            yield from self[start : start + 256]

    def subset(self, rows: np.ndarray | slice | Sequence[int]) -> InputRows:
        """A lazy view of some rows (nothing is read)."""
        rows = self._indices(rows)
        return InputRows(
            self.files, self.shard[rows], self.position[rows], self.row_shape, self.stored, self.dtype, self._keep
        )

    def _read(self, rows: np.ndarray) -> np.ndarray:
        """The rows, read shard by shard, converted to the returned dtype."""
        out = np.empty((len(rows), *self.row_shape), self.stored)
        shards = self.shard[rows]
        for shard in np.unique(shards):
            where = np.flatnonzero(shards == shard)
            descriptor = os.open(self.files[shard], os.O_RDONLY)
            try:
                for index, position in zip(where, self.position[rows[where]], strict=True):
                    read = os.preadv(descriptor, [memoryview(out[index]).cast("B")], int(position) * self.row_bytes)
                    if read != self.row_bytes:
                        raise OSError(f"input cache shard {self.files[shard].name} is shorter than its manifest")
            finally:
                os.close(descriptor)
        return out if self.dtype == self.stored else out.astype(self.dtype)


@dataclass(frozen=True)
class Entry:
    """Where one file's rows live: shard index, first row in the shard, row count, window starts (sounds)."""

    shard: int
    first: int
    rows: int
    starts: tuple[float, ...] | None


class InputCache:
    """The cached inputs of one preprocessing parameter set under `root` (see the module docstring).

    `root=None` caches in a temporary folder removed when the last `InputRows`
    that reads from it is garbage-collected: a run without a cache folder still
    trains with flat memory, it just does not reuse anything.
    """

    def __init__(self, root: Path | None, params: Preprocessing):
        self._temporary = tempfile.TemporaryDirectory(prefix="input-cache-") if root is None else None
        base = Path(self._temporary.name) if self._temporary is not None else Path(root)
        self.folder = base / params_key(params)
        self.params = params
        self.row_shape = tuple(params.input_shape)
        self.stored, self.dtype = _dtypes(params)
        self.row_bytes = int(np.prod(self.row_shape)) * self.stored.itemsize
        self.files: list[Path] = []
        self.entries: dict[str, Entry] = {}
        self.load()

    def load(self) -> None:
        """Read every trusted shard manifest (see `_trusted`) into `entries`; first copy of a file wins."""
        self.files, self.entries = [], {}
        for manifest in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            items = self._trusted(manifest)
            if items is None:
                continue
            self._index(manifest.with_suffix(".rows"), items)

    def _index(self, data: Path, items: list[dict]) -> None:
        """Make one shard's items findable by their file's SHA-256."""
        self.files.append(data)
        first = 0
        for item in items:
            starts = None if item["starts"] is None else tuple(item["starts"])
            self.entries.setdefault(item["sha256"], Entry(len(self.files) - 1, first, item["rows"], starts))
            first += item["rows"]

    def _trusted(self, manifest: Path) -> list[dict] | None:
        """The manifest's items, or None when it or its data file cannot be trusted (logged)."""
        try:
            content = json.loads(manifest.read_text())
            items = content["items"]
            expected = sum(item["rows"] for item in items) * self.row_bytes
            matches = content["version"] == CACHE_VERSION and content["row_shape"] == list(self.row_shape)
            size = manifest.with_suffix(".rows").stat().st_size
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("input cache: passing over shard %s (%s)", manifest.name, type(exc).__name__)
            return None
        if not matches or content.get("dtype") != self.stored.str or size != expected:
            log.warning("input cache: passing over shard %s (%d bytes, expected %d)", manifest.name, size, expected)
            return None
        return items

    def add(self, contents: Sequence[tuple[str, np.ndarray, np.ndarray | None]]) -> None:
        """Write one shard of (sha256, rows, window starts or None) and index it.

        The data file is renamed into place before the manifest, so a manifest
        always describes a complete data file.
        """
        name = uuid.uuid4().hex
        data = self.folder / f"{name}.rows"

        def write_rows(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                for _, rows, _ in contents:
                    handle.write(np.ascontiguousarray(rows, dtype=self.stored).tobytes())

        artifacts.atomic_write(data, write_rows)
        items = [
            {"sha256": digest, "rows": len(rows), "starts": None if starts is None else [float(s) for s in starts]}
            for digest, rows, starts in contents
        ]
        manifest = {"version": CACHE_VERSION, "dtype": self.stored.str, "row_shape": list(self.row_shape)}
        artifacts.write_text(data.with_suffix(".json"), json.dumps({**manifest, "items": items}))
        self._index(data, items)

    def rows(self, digests: Sequence[str]) -> tuple[InputRows, np.ndarray, np.ndarray | None]:
        """The cached rows of these files, in order: the rows, the index of each row's file, and window starts.

        Raises:
            KeyError: a file is not cached yet.
        """
        entries = [self.entries[digest] for digest in digests]
        counts = np.array([entry.rows for entry in entries], dtype=np.int64)
        owner = np.repeat(np.arange(len(entries)), counts)
        shard = np.repeat(np.array([entry.shard for entry in entries], dtype=np.int32), counts)
        position = np.concatenate([np.arange(e.first, e.first + e.rows) for e in entries] or [np.zeros(0, np.int64)])
        starts = None
        if not isinstance(self.params, ImagePreprocessing):
            starts = np.array([s for entry in entries for s in entry.starts or ()], dtype=np.float64)
        view = InputRows(self.files, shard, position, self.row_shape, self.stored, self.dtype, keep=self._temporary)
        return view, owner, starts
