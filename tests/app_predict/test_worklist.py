"""The review worklist through the API and the page's callbacks, over real runs with inputs kept (STORE_INPUTS).

The module builds its own ARTIFACTS_DIR (both tiny runs, the newest run's
best model promoted) and saves a review band of [0, 1] for the image and the
sound model, so every result it predicts is uncertain (or withheld): on the
worklist by construction, not hoped for. Refusals never are
(tests/app_predict/test_refusals.py).
"""

import base64
import io
import json
import shutil
import wave

import numpy as np
import pytest

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages import worklist
from core.data.dataset import load_dataset
from core.data.demo import draw_audiogram
from core.inputs.previews import BROWSER_MIN_RATE
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import bad_images, bad_sounds, good_png
from tests.support.callbacks import call, callback_functions

BLANK = bad_images()["uniform_teal.png"][0]
TONE = bad_sounds()["float.wav"][0]  # 4 s at 2 kHz: a recording the sound model answers


def _chart(seed: int) -> bytes:
    """An audiogram of its own (not `good_png`'s bytes), so its case is the only one with this content."""
    buffer = io.BytesIO()
    draw_audiogram("normal", np.random.default_rng(seed)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def root(tmp_path_factory, image_run, sound_run, run_ids):
    root = combine_runs(tmp_path_factory.mktemp("worklist"), (image_run, sound_run))
    promote_newest_best(root)
    client = create_app(Settings(artifacts_dir=root)).server.test_client()
    for kind in ("image", "sound"):
        band = {"run": run_ids[kind], "model": "custom_cnn", "band": [0.0, 1.0], "note": "review everything"}
        assert client.post("/api/operating-points", json=band).status_code == 200
    return root


@pytest.fixture(scope="module")
def app(root):
    return create_app(Settings(artifacts_dir=root, store_inputs=True, display_timezone="Europe/Paris"))


def _post(client, data: bytes, model: str, case_ref: str, name: str = "scan.png"):
    return client.post("/api/predict", data={"file": (io.BytesIO(data), name), "model": model, "case_ref": case_ref})


def _worklist(client, **query) -> list[dict]:
    response = client.get("/api/predictions", query_string={"awaiting_review": "true", **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["predictions"]


def test_an_uncertain_result_waits_oldest_first_until_reviewed(app, model_keys):
    client = app.server.test_client()
    first = _post(client, good_png(), model_keys["image"], "U-1").get_json()
    second = _post(client, good_png(), model_keys["image"], "U-2").get_json()
    assert first["uncertain"] and second["uncertain"] and first["review_band"] == [0.0, 1.0]
    waiting = [row["id"] for row in _worklist(client, model="CNN", modality="image")]
    assert waiting.index(first["id"]) < waiting.index(second["id"])  # oldest first, model matched in part
    assert first["id"] not in [row["id"] for row in _worklist(client, modality="sound")]
    label = first["class"]
    review = {"prediction_id": first["id"], "verdict": "confirmed", "correct_label": label, "comment": "seen"}
    assert client.post("/api/feedback", json=review).status_code == 200
    assert first["id"] not in [row["id"] for row in _worklist(client)]
    reviewed = client.get("/api/predictions", query_string={"awaiting_review": "false", "case_ref": "U-1"})
    assert [row["feedback"] for row in reviewed.get_json()["predictions"]] == ["confirmed"]


@pytest.mark.parametrize(
    "query, message",
    [
        ({"reason": "uncertain"}, "add awaiting_review=true"),
        ({"awaiting_review": "true", "feedback": "confirmed"}, "leave feedback out"),
        ({"awaiting_review": "perhaps"}, "awaiting_review: input should be a valid boolean"),
        ({"awaiting_review": "true", "reason": "bored"}, "reason: input should be"),
        ({"modality": "video"}, "modality: input should be 'image' or 'sound'"),
    ],
)
def test_a_bad_worklist_query_is_a_clear_422(app, query, message):
    response = app.server.test_client().get("/api/predictions", query_string=query)
    assert response.status_code == 422 and message in response.get_json()["error"], response.get_json()


def test_reviewed_cases_download_as_a_manifest_the_dataset_reader_loads(app, root, model_keys):
    client = app.server.test_client()
    outcome = _post(client, good_png(), model_keys["image"], "M-1").get_json()
    other = next(name for name in outcome["class_names"] if name != outcome["class"])
    review = {"prediction_id": outcome["id"], "verdict": "overridden", "correct_label": other}
    assert client.post("/api/feedback", json=review).status_code == 200
    response = client.get("/api/reviewed-manifest.csv", query_string={"modality": "image"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    manifest = root / "reviewed-image.csv"  # where the page says to save it
    manifest.write_bytes(response.data)
    dataset = load_dataset([manifest])
    assert (other, "M-1") in {(item.label, item.group) for item in dataset.items}
    assert all(item.path.parent == root / "inputs" for item in dataset.items) and not dataset.skipped
    missing = client.get("/api/reviewed-manifest.csv")
    assert missing.status_code == 422 and "modality" in missing.get_json()["error"]


def test_without_kept_inputs_refusals_are_logged_not_listed_and_there_is_no_export(root, model_keys):
    app = create_app(Settings(artifacts_dir=root))
    client = app.server.test_client()
    assert _post(client, BLANK, model_keys["image"], "N-1").status_code == 422
    [row] = client.get("/api/predictions", query_string={"case_ref": "N-1"}).get_json()["predictions"]
    assert row["refused_reason"] and row["input_path"] is None and row["review_reason"] is None
    assert row["id"] not in [r["id"] for r in _worklist(client)]
    refused = client.get("/api/reviewed-manifest.csv", query_string={"modality": "image"})
    assert refused.status_code == 404 and "STORE_INPUTS" in refused.get_json()["error"]
    with app.server.test_request_context("/worklist"):
        page = json.dumps(worklist.layout().to_plotly_json(), default=str)
    assert "STORE_INPUTS is off" in page and ids.WORKLIST_EXPORT not in page


def test_a_case_opens_signs_off_through_the_one_review_rule_and_keeps_its_history(root, model_keys):
    app = create_app(Settings(artifacts_dir=root, store_inputs=True, display_timezone="Europe/Paris"))
    callbacks = callback_functions(app)  # before any request: Dash adds entries of its own on the first one
    client = app.server.test_client()
    assert _post(client, _chart(31), model_keys["image"], "C-1").status_code == 200
    case_id = next(row["id"] for row in _worklist(client, case_ref="C-1"))
    rows, _, page, count, _ = call(callbacks["worklist_rows"], "image", "cnn", "uncertain", 0, None, None)
    assert case_id in [row["id"] for row in rows] and page == 0 and "awaiting review" in count
    assert all(row["why"] == worklist.REASONS["uncertain"] for row in rows)
    assert all(row["created_at"].endswith(("CET", "CEST")) for row in rows)  # DISPLAY_TIMEZONE, named
    chosen = call(callbacks["choose_case"], {"row": 0, "column": 0, "row_id": rows[0]["id"]}, rows)
    assert chosen == rows[0]["id"]
    view = json.dumps(callbacks["open_case"](case_id).to_plotly_json(), default=str)
    assert "Uncertain" in view and "data:image/png;base64," in view
    assert f"api/predictions/{case_id}/report" in view  # the filed report, reviews included
    unlabelled, *_ = call(callbacks["sign_off"], 1, case_id, None, "", 0, triggered=ids.CASE_SIGN)
    assert "Choose the label" in str(unlabelled.children)
    label = app.server.extensions["predictions"].audit_log.get(case_id)["classes"][0]
    hidden, *_ = call(callbacks["sign_off"], 1, case_id, label, "ok\x1b[2J", 0, triggered=ids.CASE_SIGN)
    assert (
        "comment" in str(hidden.children) and not app.server.extensions["predictions"].audit_log.get(case_id)["reviews"]
    )
    sign = callbacks["sign_off"]
    saved, signed, seen = call(sign, 1, case_id, label, "visible on review", 0, triggered=ids.CASE_SIGN)
    assert f"Signed off as {label}" in str(saved.children) and signed and seen == 1
    unread, _, seen_now = call(callbacks["sign_off"], 1, case_id, label, "opened before", 0, triggered=ids.CASE_SIGN)
    assert "while it was open" in str(unread.children) and seen_now == 1  # another's review is read first
    call(callbacks["sign_off"], 1, case_id, label, "second opinion", seen, triggered=ids.CASE_SIGN)
    history = json.dumps(callbacks["case_history"](case_id, signed).to_plotly_json(), default=str)
    assert history.index("visible on review") < history.index("second opinion")  # every review kept, in order
    rows, *_ = call(callbacks["worklist_rows"], "image", None, "uncertain", 0, None, signed)
    assert case_id not in [row["id"] for row in rows]
    download, note = call(callbacks["export_manifest"], 1, "image", None, triggered=ids.WORKLIST_EXPORT)
    assert download["filename"] == "reviewed-image.csv" and f",{label},C-1" in download["content"]
    assert "exported" in note
    assert call(callbacks["export_manifest"], 1, "any", None, triggered=ids.WORKLIST_EXPORT)[0] is None


def _sources(component) -> list[str]:
    """The `src` of every image and player in a layout tree."""
    own = [component.src] if getattr(component, "src", None) else []
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children]
    return own + [
        src for child in children if child is not None and not isinstance(child, str) for src in _sources(child)
    ]


def test_a_kept_recording_is_heard_at_a_rate_the_browser_plays_and_seen_as_a_spectrogram(root, model_keys):
    app = create_app(Settings(artifacts_dir=root, store_inputs=True))
    open_case = callback_functions(app)["open_case"]
    client = app.server.test_client()
    assert _post(client, TONE, model_keys["sound"], "S-1", "beat.wav").status_code == 200  # 2 kHz
    [row] = _worklist(client, case_ref="S-1", modality="sound")
    sources = _sources(open_case(row["id"]))
    wav = next(source for source in sources if source.startswith("data:audio/wav;base64,"))
    with wave.open(io.BytesIO(base64.b64decode(wav.partition(",")[2]))) as played:
        assert played.getframerate() >= BROWSER_MIN_RATE  # Chromium refuses WAV below 3 kHz
    assert any(source.startswith("data:image/png;base64,") for source in sources)  # the spectrogram


def test_a_kept_input_is_drawn_from_its_runs_preprocessing_without_loading_the_model(root, model_keys, tmp_path):
    copied = shutil.copytree(root, tmp_path / "artifacts")
    client = create_app(Settings(artifacts_dir=copied, store_inputs=True)).server.test_client()
    assert _post(client, good_png(), model_keys["image"], "P-1").status_code == 200
    [row] = _worklist(client, case_ref="P-1")
    run_id, _, model = model_keys["image"].partition("/")
    ArtifactsLayout(copied).run(run_id).model(model).tflite.unlink()  # no model a worker could load any more
    app = create_app(Settings(artifacts_dir=copied, store_inputs=True))
    with app.server.test_request_context("/worklist"):
        sources = _sources(worklist.open_case(row["id"]))
    assert any(source.startswith("data:image/png;base64,") for source in sources)
