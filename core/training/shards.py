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

The key also holds a fingerprint of the code that makes the inputs
(`code_fingerprint`), so an edit to the preprocessing can never silently reuse
inputs that older code made: they land in a new folder, and the old one ages
out. `CACHE_VERSION` is left for what the fingerprint does not see, the format
of the shard files that this module writes.

Each folder has a `lease` file: a process holds a shared lock (`flock`) on it
for as long as any of its `InputRows` may read from the folder, and touches it
when it opens the folder, so its modification time is the folder's last use.
`core.training.cache_folders` evicts only folders it can lock exclusively, and
renames a folder out of its key before deleting it, so no reader ever finds a
half-deleted folder under a key (see `Lease`).
"""

from __future__ import annotations

import ast
import contextlib
import errno
import fcntl
import functools
import hashlib
import importlib
import inspect
import json
import logging
import os
import tempfile
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from core.errors import CoreError
from core.inputs.preprocess import ImagePreprocessing, Preprocessing
from core.store import artifacts

log = logging.getLogger(__name__)

# The format of the shard files (manifest fields, stored dtypes, row layout): bump it when this module changes
# how it writes them. What the rows hold is covered by `code_fingerprint` instead.
CACHE_VERSION = 1
# The code that turns a file into cached rows: `core.training.encode` calls `load_image` and `load_sound`, and
# everything they run is in this module (it imports nothing else from `core.inputs`). Augmentation
# (`core.training.augment`, `core.inputs.charts`) is applied to rows as they are read, so it is not here.
PREPROCESSING_MODULES = ("core.inputs.preprocess",)
# The libraries those functions call, whose releases can change a decoded image or a spectrogram (soxr is
# librosa's resampler, `res_type="soxr_hq"` in `resample`).
PREPROCESSING_LIBRARIES = ("numpy", "pillow", "soundfile", "librosa", "scipy", "soxr")
LEASE, DESCRIPTION = "lease", "params.json"  # in every folder: the lock and last-use mark; what made the folder


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """`tree` with every module, class and function docstring removed (comments are never in a tree)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(source: str) -> str:
    """SHA-256 of Python source as the interpreter sees it: edits to comments, docstrings or layout do not count."""
    return hashlib.sha256(ast.dump(_without_docstrings(ast.parse(source))).encode()).hexdigest()


@functools.cache
def _fingerprint(modules: tuple[str, ...], libraries: tuple[str, ...]) -> str:
    parts = [f"{name}:{code_digest(inspect.getsource(importlib.import_module(name)))}" for name in modules]
    parts += [f"{name}=={_version(name)}" for name in libraries]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def code_fingerprint() -> str:
    """A digest of the code that makes cached inputs (`PREPROCESSING_MODULES`) and of its libraries' releases.

    Part of every folder's key, so inputs made by other code, or by another
    release of Pillow or librosa, are never read as if this code had made them.
    """
    return _fingerprint(PREPROCESSING_MODULES, PREPROCESSING_LIBRARIES)


def description(params: Preprocessing) -> dict:
    """What decides a folder's content, as written in its `params.json`; its key is a digest of this."""
    return {"cache_version": CACHE_VERSION, "code": code_fingerprint(), "parameters": params.to_dict()}


def params_key(params: Preprocessing) -> str:
    """The folder name of one preprocessing parameter set, made by this code (see `description`)."""
    text = json.dumps(description(params), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def holds(descriptor: int, folder: Path) -> bool:
    """Whether the open file `descriptor` is still the lease at `folder`'s path (not moved away, nor made anew)."""
    try:
        return os.path.samestat(os.stat(folder / LEASE), os.fstat(descriptor))
    except FileNotFoundError:
        return False


READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)  # a lease that cannot be written is still read


class Lease:
    """A shared lock on a cache folder, held until this object is garbage-collected (see the module docstring).

    Opening takes the lock, then checks that the locked file is still the one
    at the folder's path: an evictor that held the folder meanwhile has
    renamed it away, and the folder is made again. The lease file is touched,
    so its modification time says when the folder was last used.
    """

    def __init__(self, folder: Path):
        while True:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = _open_lease(folder)
            except FileNotFoundError:  # an evictor moved the folder away between the two lines: again
                continue
            fcntl.flock(descriptor, fcntl.LOCK_SH)
            if holds(descriptor, folder):
                break
            os.close(descriptor)
        with contextlib.suppress(OSError):  # a cache shared read-only: read, but not marked
            os.utime(descriptor)
        self._closed = weakref.finalize(self, os.close, descriptor)


def _open_lease(folder: Path) -> int:
    """The folder's lease, made if missing; opened read-only where it cannot be written (permissions, a read-only
    mount), so a cache filled by someone else is still read.

    Raises:
        FileNotFoundError: the folder is gone (an evictor moved it away); the caller makes it again.
        CoreError: the folder has no lease and none can be made, so no eviction could tell it is read.
    """
    try:
        return os.open(folder / LEASE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno not in READ_ONLY:
            raise
    try:
        return os.open(folder / LEASE, os.O_RDONLY)
    except FileNotFoundError:
        if not folder.is_dir():
            raise
        raise CoreError(
            f"the input cache folder {folder} is read-only and has no lease file: make INPUT_CACHE_DIR writable "
            "once, or point it elsewhere"
        ) from None


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
        keep: An object kept alive as long as any view (the folder's lease, a temporary folder).
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
    trains with flat memory, it just does not reuse anything. Every `InputRows`
    it gives holds the folder's `Lease`, so no eviction removes it while read.
    """

    def __init__(self, root: Path | None, params: Preprocessing):
        self._temporary = tempfile.TemporaryDirectory(prefix="input-cache-") if root is None else None
        base = Path(self._temporary.name) if self._temporary is not None else Path(root)
        self.folder = base / params_key(params)
        self.params = params
        self._lease = Lease(self.folder)
        if not (self.folder / DESCRIPTION).exists():
            artifacts.write_text(self.folder / DESCRIPTION, json.dumps(description(params), indent=2))
        self.row_shape = tuple(params.input_shape)
        self.stored, self.dtype = _dtypes(params)
        self.row_bytes = int(np.prod(self.row_shape)) * self.stored.itemsize
        self.files: list[Path] = []
        self.entries: dict[str, Entry] = {}
        self.load()

    def load(self) -> None:
        """Read every trusted shard manifest (see `_trusted`) into `entries`; first copy of a file wins."""
        self.files, self.entries = [], {}
        for manifest in sorted(self.folder.glob("*.json")):
            if manifest.name == DESCRIPTION:
                continue
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
        keep = (self._lease, self._temporary)
        view = InputRows(self.files, shard, position, self.row_shape, self.stored, self.dtype, keep=keep)
        return view, owner, starts
