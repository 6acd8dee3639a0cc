"""Whether a model's test figures allow it to be served: the one rule for the CLI, the dashboard and any API.

A model is refused when its test AUROC's 95% interval includes 0.5 (it may
be no better than chance) or when it never finds the positive class, or
never clears the negative one, at its operating point (sensitivity or
specificity 0); with several classes, when it never calls one of them on
the test set (recall 0: a model that calls everything one class can still
rank well enough for its AUROC to pass). It is also refused when its test set
is too small for its figures to be evidence: a bootstrap over three
recordings gives an AUROC interval of 1.000-1.000, which passes the chance
test. An analyst may still promote it, explicitly, and the override is
recorded with the promotion.
"""

from __future__ import annotations

CHANCE_AUROC = 0.5
NO_SKILL = "no evidence of skill"
# Fewer test items than this and the bootstrap interval collapses or jumps in steps (n=3: AUROC 1.000 [1.000, 1.000]).
MIN_TEST_ITEMS = 20


def no_evidence_of_skill(level: dict) -> bool:
    """Whether one level's test figures fail to show the model beats chance: its AUROC's 95% interval includes 0.5.

    An AUROC that could not be measured shows no skill either. Such a model
    is flagged in its report and the command line's summary, never chosen
    as a champion automatically, and promoted only by force.

    >>> no_evidence_of_skill({"auc": 0.58, "auc_ci": [0.46, 0.70]})
    True
    """
    auc, interval = level.get("auc"), level.get("auc_ci")
    if auc is None or not interval or None in interval:
        return True
    return interval[0] <= CHANCE_AUROC <= interval[1]


def promotion_concerns(report: dict) -> list[str]:
    """Why a model should not be served, as sentences; empty when its test figures allow it.

    Args:
        report: The model's `report.json`: `levels[level]` holds `auc`,
            `auc_ci`, `n`, `class_names`, `classification_report` (recall
            per class) and `operating_point` (with `sensitivity` and
            `specificity` for two classes).

    Returns:
        One sentence per concern, each with the figure that raised it.

    >>> promotion_concerns(
    ...     {
    ...         "level": "item",
    ...         "levels": {
    ...             "item": {
    ...                 "auc": 0.9,
    ...                 "auc_ci": [0.8, 0.95],
    ...                 "operating_point": {"sensitivity": 0.85, "specificity": 0.9},
    ...             }
    ...         },
    ...     }
    ... )
    []
    """
    headline = report["levels"][report["level"]]
    concerns = []
    auc, interval = headline.get("auc"), headline.get("auc_ci")
    if auc is None or not interval or None in interval:
        concerns.append(f"{NO_SKILL}: its test AUROC could not be measured")
    elif no_evidence_of_skill(headline):
        concerns.append(
            f"{NO_SKILL}: its test AUROC {auc:.3f} has a 95% interval ({interval[0]:.3f}-{interval[1]:.3f}) "
            "that includes 0.5, so it may be no better than chance"
        )
    point = headline.get("operating_point", {})
    for name in ("sensitivity", "specificity"):
        if point.get(name) == 0:
            concerns.append(f"its {name} at the operating threshold is 0")
    return concerns + _never_called(headline) + _too_few(headline, report["level"])


def _never_called(headline: dict) -> list[str]:
    """With more than two classes, those the model never finds on the test set (recall 0); two have sensitivity."""
    names = headline.get("class_names") or []
    if len(names) <= 2:
        return []
    per_class = headline.get("classification_report") or {}
    missed = [
        name
        for name in names
        if isinstance(per_class.get(name), dict) and per_class[name].get("support") and per_class[name]["recall"] == 0
    ]
    return [f"it never calls {', '.join(missed)} on the test set (recall 0)"] if missed else []


def _too_few(headline: dict, level: str) -> list[str]:
    """A test set too small for its interval and significance figures to be evidence."""
    n = headline.get("n")
    if n is None or n >= MIN_TEST_ITEMS:
        return []
    return [
        f"its test set holds only {n} {level}s; at least {MIN_TEST_ITEMS} are needed for its figures to be evidence"
    ]
