"""Text-direction controls: a file name or case reference must read as what it is wherever it is shown."""

import pytest

from app_predict.schemas import FeedbackBody, PredictForm, parse, without_direction_controls
from core.errors import InvalidInput


@pytest.mark.parametrize("field", ["filename", "case_ref"])
def test_text_direction_controls_are_refused_by_the_api(field):
    with pytest.raises(InvalidInput, match="text-direction"):
        parse(PredictForm, {field: "\u202egnp.exe.wav"})


def test_a_right_to_left_comment_keeps_its_marks():
    comment = "\u05e9\u05dc\u05d5\u05dd \u200fok"  # Hebrew with a right-to-left mark
    assert parse(FeedbackBody, {"prediction_id": "a", "verdict": "confirmed", "comment": comment}).comment == comment


def test_the_page_drops_them_from_a_file_name_as_it_was_sent():
    assert without_direction_controls("\u202egnp.exe.wav") == "gnp.exe.wav"
    assert without_direction_controls("患者-ü") == "患者-ü" and without_direction_controls(None) is None


def test_an_upload_named_with_a_direction_control_is_a_422(tmp_path):
    from io import BytesIO

    from app_predict.factory import create_app
    from core.settings import Settings

    client = create_app(Settings(artifacts_dir=tmp_path)).server.test_client()
    response = client.post("/api/predict", data={"file": (BytesIO(b"RIFF"), "\u202egnp.exe.wav")})
    assert response.status_code == 422 and "text-direction" in response.get_json()["error"]
