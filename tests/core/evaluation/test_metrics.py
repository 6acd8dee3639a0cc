import numpy as np
import pytest

from core.evaluation.metrics import accuracy, roc_auc, sensitivity_specificity, youden_threshold


def test_hand_computed_binary_figures():
    y = np.array([0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.4, 0.6, 0.7, 0.3])
    probs = np.stack([1 - p1, p1], axis=1)
    assert accuracy(y, probs) == pytest.approx(3 / 5)
    assert roc_auc(y, probs) == pytest.approx(4 / 6)  # 4 of 6 positive-negative pairs ranked right
    assert sensitivity_specificity(y, p1, threshold=0.5) == (0.5, pytest.approx(2 / 3))
    assert sensitivity_specificity(y, p1, threshold=0.3) == (1.0, pytest.approx(1 / 3))


def test_youden_threshold_separates_separable_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.35, 0.8, 0.9])
    threshold = youden_threshold(y, scores)
    assert 0.3 < threshold <= 0.35
    assert sensitivity_specificity(y, scores, threshold=threshold) == (1.0, 1.0)


def test_positive_class_can_be_index_zero():
    y = np.array([0, 1, 0, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    assert roc_auc(y, probs, positive=0) == 1.0


def test_multiclass_auc_and_undefined_cases():
    y = np.array([0, 1, 2, 0, 1, 2])
    probs = np.eye(3)[y] * 0.7 + 0.1
    assert roc_auc(y, probs) == pytest.approx(1.0)
    assert roc_auc(np.array([0, 0]), np.array([[0.6, 0.4], [0.3, 0.7]])) is None
    assert sensitivity_specificity(np.array([0, 0]), np.array([0.2, 0.9]), threshold=0.5) == (None, 0.5)
    with pytest.raises(ValueError, match="expected y_true"):
        accuracy(np.array([0, 1]), np.array([0.5, 0.5]))


def test_operating_stats_by_hand():
    from core.evaluation.metrics import operating_stats, threshold_sweep

    y = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.45, 0.7, 0.55, 0.9])
    stats = operating_stats(y, scores, threshold=0.5, band=(0.4, 0.6))
    assert (stats["tp"], stats["fp"], stats["tn"], stats["fn"]) == (2, 1, 3, 0)
    assert stats["sensitivity"] == 1.0 and stats["specificity"] == 0.75
    assert stats["ppv"] == pytest.approx(2 / 3) and stats["npv"] == 1.0
    assert stats["referred"] == pytest.approx(2 / 6)
    rare = operating_stats(y, scores, threshold=0.5, prevalence=0.01)
    assert rare["ppv"] == pytest.approx(0.01 / (0.01 + 0.25 * 0.99))  # PPV collapses at low prevalence
    sweep = threshold_sweep(y, scores)
    assert sweep["sensitivity"][-1] == 1.0 and sweep["specificity"][-1] == 0.0
    for threshold in (0.0, 0.3, 0.5, 0.6, 0.8, 1.0):  # each point of the step function is what the threshold gives
        at = operating_stats(y, scores, threshold=threshold)
        step = max(i for i, t in enumerate(sweep["threshold"]) if t >= threshold)  # the nearest score at or above
        assert (sweep["sensitivity"][step], sweep["specificity"][step]) == (at["sensitivity"], at["specificity"])


def test_threshold_for_target_specificity():
    from core.evaluation.metrics import threshold_for_specificity

    y = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.5, 0.9])
    threshold = threshold_for_specificity(y, scores, target=0.75)
    assert sensitivity_specificity(y, scores, threshold=threshold)[1] >= 0.75
    assert threshold == pytest.approx(0.5)  # the lowest threshold keeping 3 of 4 negatives below it


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 1.0])
def test_thresholds_rounded_for_display_still_meet_their_target(seed, target):
    from core.evaluation.metrics import threshold_for_sensitivity, threshold_for_specificity

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    scores = np.clip(0.3 * y + rng.random(60) * 0.7, 0, 1)  # scores with many decimals, like a model's
    at_sensitivity = threshold_for_sensitivity(y, scores, target=target, decimals=3)
    at_specificity = threshold_for_specificity(y, scores, target=target, decimals=3)
    assert round(at_sensitivity, 3) == at_sensitivity and round(at_specificity, 3) == at_specificity
    assert sensitivity_specificity(y, scores, threshold=at_sensitivity)[0] >= target
    assert sensitivity_specificity(y, scores, threshold=at_specificity)[1] >= target


def test_sensitivity_at_90_specificity_reads_the_roc_curve_by_hand():
    from core.evaluation.metrics import sensitivity_at_specificity

    y = np.array([0] * 10 + [1] * 5)
    # Negatives score 0.00-0.45; one may be called positive (90% specificity), so the threshold may sit at 0.45.
    scores = np.concatenate([np.arange(10) * 0.05, [0.9, 0.5, 0.45, 0.3, 0.1]])
    assert sensitivity_at_specificity(y, scores, specificity=0.9) == pytest.approx(3 / 5)
    assert sensitivity_at_specificity(y, scores, specificity=1.0) == pytest.approx(2 / 5)  # above 0.45 only
    # Class 0 as positive: none of the 5 others may score above the threshold (one would be 80% specificity).
    assert sensitivity_at_specificity(y, 1 - scores, specificity=0.9, positive=0) == pytest.approx(2 / 10)
    assert sensitivity_at_specificity(np.ones(4), np.arange(4)) is None  # no negatives: undefined
    with pytest.raises(ValueError, match="specificity"):
        sensitivity_at_specificity(y, scores, specificity=0)


def test_balanced_accuracy_is_not_flattered_by_the_majority_class():
    from core.evaluation.metrics import balanced_accuracy

    y = np.array([0] * 9 + [1])
    assert balanced_accuracy(y, np.zeros(10, int), n_classes=2) == pytest.approx(0.5)  # 90% accuracy, no skill
    assert balanced_accuracy(y, np.array([0] * 8 + [1, 1]), n_classes=2) == pytest.approx((8 / 9 + 1) / 2)
    assert balanced_accuracy([0, 1, 2, 2], [0, 1, 2, 0], n_classes=3) == pytest.approx((1 + 1 + 0.5) / 3)
