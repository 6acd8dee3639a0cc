from core.evaluation.guardrails import promotion_concerns


def _report(**headline):
    point = headline.pop("operating_point", {"sensitivity": 0.8, "specificity": 0.9})
    return {
        "level": "item",
        "levels": {"item": {"auc": 0.9, "auc_ci": [0.8, 0.97], "operating_point": point, **headline}},
    }


def test_a_model_clearly_better_than_chance_has_no_concerns():
    assert promotion_concerns(_report()) == []


def test_an_auroc_interval_including_chance_is_a_concern():
    [concern] = promotion_concerns(_report(auc=0.5, auc_ci=[0.5, 0.5]))
    assert concern.startswith("no evidence of skill: ") and "0.500" in concern and "includes 0.5" in concern
    assert promotion_concerns(_report(auc=0.62, auc_ci=[0.49, 0.74]))


def test_zero_sensitivity_or_specificity_is_a_concern_and_a_missing_auroc_too():
    concerns = promotion_concerns(_report(operating_point={"sensitivity": 0.0, "specificity": 1.0}))
    assert concerns == ["its sensitivity at the operating threshold is 0"]
    assert promotion_concerns(_report(auc=None, auc_ci=None)) == [
        "no evidence of skill: its test AUROC could not be measured"
    ]
    assert promotion_concerns(_report(operating_point={"threshold": None})) == []  # several classes: no sensitivity


def test_a_model_that_never_calls_a_class_is_refused():
    """The demo's audiogram CNN called all four test items one class: AUROC 0.806, recall 0 for two classes."""
    report = _report(
        operating_point={"threshold": None},
        class_names=["a", "b", "c"],
        classification_report={
            "a": {"recall": 1.0, "support": 1.0},
            "b": {"recall": 0.0, "support": 1.0},
            "c": {"recall": 0.0, "support": 2.0},
            "accuracy": 0.25,
            "macro avg": {"recall": 0.33, "support": 4.0},
        },
    )
    assert promotion_concerns(report) == ["it never calls b, c on the test set (recall 0)"]
    report["levels"]["item"]["classification_report"]["b"]["recall"] = 0.5
    report["levels"]["item"]["classification_report"]["c"]["support"] = 0.0  # not in the test set: no evidence
    assert promotion_concerns(report) == []


def test_a_tiny_test_set_is_no_evidence_even_with_a_perfect_interval():
    report = _report(auc=1.0, auc_ci=[1.0, 1.0], n=3)
    report["level"], report["levels"] = "recording", {"recording": report["levels"]["item"]}
    assert promotion_concerns(report) == [
        "its test set holds only 3 recordings; at least 20 are needed for its figures to be evidence"
    ]
    assert promotion_concerns(_report(n=20)) == []
