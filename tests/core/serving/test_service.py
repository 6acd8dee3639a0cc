"""PredictionService: the one code path of the page and the API, over a real tiny run."""

import json
import shutil

import pytest

from core.errors import EmptyInput, InputRejected, InputTooLarge, ModelUnavailable, Unavailable
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import promote, save_operating_point
from tests.support.bad_inputs import good_png


@pytest.fixture
def image_service(image_run, tmp_path):
    """A service over a copy of the image run, keeping uploads, with a 1 MB upload limit."""
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    return PredictionService(Settings(artifacts_dir=tmp_path, store_inputs=True, max_upload_mb=1)), run_id


def test_a_recorded_prediction_serialises_one_way_without_arrays(image_service):
    service, run_id = image_service
    outcome = service.predict(
        good_png(), filename="scan.png", model=model_key(run_id, "custom_cnn"), case_ref="  CASE-3  "
    )
    body = outcome.to_dict()
    assert body == {
        "id": outcome.prediction_id,
        "filename": "scan.png",
        "case_ref": "CASE-3",
        **outcome.prediction.to_dict(),
    }
    assert "display" not in body and "heatmap" not in body and json.loads(json.dumps(body)) == body
    assert body["run_id"] == run_id and body["predicted"] in body["probabilities"]
    assert service.audit_log.get(outcome.prediction_id)["case_ref"] == "CASE-3"
    assert (
        ArtifactsLayout(service.settings.artifacts_dir).stored_input(outcome.content_sha256, ".png").read_bytes()
        == good_png()
    )


def test_refusals_carry_their_status(image_service, tmp_path):
    service, run_id = image_service
    key = model_key(run_id, "custom_cnn")
    cases = [
        (b"", EmptyInput, 400),
        (good_png() + b"\0" * 1_100_000, InputTooLarge, 413),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", InputRejected, 415),
        (b"plain text notes", InputRejected, 415),
    ]
    for data, kind, status in cases:
        with pytest.raises(kind) as refused:
            service.predict(data, model=key)
        assert refused.value.status == status
    with pytest.raises(ModelUnavailable) as unknown:
        service.predict(good_png(), model="nope/custom_cnn")
    assert unknown.value.status == 404
    with pytest.raises(Unavailable) as untrained:
        PredictionService(Settings(artifacts_dir=tmp_path / "empty")).predict(good_png())
    assert untrained.value.status == 503
    with pytest.raises(Unavailable, match="no champion.*python -m core promote RUN MODEL --reason") as unpromoted:
        service.predict(good_png())  # trained, but nothing promoted: nothing is served by default
    assert unpromoted.value.status == 503
    assert service.audit_log.count() == 0  # nothing refused was recorded


def test_a_saved_operating_point_decides_the_very_next_prediction_and_is_recorded(image_service):
    service, run_id = image_service
    root = service.settings.artifacts_dir
    promote(root, service.state, run_id, "custom_cnn", reason="test", user="ana", force=True)
    before = service.predict(good_png(), user="dr-a")  # the champion, with its fitted operating point
    assert (before.prediction.run_id, before.prediction.operating_point_version) == (run_id, 0)
    other = PredictionService(service.settings)  # another worker, sharing the database
    saved = save_operating_point(
        root, other.state, run_id, "custom_cnn", threshold=None, review_band=(0.0, 1.0), user="ana", note="all"
    )
    after = service.predict(good_png(), user="dr-a")  # no restart: the already-built service reads the new version
    assert (after.prediction.operating_point_version, after.prediction.review_band) == (saved["version"], [0.0, 1.0])
    assert after.prediction.uncertain is True  # a band over [0, 1] refers everything
    row = service.audit_log.get(after.prediction_id)
    assert (row["operating_point_version"], row["threshold"], row["review_band"], row["user"]) == (
        1,
        None,
        [0.0, 1.0],
        "dr-a",
    )
    assert after.to_dict()["operating_point_version"] == 1


def test_a_new_champion_is_served_at_once_and_a_damaged_one_is_reported(image_service):
    service, run_id = image_service
    root = service.settings.artifacts_dir
    promote(root, service.state, run_id, "custom_cnn", reason="first", user=None, force=True)
    assert service.predict(good_png()).prediction.model == "custom_cnn"
    promote(
        root, PredictionService(service.settings).state, run_id, "mobilenet_v2", reason="second", user=None, force=True
    )
    assert service.predict(good_png()).prediction.model == "mobilenet_v2"
    assert [m["model"] for m in service.models() if m["champion"]] == ["mobilenet_v2"]
    ArtifactsLayout(root).run(run_id).model("mobilenet_v2").tflite.unlink()
    with pytest.raises(Unavailable, match=f"champion {run_id}/mobilenet_v2 cannot be served"):
        service.predict(good_png())  # reported, never silently replaced by another model
    assert "no servable model" in service.champion()["damaged"]
    assert service.predict(good_png(), model=model_key(run_id, "custom_cnn")).prediction.model == "custom_cnn"
