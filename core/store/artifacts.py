"""The on-disk layout under ARTIFACTS_DIR, and atomic writes into it.

Layout (documented in docs/artifacts.md):

    ARTIFACTS_DIR/
      training_metrics.csv          one row per run, model and epoch; appended to
      runs/<run_id>/
        status.json                 running | complete | failed, and when
        config.json                 the training options
        audit.json                  the dataset audit
        split.csv                   every file's split, group and hash
        classes.json                class names, positive class
        preprocessing.json          parameters that serving must reproduce
        versions.json               library versions
        models/<model>/
          model.keras               the trained Keras model
          history.csv               per-epoch history
          predictions_test.csv      test predictions per item (per recording for sounds)
          predictions_val.csv       validation predictions, for thresholds and calibration
          predictions_test_windows.csv, predictions_val_windows.csv   sounds only
          summary.json              headline figures and training facts

Every file is written to a temporary name in the same folder and renamed
into place, so a reader never sees half a file and a killed run never
damages an earlier one.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import secrets
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

if TYPE_CHECKING:
    import pandas

RUNS_DIR = "runs"
METRICS_CSV = "training_metrics.csv"
METRICS_COLUMNS = (
    "run_id",
    "model",
    "epoch",
    "accuracy",
    "loss",
    "val_accuracy",
    "val_loss",
    "learning_rate",
    "epoch_seconds",
    "phase",
)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)`, then rename the finished file onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_csv(path: Path, frame: "pandas.DataFrame") -> None:
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
def _locked(path: Path) -> Iterator[None]:
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
    with _locked(path):
        existing = path.read_bytes() if path.exists() else b""
        if not existing:
            writer.writeheader()
        elif not existing.endswith(b"\n"):
            existing += b"\n"
        writer.writerows(rows)

        def write(tmp: Path) -> None:
            tmp.write_bytes(existing + buffer.getvalue().encode("utf-8"))

        atomic_write(path, write)


def save_keras_model(model: Any, path: Path) -> None:
    """Save a Keras model atomically (Keras needs the `.keras` suffix on the temp name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def new_run_id(name: str, *, now: datetime | None = None) -> str:
    """Sortable, unique and readable: `20261121-041530-throat-photos-3fa2`."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower()).strip("-") or "run"
    return f"{stamp}-{slug[:40]}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def runs_dir(artifacts_dir: Path) -> Path:
    return Path(artifacts_dir) / RUNS_DIR


def model_dir(run_dir: Path, model_name: str) -> Path:
    return Path(run_dir) / "models" / model_name


def metrics_csv(artifacts_dir: Path) -> Path:
    return Path(artifacts_dir) / METRICS_CSV
