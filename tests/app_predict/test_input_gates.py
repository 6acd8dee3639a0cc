"""The page refuses what the API refuses: the same gates and limits on uploads, and on what the browser sends back."""

import base64

import pytest

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages import predict
from core.serving.service import PredictionService
from core.settings import Settings
from tests.support.bad_inputs import bad_images, bad_sounds, long_flac
from tests.support.callbacks import call, callback_functions


@pytest.fixture(scope="module")
def page(predict_root):
    settings = Settings(artifacts_dir=predict_root, max_audio_seconds=300)
    service = PredictionService(settings)
    app = create_app(settings, service=service)
    return app, callback_functions(app), service


def _upload(data: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize("kind, cases", [("image", bad_images()), ("sound", bad_sounds())])
def test_a_batch_refuses_every_input_the_api_refuses_and_records_only_quality_refusals(page, model_keys, kind, cases):
    _, callbacks, service = page
    refused = {name: data for name, (data, expected) in cases.items() if expected == "error"}
    before = service.audit_log.count()
    _, results, status, rows, selected, *_ = call(
        callbacks["run_batch"],
        [_upload(data) for data in refused.values()] + ["data:,not base64!", 42],
        None,
        model_keys[kind],
        [*refused, "garbled.png", "number.png"],
        None,
        None,
        triggered=ids.UPLOAD,
        prop="contents",
    )
    assert [row["status"] for row in rows] == ["error"] * (len(refused) + 2)
    assert selected == []
    recorded = service.audit_log.recent(limit=service.audit_log.count() - before)
    assert recorded and all(row["refused_reason"] and row["predicted"] is None for row in recorded)  # no class given
    assert f"0 of {len(refused) + 2} files analysed" in status.children
    reasons = {result["filename"]: result["error"] for result in results}
    if kind == "sound":
        assert "too short to judge" in reasons["eight_samples.wav"]
        assert "silent or nearly so" in reasons["digital_silence.wav"]
    else:
        assert "too small to judge" in reasons["one_pixel.png"]
        assert "blank or a single colour" in reasons["black_36mp.png"]
    assert "not base64" in reasons["garbled.png"] and reasons["number.png"] == "the upload is not a file"


def test_the_detail_view_never_decodes_a_recording_beyond_the_limits(page, model_keys):
    """The browser sends the upload back to show its waveform: a forged, 10-minute one is not decoded."""
    app, _, _ = page
    contents = _upload(long_flac(), "audio/flac")
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        assert predict._recording(contents, model_keys["sound"]) == (None, None, None)  # refused from the header
        assert predict._recording("data:,%%%", model_keys["sound"]) == (None, None, None)
        good = _upload(bad_sounds()["float.wav"][0], "audio/wav")
        waveform, player, cut = predict._recording(good, model_keys["sound"])
        assert waveform is not None and player.startswith("data:audio/wav;base64,") and cut is None
