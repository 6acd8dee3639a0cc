"""Which model is served: only an explicit promotion or rollback changes it, and damage is reported, not hidden."""

import shutil

import pytest

from core.errors import InvalidInput, NotFound, PromotionRefused
from core.evaluation.guardrails import promotion_concerns
from core.store import artifacts
from core.store.audit_log import AuditLog
from core.store.layout import ArtifactsLayout
from core.store.registry import (
    best_model,
    champion,
    list_runs,
    operating_point_in_force,
    promote,
    rollback,
    save_operating_point,
)
from core.store.serving_state import ServingState


@pytest.fixture
def two_runs(tmp_path, image_run, sound_run):
    """A private copy of both trained runs (the sound run being newer) and an empty database."""
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    state = ServingState(AuditLog(f"sqlite:///{tmp_path / 'audit.db'}").engine)
    return tmp_path, state, image_run[1], sound_run[1]


def test_nothing_is_served_until_a_model_is_promoted(two_runs):
    root, state, image_id, sound_id = two_runs
    assert champion(root, state) is None  # no "newest run's best model" by default


def _expected_best(run, models: list[str]) -> str:
    """The model with the fewest promotion concerns, then the highest validation AUROC."""

    def rank(model: str) -> tuple[int, float]:
        concerns = promotion_concerns(artifacts.read_json(run.model(model).report))
        return -len(concerns), artifacts.read_json(run.model(model).summary)["val_auc"]

    return max(models, key=rank)


def test_best_model_is_the_runs_best_by_validation_auc_among_models_that_show_skill(two_runs):
    root, _, _, sound_id = two_runs
    run = ArtifactsLayout(root).run(sound_id)
    models = ("baseline", "custom_cnn", "mobilenet_v2", "custom_cnn_blend", "mobilenet_v2_blend")
    skilled = [m for m in models if not artifacts.read_json(run.model(m).report)["no_evidence_of_skill"]]
    chosen = best_model(root, sound_id)
    assert chosen == _expected_best(run, skilled)
    files = run.model(chosen)
    report = artifacts.read_json(files.report)
    report["levels"][report["level"]]["operating_point"]["sensitivity"] = 0.0  # now it never calls the positive class
    artifacts.write_json(files.report, report)
    assert best_model(root, sound_id) == _expected_best(run, skilled)  # a model the guardrails object to loses
    for model in skilled:  # a model whose test AUROC interval includes 0.5 is never the automatic choice
        files = run.model(model)
        report = artifacts.read_json(files.report)
        report["levels"][report["level"]]["auc_ci"] = [0.45, 0.9]
        artifacts.write_json(files.report, report)
    assert best_model(root, sound_id) is None


def test_promotion_is_recorded_validated_and_a_new_run_changes_nothing(two_runs, tmp_path_factory, image_run):
    root, state, image_id, sound_id = two_runs
    entry = promote(root, state, image_id, "mobilenet_v2", reason="best on review", user="ana", force=True)
    assert champion(root, state) == {**entry, "damaged": None}
    assert (entry["user"], entry["reason"]) == ("ana", "best on review")
    with pytest.raises(NotFound, match="no servable model 'vgg16'"):
        promote(root, state, image_id, "vgg16", reason="r", user=None, force=True)
    with pytest.raises(NotFound, match="no run"):
        promote(root, state, "nope", "custom_cnn", reason="r", user=None, force=True)
    with pytest.raises(InvalidInput, match="reason"):
        promote(root, state, sound_id, "custom_cnn", reason="  ", user=None, force=True)
    newer = ArtifactsLayout(root).run("29991231-235959-a-newer-run-0000")
    shutil.copytree(ArtifactsLayout(image_run[0]).run(image_id).dir, newer.dir)
    assert list_runs(root)[0]["run_id"] == newer.run_id
    assert champion(root, state)["run_id"] == image_id  # failed promotions and a new run changed nothing
    assert len(state.champion_history()) == 1


def test_rollback_serves_the_previous_champion_again_as_a_new_row(two_runs):
    root, state, image_id, sound_id = two_runs
    with pytest.raises(NotFound, match="no earlier champion"):
        rollback(root, state, reason="oops", user="ana")
    promote(root, state, image_id, "custom_cnn", reason="first", user="ana", force=True)
    promote(root, state, sound_id, "custom_cnn", reason="second", user="ana", force=True)
    back = rollback(root, state, reason="sound model misbehaves", user="bob")
    assert (back["run_id"], back["model"], back["user"]) == (image_id, "custom_cnn", "bob")
    history = state.champion_history()
    assert [(h["run_id"], h["reason"]) for h in history] == [
        (image_id, "sound model misbehaves"),
        (sound_id, "second"),
        (image_id, "first"),
    ]


