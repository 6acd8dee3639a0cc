"""Train/validation/test assignment without leakage.

Items that must stay together (same patient, same source photo, identical
content) are joined into one unit first; units are then split with
scikit-learn's StratifiedGroupKFold, which keeps class proportions as close as
the units allow. The test fold is taken first, then validation from the rest.
For cross-validation (`--cv K`), `assign_folds` gives each unit one of K
folds the same way, and `fold_split` carves each fold model's validation part
from the other folds. `split_table` is the record of it that each run keeps.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from core.config import check_split
from core.data.dataset import Item
from core.errors import InvalidInput

SPLITS = ("train", "val", "test")


def linked_units(keys: Sequence[Sequence[Hashable | None]]) -> np.ndarray:
    """Unit id per item, joining items that share any non-None key.

    Args:
        keys: One tuple of keys per item, e.g. (group, content hash).

    >>> linked_units([("a", "h1"), ("b", "h2"), ("c", "h1"), (None, "h3")]).tolist()
    [0, 1, 0, 2]
    """
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_holder: dict[tuple[int, Hashable], int] = {}
    for index, item_keys in enumerate(keys):
        for position, key in enumerate(item_keys):
            if key is None:
                continue
            holder = first_holder.setdefault((position, key), index)
            parent[find(index)] = find(holder)
    roots = [find(i) for i in range(len(keys))]
    _, units = np.unique(roots, return_inverse=True)
    return units


def _check_splittable(labels: np.ndarray, units: np.ndarray, n_splits: int, purpose: str, fix: str) -> None:
    """Refuse, in words, what scikit-learn's StratifiedGroupKFold cannot split into `n_splits` parts."""
    n_units = len(np.unique(units))
    if n_units < n_splits:
        raise InvalidInput(
            f"too few independent items to split: {n_units} groups, need at least {n_splits} for {purpose}. "
            f"Add data or {fix}."
        )
    largest = int(np.unique(labels, return_counts=True)[1].max())
    if largest < n_splits:  # scikit-learn refuses to stratify then
        raise InvalidInput(
            f"too few items to split: the largest class has {largest}, need at least {n_splits} for {purpose}. "
            f"Add data or {fix}."
        )


def _hold_out(labels: np.ndarray, units: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of about `fraction` of the items, whole units, stratified."""
    n_splits = max(2, int(round(1 / fraction)))
    _check_splittable(labels, units, n_splits, f"a {fraction:.0%} hold-out", "change --split")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, held = next(splitter.split(np.zeros(len(labels)), labels, units))
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return mask


def assign_folds(labels: Sequence[str], units: Sequence[int], *, k: int, seed: int = 42) -> np.ndarray:
    """The cross-validation fold (0 to k - 1) each item is held out in: whole units, stratified by class.

    Every item is in exactly one fold, and the items of a unit (a patient, a
    source photo, duplicated content) share it, so no fold model is ever
    tested on an item it trained on, or on that item's twin.

    Raises:
        InvalidInput: a class with fewer groups than folds, or a fold left
            without a class; the message names the class and the `--cv` to use.
    """
    labels_arr, units_arr = np.asarray(labels), np.asarray(units)
    _check_groups_per_class(labels_arr, units_arr, k)  # also what scikit-learn needs: k units, k items of a class
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = np.full(len(labels_arr), -1)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels_arr)), labels_arr, units_arr)):
        folds[held] = fold
    for label in np.unique(labels_arr):
        missing = sorted(set(range(k)) - set(folds[labels_arr == label].tolist()))
        if missing:  # scikit-learn balances the folds as it can, which may leave one without a class
            raise InvalidInput(
                f"fold {missing[0] + 1} of --cv {k} would test no item of class '{label}': its "
                f"{_n_groups(labels_arr, units_arr, label)} groups (shared with other classes) could not be spread "
                f"over {k} folds: {_fewer_folds(k - 1)}"
            )
    return folds


def _n_groups(labels: np.ndarray, units: np.ndarray, label: object) -> int:
    return len(np.unique(units[labels == label]))


def _check_groups_per_class(labels: np.ndarray, units: np.ndarray, k: int) -> None:
    """Refuse K folds when a class has fewer than K groups: some fold would test no item of it.

    A group is a unit of `linked_units` (a patient, a source photo, or one
    file when items have no group); its items are never split between folds.
    """
    counts = {label: _n_groups(labels, units, label) for label in np.unique(labels)}
    label, fewest = min(counts.items(), key=lambda pair: pair[1])
    if fewest >= k:
        return
    raise InvalidInput(
        f"class '{label}' has {fewest} group{'s' if fewest != 1 else ''} (patients, or files when there are no "
        f"groups); --cv {k} needs at least {k} per class, so that every fold tests it: {_fewer_folds(fewest)}"
    )


def _fewer_folds(most: int) -> str:
    """What to do instead, when at most `most` folds would hold every class."""
    return f"use --cv {most} or fewer" if most >= 2 else "add data of that class, or train without --cv"


def fold_split(
    folds: np.ndarray, fold: int, labels: Sequence[str], units: Sequence[int], *, val_fraction: float, seed: int
) -> np.ndarray:
    """'train', 'val' or 'test' for one fold's model: its fold is the test part, validation is carved from the rest.

    The validation part (whole units, stratified) is what early stopping
    watches, so the held-out fold is never looked at while fitting.
    """
    labels_arr, units_arr = np.asarray(labels), np.asarray(units)
    assignment = np.where(np.asarray(folds) == fold, "test", "train").astype(object)
    rest = np.flatnonzero(assignment == "train")
    val = _hold_out(labels_arr[rest], units_arr[rest], val_fraction, seed + 1 + fold)
    assignment[rest[val]] = "val"
    return assignment.astype(str)


def assign_splits(
    labels: Sequence[str],
    units: Sequence[int],
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 42,
) -> np.ndarray:
    """'train', 'val' or 'test' for every item.

    Args:
        labels: Class of each item, for stratification.
        units: From `linked_units`; items of one unit share a split.
        fractions: Train, validation and test shares; they must sum to 1.
        seed: Same seed, same data, same split.

    Raises:
        InvalidInput: bad fractions, or too few units to hold out val and test.
    """
    check_split(fractions)
    labels_arr, units_arr = np.asarray(labels), np.asarray(units)
    assignment = np.full(len(labels_arr), "train", dtype=object)

    test = _hold_out(labels_arr, units_arr, fractions[2], seed)
    assignment[test] = "test"
    rest = np.flatnonzero(~test)
    val_share = fractions[1] / (fractions[0] + fractions[1])
    val = _hold_out(labels_arr[rest], units_arr[rest], val_share, seed + 1)
    assignment[rest[val]] = "val"
    return assignment.astype(str)


def split_table(items: Sequence[Item], hashes: dict[Path, str], units: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    """One row per item: `path, label, group, unit, sha256, source, split`, as a run stores it.

    Args:
        items: The usable items, in the order of `units` and `split`.
        hashes: Each item's content SHA-256, from the audit.
        units: From `linked_units`.
        split: From `assign_splits`.
    """
    return pd.DataFrame(
        {
            "path": [str(item.path) for item in items],
            "label": [item.label for item in items],
            "group": [item.group or "" for item in items],
            "unit": units,
            "sha256": [hashes[item.path] for item in items],
            "source": [item.source for item in items],
            "split": split,
        }
    )
