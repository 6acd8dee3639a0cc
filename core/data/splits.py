"""Train/validation/test assignment without leakage.

Items that must stay together (same patient, same source photo, identical
content) are joined into one unit first; units are then split with
scikit-learn's StratifiedGroupKFold, which keeps class proportions as close as
the units allow. The test fold is taken first, then validation from the rest.
`split_table` is the record of it that each run keeps.
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


def _hold_out(labels: np.ndarray, units: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of about `fraction` of the items, whole units, stratified."""
    n_splits = max(2, int(round(1 / fraction)))
    n_units = len(np.unique(units))
    if n_units < n_splits:
        raise InvalidInput(
            f"too few independent items to split: {n_units} groups, need at least {n_splits} "
            f"for a {fraction:.0%} hold-out. Add data or change --split."
        )
    largest = int(np.unique(labels, return_counts=True)[1].max())
    if largest < n_splits:  # scikit-learn refuses to stratify then
        raise InvalidInput(
            f"too few items to split: the largest class has {largest}, need at least {n_splits} "
            f"for a {fraction:.0%} hold-out. Add data or change --split."
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, held = next(splitter.split(np.zeros(len(labels)), labels, units))
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return mask


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
