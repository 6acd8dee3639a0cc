import numpy as np
import pytest

from core.data.splits import assign_splits, linked_units
from core.errors import CoreError


def test_split_is_stratified_near_70_15_15_and_seeded():
    labels = np.array(["a"] * 200 + ["b"] * 100)
    units = np.arange(300)
    split = assign_splits(labels, units, seed=1)
    shares = {part: np.mean(split == part) for part in ("train", "val", "test")}
    assert shares["train"] == pytest.approx(0.7, abs=0.03)
    assert shares["val"] == pytest.approx(0.15, abs=0.03)
    assert shares["test"] == pytest.approx(0.15, abs=0.03)
    for part in ("train", "val", "test"):
        assert np.mean(labels[split == part] == "b") == pytest.approx(1 / 3, abs=0.05)
    assert (assign_splits(labels, units, seed=1) == split).all()
    assert not (assign_splits(labels, units, seed=2) == split).all()


def test_groups_never_cross_splits():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 400)
    labels = np.where(groups % 3 == 0, "sick", "well")
    split = assign_splits(labels, linked_units([(g, None) for g in groups]), seed=0)
    for group in np.unique(groups):
        assert len(set(split[groups == group])) == 1


def test_duplicates_and_groups_are_linked_transitively():
    keys = [("p1", "h1"), ("p2", "h1"), ("p2", "h2"), ("p3", "h3"), (None, "h3"), (None, "h4")]
    units = linked_units(keys)
    assert units[0] == units[1] == units[2]
    assert units[3] == units[4]
    assert len(set(units)) == 3


def test_exact_duplicates_land_in_one_split():
    hashes = [f"h{i // 2}" for i in range(200)]  # every file has one twin
    labels = ["a" if i % 4 < 2 else "b" for i in range(200)]
    split = assign_splits(labels, linked_units([(None, h) for h in hashes]), seed=3)
    assert all(split[i] == split[i + 1] for i in range(0, 200, 2))


def test_too_few_groups_and_bad_fractions_are_clear_errors():
    with pytest.raises(CoreError, match="too few independent items"):
        assign_splits(["a", "b", "a"], [0, 1, 2])
    with pytest.raises(CoreError, match="sum"):
        assign_splits(["a"] * 50, range(50), fractions=(0.5, 0.3, 0.3))


def test_classes_too_small_to_stratify_are_a_user_error_not_a_crash():
    labels = np.array(["a", "b", "c"] * 4)  # 12 independent items, but 4 a class: too few for 7 folds
    with pytest.raises(CoreError, match="too few items to split: the largest class has 4, need at least 7"):
        assign_splits(labels, np.arange(12))
