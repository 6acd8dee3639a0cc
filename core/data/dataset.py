"""Finding labelled files: class folders or CSV manifests, combined and relabelled.

A dataset is a list of `Item`s from one or more sources. Each source is either
a folder with one sub-folder per class, or a CSV manifest with `path,label`
and an optional group column. Paths in a manifest are relative to the
manifest's own folder.

Nothing is dropped silently. A file that cannot be used (unsupported type,
special file, broken link) is `Skipped` with its reason; a folder that cannot
be listed may hold a whole class, so by default it stops loading, naming the
folder. A manifest is read as UTF-8 (or UTF-8/16/32 with a byte-order mark)
and refused, not guessed at, in any other encoding.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInput, NotFound
from core.inputs.formats import modality_of


@dataclass(frozen=True)
class Item:
    """One labelled file.

    Attributes:
        path: Where the file is.
        label: Class name, after any label map.
        group: Patient, site or source-photo identifier; items sharing it
            always land in the same split. None when unknown.
        source: The `--data` argument the item came from.
    """

    path: Path
    label: str
    group: str | None
    source: str


@dataclass(frozen=True)
class Skipped:
    """A file that was found but cannot be used, and why."""

    path: str
    reason: str


@dataclass
class Dataset:
    """Items of a single modality, plus what was passed over.

    Attributes:
        skipped: Files found but not used, each with its reason.
        unreadable_folders: Folders (or links in place of one) whose files
            could not be listed; only present when loading was told to allow them.
    """

    items: list[Item]
    modality: str
    skipped: list[Skipped] = field(default_factory=list)
    unreadable_folders: list[Skipped] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return sorted({item.label for item in self.items})


def parse_label_map(text: str | None) -> dict[str, str]:
    """Parse `old=new,old2=new` into a mapping.

    >>> parse_label_map("mild=hearing_loss,severe=hearing_loss")
    {'mild': 'hearing_loss', 'severe': 'hearing_loss'}
    """
    if not text:
        return {}
    mapping = {}
    for pair in text.split(","):
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidInput(f"--label-map entries must look like old=new, got {pair!r}")
        mapping[old.strip()] = new.strip()
    return mapping


def group_from_name(name: str, pattern: re.Pattern[str]) -> str | None:
    """The part of a file name that identifies its group, or None if no match.

    The first capture group that matched is used, else the whole match, so
    alternatives such as `^(N\\d+)|^(.*?)_jpg\\.rf\\.` work.

    >>> group_from_name("N12 Left.jpg", re.compile(r"^(N\\d+)"))
    'N12'
    """
    match = pattern.search(name)
    if match is None:
        return None
    return next((group for group in match.groups() if group is not None), match.group(0))


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
# Byte-order marks and the codec that reads past each; UTF-32's come first, as UTF-16's are their prefixes.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
Rows = list[tuple[Path, str, str | None]]


def _unreachable(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        return f"is a symbolic link that leads nowhere ({exc.strerror or exc})"
    return f"cannot be read ({exc.strerror or exc})"


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as one input file, or None for a regular file (or a link to one).

    Checked before anything opens the file: opening a named pipe waits for a
    writer forever, and a folder, socket or device is no image or recording.

    >>> file_problem(Path("/"))
    'is a folder, not a file'
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return _unreachable(path, exc)
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"is {kind}, not a file"


def _class_folders(root: Path) -> tuple[list[Path], list[Skipped]]:
    """The class folders under `root`, and the entries there that cannot be read: each may be a whole class."""
    try:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise InvalidInput(f"cannot read the data folder {root} ({exc.strerror or exc})") from None
    folders, unreadable = [], []
    for entry in entries:
        try:
            is_folder = stat.S_ISDIR(entry.stat().st_mode)
        except OSError as exc:
            unreadable.append(Skipped(str(entry), _unreachable(entry, exc)))
            continue
        if is_folder:
            folders.append(entry)
    if not folders and not unreadable:
        raise InvalidInput(
            f"{root} has no class sub-folders; expected {root}/<class>/<file> or a CSV manifest with path,label columns"
        )
    return folders, unreadable


def _class_files(class_dir: Path) -> tuple[list[Path], list[Skipped], list[Skipped]]:
    """The usable files under one class folder, the entries passed over, and the folders that cannot be listed.

    Links to sub-folders are not followed (they may loop); they are passed over, with that reason.
    """
    files: list[Path] = []
    passed: list[Skipped] = []
    unlisted: list[Skipped] = []

    def cannot_list(exc: OSError) -> None:
        unlisted.append(Skipped(str(exc.filename or class_dir), f"cannot be listed ({exc.strerror or exc})"))

    for folder, subfolders, names in os.walk(class_dir, onerror=cannot_list):
        base = Path(folder)
        links = [base / name for name in subfolders if (base / name).is_symlink()]
        passed += [Skipped(str(link), "is a link to a folder, not followed") for link in links]
        for path in (base / name for name in names if not name.startswith(".")):
            problem = file_problem(path)
            if problem is None and modality_of(path) is None:
                problem = f"unsupported file type {path.suffix or '(none)'}"
            if problem is None:
                files.append(path)
            else:
                passed.append(Skipped(str(path), problem))
    return sorted(files), sorted(passed, key=lambda skip: skip.path), unlisted


def _from_class_folders(root: Path) -> tuple[Rows, list[Skipped], list[Skipped]]:
    folders, unreadable = _class_folders(root)
    rows: Rows = []
    skipped: list[Skipped] = []
    for class_dir in folders:
        files, passed, unlisted = _class_files(class_dir)
        rows += [(path, class_dir.name, None) for path in files]
        skipped += passed
        if not files and not unlisted:
            skipped.append(Skipped(str(class_dir), "a class folder without image or sound files: class left out"))
        unreadable += unlisted
    return rows, skipped, unreadable


def manifest_text(manifest: Path) -> str:
    """The text of a CSV manifest: UTF-8, or UTF-8/16/32 with a byte-order mark.

    Any other encoding is refused rather than guessed: a wrong guess would
    silently rename labels and lose files whose names have accents.

    Raises:
        InvalidInput: the file cannot be read, or is not text in those encodings.
    """
    try:
        data = manifest.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read manifest {manifest} ({exc.strerror or exc})") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    resave = "save it as UTF-8 ('CSV UTF-8' in spreadsheet programs) and run again"
    if encoding is None and b"\x00" in data:
        raise InvalidInput(f"manifest {manifest} holds NUL bytes (UTF-16 without a byte-order mark?): {resave}")
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        if encoding is not None:
            name = encoding.removesuffix("-sig").upper()
            raise InvalidInput(f"manifest {manifest} is not valid {name} text ({exc.reason}): {resave}") from None
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"manifest {manifest} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} is not UTF-8 "
            f"(Latin-1 or Windows-1252 perhaps): {resave}"
        ) from None


def _from_manifest(manifest: Path, group_column: str) -> tuple[Rows, list[Skipped], list[Skipped]]:
    reader = csv.DictReader(io.StringIO(manifest_text(manifest), newline=""))
    try:
        columns = set(reader.fieldnames or [])
        missing = {"path", "label"} - columns
        if missing:
            raise InvalidInput(
                f"manifest {manifest} lacks column(s) {', '.join(sorted(missing))}; "
                f"it has {', '.join(sorted(columns)) or 'none'}"
            )
        rows, skipped = _manifest_rows(manifest, reader, group_column if group_column in columns else None)
    except csv.Error as exc:
        raise InvalidInput(f"manifest {manifest} is not a readable CSV file (line {reader.line_num}: {exc})") from None
    return rows, skipped, []


def _manifest_rows(manifest: Path, reader: csv.DictReader, group_column: str | None) -> tuple[Rows, list[Skipped]]:
    rows: Rows = []
    skipped: list[Skipped] = []
    for line_no, row in enumerate(reader, start=2):
        raw_path, label = (row["path"] or "").strip(), (row["label"] or "").strip()
        if not raw_path or not label:
            skipped.append(Skipped(f"{manifest}:{line_no}", "empty path or label"))
            continue
        path = Path(raw_path) if Path(raw_path).is_absolute() else manifest.parent / raw_path
        if not path.exists() and not path.is_symlink():
            problem = "listed in the manifest but not found"
        else:
            problem = file_problem(path)
        if problem is None and modality_of(path) is None:
            problem = f"unsupported file type {path.suffix or '(none)'}"
        if problem is not None:
            skipped.append(Skipped(str(path), problem))
            continue
        group = (row.get(group_column) or "").strip() if group_column else ""
        rows.append((path, label, group or None))
    return rows, skipped


def load_dataset(
    sources: Sequence[Path | str],
    *,
    label_map: dict[str, str] | None = None,
    group_column: str = "group",
    group_pattern: str | None = None,
    allow_unreadable_folders: bool = False,
) -> Dataset:
    """Collect the items of one or more sources into one single-modality dataset.

    Args:
        sources: Class-folder roots and/or CSV manifests.
        label_map: Renames applied to every label, e.g. {"mild": "hearing_loss"}.
        group_column: Manifest column that holds the group (patient, site).
        group_pattern: Regex over the file name whose first capture group (or
            whole match) is the group, for items with no group column.
        allow_unreadable_folders: Record folders that cannot be listed in
            `Dataset.unreadable_folders` (for the audit) instead of refusing.
            Training refuses: such a folder may hold a whole class.

    Raises:
        NotFound: a source is missing.
        InvalidInput: a source is malformed or unreadable, a folder cannot be
            listed (unless allowed), no usable files were found, or images and
            sounds are mixed.
    """
    if not sources:
        raise InvalidInput("no data given: pass --data PATH (a class-folder root or a CSV manifest)")
    label_map = label_map or {}
    try:
        pattern = re.compile(group_pattern) if group_pattern else None
    except re.error as exc:
        raise InvalidInput(f"--group-pattern {group_pattern!r} is not a valid regex: {exc}") from None

    items: list[Item] = []
    skipped: list[Skipped] = []
    unreadable: list[Skipped] = []
    for source in sources:
        rows, passed, unlisted = _read_source(Path(source), group_column)
        skipped += passed
        unreadable += unlisted
        for path, label, group in rows:
            if group is None and pattern is not None:
                group = group_from_name(path.name, pattern)
            items.append(Item(path, label_map.get(label, label), group, str(source)))

    if unreadable and (not allow_unreadable_folders or not items):
        raise InvalidInput(_unreadable_message(unreadable))
    if not items:
        raise InvalidInput(f"no image or sound files found in {', '.join(map(str, sources))}")
    return Dataset(items=items, modality=_single_modality(items), skipped=skipped, unreadable_folders=unreadable)


def _read_source(root: Path, group_column: str) -> tuple[Rows, list[Skipped], list[Skipped]]:
    """Rows, files passed over, and folders that cannot be listed, of one `--data` source."""
    if root.is_dir():
        return _from_class_folders(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        return _from_manifest(root, group_column)
    if root.exists():
        raise InvalidInput(f"{root} is neither a folder nor a .csv manifest")
    raise NotFound(f"data source {root} does not exist")


def _unreadable_message(unreadable: list[Skipped]) -> str:
    first = f"{unreadable[0].path} {unreadable[0].reason}"
    more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
    return (
        f"{first}{more}: the files in it would be left out, perhaps a whole class. Make it readable or move it "
        "out of the data folder; `python -m core audit` lists every problem"
    )


def _single_modality(items: Iterable[Item]) -> str:
    by_modality: dict[str, list[Path]] = {}
    for item in items:
        by_modality.setdefault(modality_of(item.path), []).append(item.path)
    if len(by_modality) > 1:
        examples = "; ".join(
            f"{len(paths)} {kind} files such as {paths[0].name}" for kind, paths in sorted(by_modality.items())
        )
        raise InvalidInput(
            f"a dataset must be all images or all sounds, found {examples}. Train them as separate runs."
        )
    return next(iter(by_modality))