def test_the_guardrails_refuse_a_weak_model_unless_forced_and_the_override_is_recorded(two_runs):
    root, state, image_id, _ = two_runs
    files = ArtifactsLayout(root).run(image_id).model("custom_cnn")
    report = artifacts.read_json(files.report)
    report["levels"][report["level"]].update(auc=0.5, auc_ci=[0.41, 0.6])
    artifacts.write_json(files.report, report)
    with pytest.raises(PromotionRefused, match="includes 0.5") as refused:
        promote(root, state, image_id, "custom_cnn", reason="try", user="ana")
    assert "force" in str(refused.value) and refused.value.concerns
    assert champion(root, state) is None
    entry = promote(root, state, image_id, "custom_cnn", reason="pilot only", user="ana", force=True)
    assert entry["forced"] is True and champion(root, state)["forced"] is True


def test_a_damaged_champion_is_reported_never_replaced(two_runs):
    root, state, image_id, sound_id = two_runs
    promote(root, state, sound_id, "custom_cnn", reason="r", user=None, force=True)
    run = ArtifactsLayout(root).run(sound_id)
    run.status.write_text("[]")  # valid JSON, wrong shape
    runs = {r["run_id"]: r["state"] for r in list_runs(root)}
    assert runs[sound_id] == "damaged" and runs[image_id] == "complete"
    damaged = champion(root, state)
    assert (damaged["run_id"], damaged["model"]) == (sound_id, "custom_cnn")
    assert "no servable model" in damaged["damaged"]


def test_operating_points_are_versioned_checked_and_fall_back_to_the_fitted_one(two_runs):
    root, state, _, sound_id = two_runs
    report = artifacts.read_json(ArtifactsLayout(root).run(sound_id).model("custom_cnn").report)
    fitted = report["levels"][report["level"]]["operating_point"]
    assert operating_point_in_force(root, state, sound_id, "custom_cnn") == {
        "version": 0,
        "threshold": fitted["threshold"],
        "review_band": fitted["review_band"],
    }
    first = save_operating_point(
        root, state, sound_id, "custom_cnn", threshold=0.3, review_band=(0.2, 0.4), user="ana", note="pilot"
    )
    second = save_operating_point(
        root, state, sound_id, "custom_cnn", threshold=0.35, review_band=(0.3, 0.4), user=None
    )
    assert (first["version"], second["version"]) == (1, 2)
    assert operating_point_in_force(root, state, sound_id, "custom_cnn")["threshold"] == 0.35
    assert [p["version"] for p in state.operating_point_history(sound_id, "custom_cnn")] == [2, 1]
    assert state.operating_point(sound_id, "mobilenet_v2") is None  # versions are per model
    with pytest.raises(InvalidInput, match="review band"):
        save_operating_point(root, state, sound_id, "custom_cnn", threshold=0.3, review_band=(0.6, 0.4), user=None)
    with pytest.raises(NotFound):
        save_operating_point(root, state, sound_id, "vgg16", threshold=0.3, review_band=(0.2, 0.4), user=None)
    assert len(state.operating_point_history(sound_id, "custom_cnn")) == 2  # refused saves wrote nothing


def test_rollback_to_any_earlier_champion_by_its_history_id(two_runs):
    root, state, image_id, sound_id = two_runs
    first = promote(root, state, image_id, "custom_cnn", reason="first", user="ana", force=True)
    promote(root, state, sound_id, "custom_cnn", reason="second", user="ana", force=True)
    promote(root, state, sound_id, "mobilenet_v2", reason="third", user="ana", force=True)
    back = rollback(root, state, reason="the first was safest", user="bob", to=first["id"])
    assert (back["run_id"], back["model"]) == (image_id, "custom_cnn")
    assert [e["reason"] for e in state.champion_history()][:2] == ["the first was safest", "third"]
    with pytest.raises(InvalidInput, match="already the champion"):
        rollback(root, state, reason="again", user="bob", to=first["id"])
    with pytest.raises(NotFound, match="no entry 999"):
        rollback(root, state, reason="typo", user="bob", to=999)


@pytest.mark.parametrize("alias", ["{run}/", "./{run}", "{run}/.", "../runs/{run}", "..", "."])
def test_a_run_is_named_only_by_its_id_never_by_a_path_to_it(two_runs, alias):
    """A path that reaches the run's folder under another name would key rows that the served model never reads."""
    root, state, image_id, _ = two_runs
    named = alias.format(run=image_id)
    with pytest.raises(NotFound, match="exactly as listed"):
        save_operating_point(root, state, named, "custom_cnn", threshold=0.3, review_band=(0.2, 0.4), user=None)
    with pytest.raises(NotFound, match="exactly as listed"):
        promote(root, state, named, "custom_cnn", reason="alias", user=None, force=True)
    assert state.operating_point_history(named, "custom_cnn") == [] and state.champion() is None
