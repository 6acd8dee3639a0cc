"""The promotion dialog offers the override ("Promote anyway") only for a model the guardrails refuse."""

from app_train_dashboard import ids, tables
from app_train_dashboard.factory import create_app
from app_train_dashboard.tabs.comparison import HIDDEN
from core.evaluation.metrics import operating_stats
from core.settings import Settings
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.runs import load_run
from tests.support.callbacks import call, callback_functions

SHOWN = {}
GOOD_FIGURES = {"auc": 0.9, "auc_ci": [0.8, 0.95], "n": 50}  # passes every guardrail
WEAK_FIGURES = {"auc": 0.5, "auc_ci": [0.45, 0.55], "n": 50}  # may be no better than chance


def _set_figures(root, run_id: str, model: str, figures: dict) -> None:
    """Give `model`'s test headline these figures, and an operating point that finds both classes."""
    path = ArtifactsLayout(root).run(run_id).model(model).report
    report = artifacts.read_json(path)
    headline = report["levels"][report["level"]]
    headline.update(figures)
    headline.setdefault("operating_point", {}).update(sensitivity=0.8, specificity=0.8)
    artifacts.write_json(path, report)


def _dialog(promote, run_id: str, model: str, clicked: str, reason: str | None = None) -> tuple:
    """What `promote_model` answers to a click on `clicked` with `model` chosen."""
    return call(promote, 1, 1, 1, None, model, run_id, reason, triggered=clicked)


def test_only_a_refused_model_is_offered_the_recorded_override(copied_root, run_ids):
    run = run_ids["sound"]
    _set_figures(copied_root, run, "custom_cnn", GOOD_FIGURES)
    _set_figures(copied_root, run, "mobilenet_v2", WEAK_FIGURES)
    app = create_app(Settings(artifacts_dir=copied_root))
    promote, state = callback_functions(app)["promote_model"], app.server.extensions["serving_state"]

    opened, text, _, confirm, force = _dialog(promote, run, "custom_cnn", ids.PROMOTE_BUTTON)
    assert opened is True and "guardrails refuse" not in str(text)
    assert (confirm, force) == (SHOWN, HIDDEN)  # nothing to override: no "Promote anyway"

    opened, text, _, confirm, force = _dialog(promote, run, "mobilenet_v2", ids.PROMOTE_BUTTON)
    assert opened is True and "includes 0.5" in str(text)
    assert (confirm, force) == (HIDDEN, SHOWN)  # a plain promotion would be refused: only the override

    kept_open, text, _, confirm, force = _dialog(promote, run, "mobilenet_v2", ids.PROMOTE_CONFIRM, "pilot")
    assert kept_open is True and "Not promoted" in str(text) and (confirm, force) == (HIDDEN, SHOWN)
    closed, *_ = _dialog(promote, run, "mobilenet_v2", ids.PROMOTE_FORCE, "pilot")
    assert closed is False and state.champion()["forced"] is True

    closed, *_ = _dialog(promote, run, "custom_cnn", ids.PROMOTE_FORCE, "sent by hand")
    latest = state.champion()
    assert closed is False and (latest["model"], latest["forced"]) == ("custom_cnn", False)  # nothing was overridden


def _candidate_rows(text: list) -> dict[str, str]:
    """The dialog's table of facts (`tables.promotion_table`) as {row: candidate's value}."""
    table = next(part for part in text if type(part).__name__ == "Table")
    body = table.children[-1]
    return {row.children[0].children: row.children[1].children for row in body.children}


def test_the_dialog_shows_the_figures_at_the_operating_point_the_model_would_be_served_with(copied_root, run_ids):
    run_id = run_ids["sound"]
    app = create_app(Settings(artifacts_dir=copied_root))
    promote, state = callback_functions(app)["promote_model"], app.server.extensions["serving_state"]
    saved = state.save_operating_point(run_id, "custom_cnn", threshold=0.99, review_band=(0.9, 0.995), user="ana")

    _, text, *_ = _dialog(promote, run_id, "custom_cnn", ids.PROMOTE_BUTTON)
    run = load_run(copied_root, run_id)
    labels, probs = tables.calibrated_test(run, run.models["custom_cnn"])
    positive = run.class_names.index(run.positive_class)
    served = operating_stats(labels, probs[:, positive], threshold=0.99, positive=positive)
    rows = _candidate_rows(text)
    assert rows["operating point"] == f"version {saved['version']}: threshold 0.990, review band 0.900–0.995"
    assert [rows[rate] for rate in ("sensitivity", "specificity")] == [
        f"{served[rate]:.3f}" for rate in ("sensitivity", "specificity")
    ]
