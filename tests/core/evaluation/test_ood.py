"""The out-of-distribution reference on synthetic embeddings: in-distribution passes, shifted inputs are flagged."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.evaluation.ood import (
    NO_REFERENCE,
    OodReference,
    calibrated_threshold,
    fit_reference,
    input_scores,
    judge,
    summary,
)


def _embeddings(rng, n, *, shift=0.0, off_subspace=0.0):
    """ReLU-like features on a 6-dimensional manifold in 48 dimensions, optionally shifted or pushed off it."""
    mixing = np.random.default_rng(42).normal(size=(6, 48))
    latent = rng.normal(size=(n, 6)) + shift
    features = np.maximum(latent @ mixing, 0) + 0.05 * rng.normal(size=(n, 48))
    return features + off_subspace * np.abs(rng.normal(size=(n, 48)))


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(1)
    return fit_reference(_embeddings(rng, 600), _embeddings(rng, 300))


def test_in_distribution_inputs_stay_within_the_stated_percentile(reference):
    fresh = reference.scores(_embeddings(np.random.default_rng(2), 2000))
    assert reference.percentile == 99.0 and 0 < len(reference.components) <= 64
    assert np.mean(fresh > 1.0) <= 0.02


@pytest.mark.parametrize("shifted", [{"shift": 3.0}, {"off_subspace": 1.0}])
def test_shifted_and_off_manifold_inputs_are_separated_and_flagged(reference, shifted):
    rng = np.random.default_rng(3)
    inside, outside = reference.scores(_embeddings(rng, 500)), reference.scores(_embeddings(rng, 500, **shifted))
    labels = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
    assert roc_auc_score(labels, np.r_[inside, outside]) >= 0.99
    assert np.mean(outside > 1.0) >= 0.95


def test_the_reference_round_trips_small_and_refuses_damaged_bytes(reference):
    data = reference.to_bytes()
    loaded = OodReference.from_bytes(data)
    probe = _embeddings(np.random.default_rng(4), 5)
    assert np.allclose(loaded.scores(probe), reference.scores(probe)) and loaded.threshold == reference.threshold
    assert len(data) < 2_000_000
    for damaged in (data[: len(data) // 2], b"not a reference"):
        with pytest.raises(ValueError):
            OodReference.from_bytes(damaged)


def test_non_finite_embeddings_count_as_out_of_distribution(reference):
    probe = _embeddings(np.random.default_rng(5), 2)
    probe[1, 3] = np.nan
    assert reference.scores(probe)[1] == np.inf


def test_a_small_validation_set_extrapolates_past_its_largest_distance():
    distances = np.random.default_rng(6).lognormal(0, 0.3, size=8)
    assert calibrated_threshold(distances, 99.0) > distances.max()
    assert calibrated_threshold(distances[:1], 99.0) == distances[0]
    with pytest.raises(ValueError):
        fit_reference(np.ones((3, 4)), np.ones((2, 4)))


def test_a_recording_is_judged_by_the_median_of_its_windows(reference):
    rng = np.random.default_rng(7)
    one_stray = np.r_[_embeddings(rng, 4), _embeddings(rng, 1, shift=4.0)]
    mostly_out = np.r_[_embeddings(rng, 1), _embeddings(rng, 4, shift=4.0)]
    kept, flagged = judge(reference, one_stray, modality="sound"), judge(reference, mostly_out, modality="sound")
    assert kept.out_of_distribution is False and kept.reason.startswith("like the training data")
    assert flagged.out_of_distribution is True and flagged.score > 1 and "4 of 5 windows" in flagged.reason
    assert "withheld" in flagged.reason
    owners = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    scores = input_scores(reference, np.r_[one_stray, mostly_out], owners)
    assert scores.shape == (2,) and scores[0] <= 1 < scores[1]
    assert summary(reference, scores[:1], scores)["test_flagged"] == 0.5


def test_without_a_reference_nothing_is_judged_and_the_reason_says_so():
    unjudged = judge(None, None, modality="image")
    assert unjudged.out_of_distribution is None and unjudged.score is None and unjudged.reason == NO_REFERENCE
