"""The input cache's folders as a whole (`INPUT_CACHE_DIR`): their size, parameters and last use, and evicting them.

Folders pile up: each new image size or band-pass, and each change of the
preprocessing code (`core.training.shards.code_fingerprint`), makes one, and
nothing reads the old ones again. After a run writes new inputs, `evict`
removes whole folders until the cache fits INPUT_CACHE_MAX_GB: first those this
code can never read (made by other code), then the least recently used. The
folder of the run that evicts is never removed, even when it alone is larger
than the bound (it is said in a warning): a smaller cache would only make every
run preprocess again.

Safe beside other training processes. A reader holds a shared lock on the
folder's lease for as long as it may read (`core.training.shards.Lease`); a
folder is removed only under an exclusive lock on that same lease, taken
without waiting, so a folder being read is passed over. It is first renamed out
of its key (`.evicting-<random>`, one atomic step) and only then deleted, so a
process that opens its key meanwhile makes a fresh folder and never sees a
half-deleted one as valid. A deletion killed halfway leaves only a
`.evicting-` folder, which no reader opens and the next eviction deletes.
Only names this cache makes are touched, so a mistyped INPUT_CACHE_DIR never
loses anything else.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.training.shards import CACHE_VERSION, DESCRIPTION, LEASE, code_fingerprint, holds

log = logging.getLogger(__name__)

KEY = re.compile(r"^[0-9a-f]{24}$")  # `shards.params_key`
TRASH = ".evicting-"
GB = 1e9


@dataclass(frozen=True)
class CacheFolder:
    """One parameter set's folder.

    Attributes:
        size: Bytes of its files.
        last_used: When a run last opened it (its lease's modification time), in seconds since the epoch.
        description: Its `params.json` (parameters, code fingerprint), or None for a folder made before it existed.
        in_use: A process holds its lease now (a training reads or fills it).
    """

    path: Path
    size: int
    last_used: float
    description: dict | None
    in_use: bool

    @property
    def readable(self) -> bool:
        """Whether this code would read it: made by the same preprocessing code and shard format."""
        expected = {"cache_version": CACHE_VERSION, "code": code_fingerprint()}
        return self.description is not None and all(self.description.get(k) == v for k, v in expected.items())


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[bool]:
    """Yield whether this process holds the folder's lease exclusively (nobody reads it), until the block ends.

    The lease is made when missing (a folder from older code, or one a reader
    is making now), so a reader and an evictor always lock the same file; and
    it must still be the lease at the folder's path once locked, or an evictor
    that went first has already moved the folder away.
    """
    try:
        descriptor = os.open(folder / LEASE, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # gone: another evictor was first
        yield False
        return
    except OSError as exc:  # not this user's to remove, or a read-only mount: said, as it is not "in use"
        log.warning("input cache: cannot remove %s (%s)", folder, exc.strerror or type(exc).__name__)
        yield False
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield holds(descriptor, folder)
    finally:
        os.close(descriptor)


def _remove(folder: Path) -> bool:
    """Delete a folder nobody reads (see the module docstring); whether it was deleted.

    A folder that cannot be moved (permissions) is left and logged: evicting
    is housekeeping, and never stops the training that does it.
    """
    trash = folder.with_name(f"{TRASH}{uuid.uuid4().hex}")
    with _exclusive(folder) as held:
        if not held:
            return False
        try:
            os.rename(folder, trash)
        except OSError as exc:
            log.warning("input cache: cannot remove %s (%s)", folder, exc.strerror or type(exc).__name__)
            return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def _in_use(folder: Path) -> bool:
    """Whether a process holds the folder's lease; looks without making one."""
    try:
        descriptor = os.open(folder / LEASE, os.O_RDONLY)
    except OSError:  # no lease (older code) or not ours to read: nothing of this process can hold it
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)


