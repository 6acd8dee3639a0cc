"""Atomic reads and writes of artifact files: the one way anything under ARTIFACTS_DIR is written.

Every file is written to a temporary name in the same folder
(`.<stem>.<random>.tmp<suffix>`) and renamed into place, so a reader never
sees half a file and a killed run never damages an earlier one. The names
themselves come from `core.store.layout`; this module spells none.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)`, then rename the finished file onto `path`.

    The temporary name keeps `path`'s suffix, so writers that insist on one
    (Keras' `.keras`, LiteRT's `.tflite`) can write it too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_csv(path: Path, frame: pandas.DataFrame) -> None:
    write_text(path, frame.to_csv(index=False))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


_cache: dict[tuple[str, int, int], Any] = {}
_cache_lock = threading.Lock()
_CACHE_LIMIT = 1024


def cached_read(path: Path, reader: Callable[[Path], Any]) -> Any:
    """`reader(path)`, remembered until the file's modification time or size changes.

    Every write here replaces the file (a new inode and mtime), so a cached
    value is never stale. Callers must not mutate what they get back.

    Raises:
        OSError, ValueError: the file is missing or unparseable.
    """
    stat = Path(path).stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    value = reader(Path(path))
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = value
    return value


def clear_cache() -> None:
    """Forget every cached read, as a freshly started process would (benchmarks of cold reads)."""
    with _cache_lock:
        _cache.clear()


def read_json_cached(path: Path) -> Any:
    return cached_read(path, read_json)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path`, so concurrent runs append in turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_rows(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Append rows to a CSV atomically: existing bytes are copied, never re-parsed.

    A reader sees the old file or the old file plus all the new rows.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    with locked(path):
        existing = path.read_bytes() if path.exists() else b""
        if not existing:
            writer.writeheader()
        elif not existing.endswith(b"\n"):
            existing += b"\n"
        writer.writerows(rows)
        write_bytes(path, existing + buffer.getvalue().encode("utf-8"))
