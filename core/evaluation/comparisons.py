"""Paired comparisons of a run's models on the same test items: McNemar and a paired AUROC bootstrap.

Each model is compared at its own calibration and operating point (from its
level report), so the comparison is of the models as they would be served.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from core.evaluation.decision import predicted_classes
from core.evaluation.metrics import mcnemar_test, paired_auc_bootstrap
from core.evaluation.report import Predictions, calibrated_test

SIGNIFICANCE = 0.05


def compare_models(
    tests: dict[str, Predictions],
    reports: dict[str, dict],
    *,
    positive: int | None,
    n_resamples: int = 1000,
    seed: int = 0,
    known: Sequence[dict] = (),
) -> list[dict]:
    """Paired tests for every pair of models evaluated on the same test items.

    McNemar compares correctness at each model's operating point; a paired
    bootstrap compares AUROC. Each entry carries a sentence for the dashboard.
    `known` holds comparisons already made with these same arguments (a run
    compares again as each model completes): their pairs are kept, not
    resampled again, so a run's bootstraps grow with its pairs, not their sum.
    """
    done = {(entry["a"], entry["b"]): entry for entry in known}
    comparisons = []
    for a, b in combinations(sorted(tests), 2):
        if (a, b) in done:
            comparisons.append(done[(a, b)])
            continue
        test_a, test_b = calibrated_test(reports[a], tests[a]), calibrated_test(reports[b], tests[b])
        auc = paired_auc_bootstrap(
            test_a.labels,
            test_a.probs,
            test_b.probs,
            positive=positive if positive is not None else 1,
            groups=test_a.groups,
            n_resamples=n_resamples,
            seed=seed,
        )
        mcnemar = mcnemar_test(_correct(test_a, reports[a], positive), _correct(test_b, reports[b], positive))
        comparisons.append({"a": a, "b": b, "mcnemar": mcnemar, "auc": auc, "text": _sentence(a, b, mcnemar, auc)})
    return comparisons


def _correct(test: Predictions, report: dict, positive: int | None) -> np.ndarray:
    """Whether each calibrated test prediction is right at the model's operating threshold."""
    threshold = report["operating_point"]["threshold"]
    return predicted_classes(test.probs, positive=positive, threshold=threshold) == test.labels


def _sentence(a: str, b: str, mcnemar: dict, auc: dict) -> str:
    parts = []
    if auc["p_value"] is not None:
        verdict = "significant" if auc["p_value"] < SIGNIFICANCE else "not significant"
        parts.append(f"AUC difference {auc['difference']:+.3f} {verdict} (p={auc['p_value']:.2f})")
    verdict = "significant" if mcnemar["p_value"] < SIGNIFICANCE else "not significant"
    parts.append(f"accuracy difference {verdict} (McNemar p={mcnemar['p_value']:.2f})")
    return f"{a} vs {b}: " + "; ".join(parts)


def versus(comparisons: list[dict], model: str, reference: str) -> dict | None:
    """Whether `model` significantly beats `reference` on test AUROC, read from their paired comparison.

    "Beats" means a positive AUROC difference with a paired-bootstrap
    p-value below `SIGNIFICANCE`; a higher AUROC by chance does not count.
    None when the two were not compared.

    Returns:
        {"reference", "auc_difference" (model - reference), "ci", "p_value",
        "mcnemar_p_value", "significantly_better", "significantly_worse", "text"}.
    """
    entry = next((c for c in comparisons if {c["a"], c["b"]} == {model, reference} and model != reference), None)
    if entry is None:
        return None
    sign = 1 if entry["a"] == model else -1
    auc = entry["auc"]
    difference, p_value = auc["difference"], auc["p_value"]
    if difference is not None:
        difference = sign * difference or 0.0  # never "-0.000"
    ci = [None if bound is None else sign * bound for bound in auc["ci"]][::sign]
    significant = difference is not None and p_value is not None and p_value < SIGNIFICANCE
    better, worse = significant and difference > 0, significant and difference < 0
    verdict = (
        "significantly better than"
        if better
        else "significantly worse than"
        if worse
        else "not significantly better than"
    )
    if difference is None:
        figures = "AUROC difference not measurable"
    else:  # the bootstrap may give a difference but no p-value (too few resamples held both classes)
        p_text = "p not measurable" if p_value is None else f"p={p_value:.2f}"
        figures = f"AUROC difference {difference:+.3f}, {p_text}"
    return {
        "reference": reference,
        "auc_difference": difference,
        "ci": ci,
        "p_value": p_value,
        "mcnemar_p_value": entry["mcnemar"]["p_value"],
        "significantly_better": bool(better),
        "significantly_worse": bool(worse),
        "text": f"{model} is {verdict} {reference} ({figures})",
    }
