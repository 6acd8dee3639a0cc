import numpy as np

from core.evaluation.comparisons import compare_models
from core.evaluation.report import Predictions


def _binary(p1):
    p1 = np.asarray(p1, dtype=float)
    return np.stack([1 - p1, p1], axis=1)


def test_comparison_sentence_says_whether_the_difference_is_real(rng):
    y = np.array([0, 1] * 40)
    good = _binary(np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.05, 80)).clip(0.01, 0.99)
    bad = _binary(rng.random(80))
    tests = {"custom_cnn": Predictions(y, good), "vgg16": Predictions(y, bad)}
    reports = {name: {"temperature": 1.0, "operating_point": {"threshold": 0.5}} for name in tests}
    [comparison] = compare_models(tests, reports, positive=1, n_resamples=300)
    assert comparison["text"].startswith("custom_cnn vs vgg16: AUC difference +")
    assert "significant (p=0.00)" in comparison["text"] and comparison["auc"]["p_value"] < 0.05
    twins = {"a": Predictions(y, good), "b": Predictions(y, good)}
    [same] = compare_models(twins, {"a": reports["vgg16"], "b": reports["vgg16"]}, positive=1, n_resamples=100)
    assert "AUC difference +0.000 not significant (p=1.00)" in same["text"]
