"""Finding labelled files: class folders or CSV manifests, combined and relabelled.

A dataset is a list of `Item`s from one or more sources. Each source is either
a folder with one sub-folder per class, or a CSV manifest with `path,label`
and an optional group column. Paths in a manifest are relative to the
manifest's own folder.
"""

from __future__ import annotations

import csv
import re
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
    """Items of a single modality, plus the files that were passed over."""

    items: list[Item]
    modality: str
    skipped: list[Skipped] = field(default_factory=list)

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


def _from_class_folders(root: Path) -> tuple[list[tuple[Path, str, str | None]], list[Skipped]]:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise InvalidInput(
            f"{root} has no class sub-folders; expected {root}/<class>/<file> or a CSV manifest with path,label columns"
        )
    rows, skipped = [], []
    for class_dir in class_dirs:
        for path in sorted(class_dir.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if modality_of(path) is None:
                skipped.append(Skipped(str(path), f"unsupported file type {path.suffix or '(none)'}"))
                continue
            rows.append((path, class_dir.name, None))
    return rows, skipped


def _from_manifest(manifest: Path, group_column: str) -> tuple[list[tuple[Path, str, str | None]], list[Skipped]]:
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        missing = {"path", "label"} - columns
        if missing:
            raise InvalidInput(
                f"manifest {manifest} lacks column(s) {', '.join(sorted(missing))}; "
                f"it has {', '.join(sorted(columns)) or 'none'}"
            )
        has_group = group_column in columns
        rows, skipped = [], []
        for line_no, row in enumerate(reader, start=2):
            raw_path, label = (row["path"] or "").strip(), (row["label"] or "").strip()
            if not raw_path or not label:
                skipped.append(Skipped(f"{manifest}:{line_no}", "empty path or label"))
                continue
            path = Path(raw_path) if Path(raw_path).is_absolute() else manifest.parent / raw_path
            if not path.is_file():
                skipped.append(Skipped(str(path), "listed in the manifest but not found"))
                continue
            if modality_of(path) is None:
                skipped.append(Skipped(str(path), f"unsupported file type {path.suffix or '(none)'}"))
                continue
            group = (row.get(group_column) or "").strip() if has_group else ""
            rows.append((path, label, group or None))
    return rows, skipped


def load_dataset(
    sources: Sequence[Path | str],
    *,
    label_map: dict[str, str] | None = None,
    group_column: str = "group",
    group_pattern: str | None = None,
) -> Dataset:
    """Collect the items of one or more sources into one single-modality dataset.

    Args:
        sources: Class-folder roots and/or CSV manifests.
        label_map: Renames applied to every label, e.g. {"mild": "hearing_loss"}.
        group_column: Manifest column that holds the group (patient, site).
        group_pattern: Regex over the file name whose first capture group (or
            whole match) is the group, for items with no group column.

    Raises:
        NotFound: a source is missing.
        InvalidInput: a source is malformed, no usable files were
            found, or images and sounds are mixed.
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
    for source in sources:
        root = Path(source)
        if root.is_dir():
            rows, passed = _from_class_folders(root)
        elif root.is_file() and root.suffix.lower() == ".csv":
            rows, passed = _from_manifest(root, group_column)
        elif root.exists():
            raise InvalidInput(f"{root} is neither a folder nor a .csv manifest")
        else:
            raise NotFound(f"data source {root} does not exist")
        skipped.extend(passed)
        for path, label, group in rows:
            if group is None and pattern is not None:
                group = group_from_name(path.name, pattern)
            items.append(Item(path, label_map.get(label, label), group, str(source)))

    if not items:
        raise InvalidInput(f"no image or sound files found in {', '.join(map(str, sources))}")
    return Dataset(items=items, modality=_single_modality(items), skipped=skipped)


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
