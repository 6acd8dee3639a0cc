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