def _folder(path: Path) -> CacheFolder | None:
    """The folder's size, last use and description; None when it vanished while being looked at."""
    try:
        files = [entry.stat(follow_symlinks=False) for entry in os.scandir(path) if entry.is_file()]
        lease = path / LEASE
        last_used = (lease if lease.exists() else path).stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        description = json.loads((path / DESCRIPTION).read_text())
    except (OSError, ValueError):
        description = None
    return CacheFolder(path, sum(f.st_size for f in files), last_used, description, _in_use(path))


def folders(root: Path) -> list[CacheFolder]:
    """The cache's parameter folders, most recently used first."""
    paths = [path for path in Path(root).iterdir() if KEY.match(path.name)] if Path(root).is_dir() else []
    found = [folder for folder in map(_folder, paths) if folder is not None]
    return sorted(found, key=lambda folder: folder.last_used, reverse=True)


def _sweep(root: Path) -> None:
    """Delete what killed evictions left (`.evicting-` folders): nobody reads them."""
    for path in Path(root).glob(f"{TRASH}*") if Path(root).is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)


def evict(root: Path, max_bytes: float, *, keep: Path | None = None) -> list[CacheFolder]:
    """Remove folders, unreadable then least recently used, until the cache fits `max_bytes`; the removed ones.

    `keep` (the folder of the run that evicts) and folders being read are never removed.
    """
    _sweep(root)
    found = folders(root)
    held = total(found)
    removed = []
    for folder in sorted(found, key=lambda folder: (folder.readable, folder.last_used)):
        if held <= max_bytes:
            break
        if folder.path != keep and _remove(folder.path):
            removed.append(folder)
            held -= folder.size
    if removed:
        log.info(
            "input cache: evicted %d folder(s), %s, least recently used first", len(removed), size_text(total(removed))
        )
    if held > max_bytes:
        log.warning(
            "input cache %s holds %s, above INPUT_CACHE_MAX_GB (%s): the rest is in use by this run or another; "
            "raise the bound, or expect these inputs to be preprocessed again",
            root,
            size_text(held),
            size_text(max_bytes),
        )
    return removed


def clear(root: Path) -> tuple[list[CacheFolder], list[CacheFolder]]:
    """Remove every folder nobody reads; (the removed ones, the ones kept because a training reads them)."""
    _sweep(root)
    removed, kept = [], []
    for folder in folders(root):
        (removed if _remove(folder.path) else kept).append(folder)
    return removed, kept


def size_text(size: float) -> str:
    """Bytes for a person, in the decimal units of INPUT_CACHE_MAX_GB: `12.3 MB`, `4.56 GB`."""
    return f"{size / GB:.2f} GB" if size >= GB else f"{size / 1e6:.1f} MB"


def total(found: list[CacheFolder]) -> int:
    """Bytes of these folders together."""
    return sum(folder.size for folder in found)


def _parameters(folder: CacheFolder) -> str:
    if folder.description is None:
        return "parameters unknown (made by older code; never read again)"
    parameters = dict(folder.description.get("parameters", {}))
    text = f"{parameters.pop('modality', '?')}: " + " ".join(f"{k}={v}" for k, v in parameters.items())
    return text if folder.readable else f"{text} (made by other preprocessing code; never read again)"


def listing(root: Path, max_bytes: float, timezone: str = "UTC") -> list[str]:
    """The cache as lines for a person: a total against the bound, then one line per folder, newest first."""
    found = folders(root)
    if not found:
        return [f"the input cache {root} is empty (bound: INPUT_CACHE_MAX_GB={max_bytes / GB:g})"]
    lines = [
        f"input cache {root}: {len(found)} folder(s), {size_text(total(found))} of at most {max_bytes / GB:g} GB "
        "(INPUT_CACHE_MAX_GB); one folder per preprocessing parameter set, newest use first"
    ]
    for folder in found:
        used = datetime.fromtimestamp(folder.last_used, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
        state = "  [in use]" if folder.in_use else ""
        lines.append(f"  {folder.path.name}  {size_text(folder.size):>9}  last used {used}{state}")
        lines.append(f"      {_parameters(folder)}")
    return lines
