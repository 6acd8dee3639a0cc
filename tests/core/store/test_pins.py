"""A promotion pins the files its model is served from: changed files are not served under the analyst's approval."""

import json
import shutil

import pytest

from core.errors import NotFound, Unavailable
from core.serving.service import PredictionService
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.pins import files_digest, served_files
from core.store.registry import champion, promote, rollback
from tests.support.bad_inputs import good_png


@pytest.fixture
def two_runs(tmp_path, image_run, sound_run):
    """A private copy of both trained runs and an empty database, as a serving instance sees them."""
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    service = PredictionService(Settings(artifacts_dir=tmp_path))
    return tmp_path, service.state, service, image_run[1], sound_run[1]


def _edit_temperature(root, run_id, model) -> bytes:
    """Double the model's temperature in its report, as a hand edit or an older copy might; the old bytes back."""
    path = ArtifactsLayout(root).run(run_id).model(model).report
    before = path.read_bytes()
    report = json.loads(before)
    headline = report["levels"][report["level"]]
    headline["temperature"] = float(headline["temperature"]) * 2
    path.write_text(json.dumps(report))
    return before


def test_a_champion_whose_files_changed_is_damaged_and_not_served_until_promoted_again(two_runs):
    root, state, service, image_id, _ = two_runs
    promote(root, state, image_id, "custom_cnn", reason="approved", user="ana", force=True)
    assert len(state.champion()["files_sha256"]) == 64
    assert champion(root, state)["damaged"] is None
    service.predict(good_png(), filename="a.png")  # served, and loaded in this worker

    original = _edit_temperature(root, image_id, "custom_cnn")
    damaged = champion(root, state)["damaged"]
    assert "changed since it was promoted" in damaged and str(root) not in damaged
    with pytest.raises(Unavailable, match="changed since it was promoted"):
        service.predict(good_png(), filename="a.png")  # the loaded model is not served either

    ArtifactsLayout(root).run(image_id).model("custom_cnn").report.write_bytes(original)
    assert champion(root, state)["damaged"] is None  # the approved bytes are back: served again
    _edit_temperature(root, image_id, "custom_cnn")
    promote(root, state, image_id, "custom_cnn", reason="new calibration checked", user="ana", force=True)
    assert champion(root, state)["damaged"] is None  # an analyst approved the new files
    assert service.predict(good_png(), filename="a.png").prediction.run_id == image_id


def test_a_rollback_refuses_a_model_whose_files_changed_since_it_was_promoted(two_runs):
    root, state, _, image_id, sound_id = two_runs
    promote(root, state, image_id, "custom_cnn", reason="first", user=None, force=True)
    promote(root, state, sound_id, "baseline", reason="second", user=None, force=True)
    _edit_temperature(root, image_id, "custom_cnn")
    with pytest.raises(NotFound, match="cannot be served again: its files have changed"):
        rollback(root, state, reason="back", user=None)
    assert state.champion()["run_id"] == sound_id


def test_a_champion_promoted_before_pins_is_served_and_pinned_on_rollback(two_runs):
    root, state, _, image_id, sound_id = two_runs
    state.add_champion(image_id, "custom_cnn", reason="before 0005", user=None, files_sha256=None)
    assert champion(root, state)["damaged"] is None
    promote(root, state, sound_id, "baseline", reason="next", user=None, force=True)
    back = rollback(root, state, reason="back", user=None)
    assert back["files_sha256"] == files_digest(ArtifactsLayout(root).run(image_id), "custom_cnn")


def test_the_digest_names_files_by_their_place_in_the_run_and_covers_a_blends_parts(two_runs, tmp_path_factory):
    root, _, _, _, sound_id = two_runs
    run = ArtifactsLayout(root).run(sound_id)
    elsewhere = ArtifactsLayout(tmp_path_factory.mktemp("mounted-elsewhere")).run(sound_id)
    shutil.copytree(run.dir, elsewhere.dir)
    assert files_digest(run, "custom_cnn_blend") == files_digest(elsewhere, "custom_cnn_blend")
    assert run.model("custom_cnn").tflite in served_files(run, "custom_cnn_blend")

    before = files_digest(run, "custom_cnn_blend")
    part = run.model("baseline").estimator
    part.write_bytes(part.read_bytes() + b"\0")  # a part replaced under the blend
    assert files_digest(run, "custom_cnn_blend") != before
    assert files_digest(elsewhere, "custom_cnn_blend") == before
