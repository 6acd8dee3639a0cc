"""Checking a dataset before training: counts, unreadable files and folders, duplicates, imbalance.

Real medical sets come with corrupt files, folders nobody may read, the
same image saved twice, the same recording filed under two diagnoses, and a
rare positive class. The audit finds them so that training can skip what is
broken, keep copies together, and drop contradictory labels, and so that an
analyst sees what was done.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.data.dataset import Dataset, Item
from core.errors import CoreError
from core.inputs.preprocess import decode_audio, decode_image


@dataclass
class AuditReport:
    """What the audit found. Saved with each run as `audit.json`.

    Attributes:
        modality: "image" or "sound".
        n_files: Files found, readable or not.
        class_counts: Usable files per class (readable, not in conflict).
        unreadable: {"path", "reason"} for files that could not be decoded.
        unsupported: {"path", "reason"} for files passed over before decoding
            (unsupported types, special files such as named pipes, broken links).
        unreadable_folders: {"path", "reason"} for folders that could not be
            listed; training refuses while there are any.
        duplicates: Sets of files with identical content: {"sha256", "paths", "labels"}.
        conflicts: The duplicate sets whose files carry different labels.
        imbalance_ratio: Largest class count over smallest.
        imbalanced: Whether that ratio exceeds `imbalance_threshold`.
        n_groups: Distinct groups among usable files (None when no groups).
    """

    modality: str
    n_files: int
    class_counts: dict[str, int]
    unreadable: list[dict] = field(default_factory=list)
    unsupported: list[dict] = field(default_factory=list)
    unreadable_folders: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    imbalance_ratio: float = 1.0
    imbalanced: bool = False
    imbalance_threshold: float = 3.0
    n_groups: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """A short human-readable account, for the CLI."""
        lines = [f"{self.n_files} {self.modality} files"]
        lines += [f"  {label}: {count}" for label, count in sorted(self.class_counts.items())]
        if self.n_groups is not None:
            lines.append(f"{self.n_groups} groups")
        if self.unreadable_folders:
            lines.append(f"{len(self.unreadable_folders)} unreadable folders: training refuses until they can be read")
            lines += [f"  {entry['path']}: {entry['reason']}" for entry in self.unreadable_folders]
        lines.append(f"{len(self.unreadable)} unreadable (skipped)")
        lines += [f"  {entry['path']}: {entry['reason']}" for entry in self.unreadable]
        lines += self._passed_over_lines()
        lines.append(f"{len(self.duplicates)} sets of exact duplicates (kept in one split)")
        lines.append(f"{len(self.conflicts)} label conflicts (dropped)")
        lines += [f"  {' | '.join(entry['paths'])}: {', '.join(entry['labels'])}" for entry in self.conflicts]
        if self.imbalanced:
            lines.append(
                f"class imbalance: largest/smallest = {self.imbalance_ratio:.1f} "
                f"(> {self.imbalance_threshold:g}); class weights will compensate"
            )
        return lines

    def _passed_over_lines(self) -> list[str]:
        """Files passed over before decoding, counted by reason with one example each."""
        if not self.unsupported:
            return []
        by_reason: dict[str, list[str]] = defaultdict(list)
        for entry in self.unsupported:
            by_reason[entry["reason"]].append(entry["path"])
        lines = [f"{len(self.unsupported)} passed over (not images or sounds, or not regular files)"]
        return lines + [f"  {reason}: {len(paths)}, e.g. {paths[0]}" for reason, paths in sorted(by_reason.items())]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decoder(modality: str) -> Callable[[Path], object]:
    if modality == "image":
        return decode_image
    return lambda path: decode_audio(path, sample_rate=None)


def audit_dataset(
    dataset: Dataset, *, imbalance_threshold: float = 3.0
) -> tuple[AuditReport, list[Item], dict[Path, str]]:
    """Audit a dataset and return what is safe to train on.

    Returns:
        The report; the usable items (readable and without label conflicts);
        and the content hash of each usable item's file.
    """
    decode = _decoder(dataset.modality)
    hashes: dict[Path, str] = {}
    unreadable = []
    readable: list[Item] = []
    for item in dataset.items:
        try:
            hashes[item.path] = file_sha256(item.path)
            decode(item.path)
        except CoreError as exc:
            unreadable.append({"path": str(item.path), "reason": str(exc)})
            continue
        except OSError as exc:
            unreadable.append({"path": str(item.path), "reason": f"cannot read file ({exc.strerror or exc})"})
            continue
        readable.append(item)

    by_hash: dict[str, list[Item]] = defaultdict(list)
    for item in readable:
        by_hash[hashes[item.path]].append(item)
    duplicates = [
        {
            "sha256": digest,
            "paths": [str(item.path) for item in copies],
            "labels": sorted({item.label for item in copies}),
        }
        for digest, copies in by_hash.items()
        if len(copies) > 1
    ]
    conflicts = [entry for entry in duplicates if len(entry["labels"]) > 1]
    conflicted = {entry["sha256"] for entry in conflicts}
    usable = [item for item in readable if hashes[item.path] not in conflicted]

    counts = Counter(item.label for item in usable)
    ratio = max(counts.values()) / min(counts.values()) if counts else 1.0
    groups = {item.group for item in usable if item.group is not None}
    report = AuditReport(
        modality=dataset.modality,
        n_files=len(dataset.items) + len(dataset.skipped),
        class_counts=dict(sorted(counts.items())),
        unreadable=unreadable,
        unsupported=[asdict(skip) for skip in dataset.skipped],
        unreadable_folders=[asdict(skip) for skip in dataset.unreadable_folders],
        duplicates=duplicates,
        conflicts=conflicts,
        imbalance_ratio=round(ratio, 3),
        imbalanced=ratio > imbalance_threshold,
        imbalance_threshold=imbalance_threshold,
        n_groups=len(groups) if groups else None,
    )
    return report, usable, {item.path: hashes[item.path] for item in usable}
