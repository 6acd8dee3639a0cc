"""The files a model is served from, their stamp and their SHA-256: what a promotion pins.

An analyst approves a model by promoting it, and what is served must stay
exactly that. A complete run's files never change, but a run folder restored
from an older copy, a report edited by hand or an instance holding a stale
copy from object storage would otherwise serve other files under the same run
and model name. So:

- `files_stamp` (names, sizes, modification and change times, inodes: a
  few `stat` calls; the change time cannot be set back by `touch`, `cp -p`
  or `rsync -t`, so a restored copy with the old size and time is seen)
  tells a worker that a model it keeps loaded has changed on disk, so that
  it loads it again instead of serving what is no longer there;
- `files_digest` (SHA-256 over the files' names and bytes, computed once per
  stamp) is recorded with each promotion; a champion whose files no longer
  match it is reported as damaged and not served
  (`core.store.registry.champion`).

Names are relative to the run folder, so instances that mount ARTIFACTS_DIR at
different places agree on the digest.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from core.data.audit import file_sha256
from core.store.artifacts import read_json_cached
from core.store.layout import ModelLayout, RunLayout, is_folder_name

ABSENT = (None, None, None, None)


def served_files(run: RunLayout, model: str) -> list[Path]:
    """Every file whose bytes decide the model's answers: the run's classes and preprocessing, the model's
    exported file, report (calibration and fitted operating point) and references, and a blend's parts."""
    files = run.model(model)
    paths = [run.classes, run.preprocessing, run.quality_reference, *files.exported, files.report, files.ood_reference]
    for part in _blend_parts(files):
        paths.extend(run.model(part).exported)
    return paths


def _blend_parts(files: ModelLayout) -> list[str]:
    """The parts a blend's recipe names; none for other models, or for a recipe that cannot be read
    (opening the blend then says what is wrong)."""
    if not files.blend.is_file():
        return []
    try:
        parts = [str(part) for part in read_json_cached(files.blend)["files"]]  # per request: a stat, once read
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [part for part in parts if is_folder_name(part)]  # a model of this run, never a path out of it


def files_stamp(run: RunLayout, model: str) -> tuple:
    """(name, size, modification time, change time, inode) of each served file; a missing file is stamped as absent."""
    return tuple((path.relative_to(run.dir).as_posix(), *_stat(path)) for path in served_files(run, model))


def _stat(path: Path) -> tuple:
    try:
        info = path.stat()
    except OSError:
        return ABSENT
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def files_digest(run: RunLayout, model: str) -> str:
    """SHA-256 over the served files' names and contents (and which are absent), hashed again only when
    their stamp changes."""
    return _digest(run.dir, files_stamp(run, model))


@functools.lru_cache(maxsize=128)
def _digest(run_dir: Path, stamp: tuple) -> str:
    total = hashlib.sha256()
    for name, *stat in stamp:
        content = "absent" if tuple(stat) == ABSENT else _content_sha256(run_dir / name)
        total.update(f"{name}\0{content}\n".encode())
    return total.hexdigest()


def _content_sha256(path: Path) -> str:
    """A file's SHA-256, or "absent" when it went between its stamp and now (the next stamp differs)."""
    try:
        return file_sha256(path)
    except OSError:
        return "absent"
