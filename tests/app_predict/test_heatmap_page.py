"""The prediction page's heatmap and card say what answered and what was explained, over real runs.

- a long recording's heatmap names the windows it explains (the rest is not computed);
- a heatmap explains the card's answer: after an analyst saves an operating point that calls
  another class, an earlier result's heatmap still follows the class that result shows;
- the card names the operating point (version, threshold, review band) that decided;
- the card says when the player plays only the beginning of a long recording.
"""

import base64
import io

import numpy as np
import pytest
import soundfile

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages.predict import _played_note
from core.data.demo import heart_sound
from core.inputs.previews import playable_wav
from core.serving.predictor import EXPLAINED_WINDOWS
from core.settings import Settings
from tests.conftest import combine_runs, promote_newest_best
from tests.support.callbacks import call, callback_functions


@pytest.fixture(scope="module")
def page(tmp_path_factory, image_run, sound_run):
    root = combine_runs(tmp_path_factory.mktemp("heatmap_page"), (image_run, sound_run))
    promote_newest_best(root)
    app = create_app(Settings(artifacts_dir=root))
    callbacks = callback_functions(app)  # first: Dash adds entries of its own on a request
    return callbacks, app.server.test_client(), app.server.extensions["predictions"]


def _recording(seconds: float, rate: int = 2000) -> str:
    buffer = io.BytesIO()
    signal = heart_sound("murmur", np.random.default_rng(5), sample_rate=rate, seconds=seconds)
    soundfile.write(buffer, signal, rate, "PCM_16", format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def _analyse(callbacks, model: str, contents: str) -> tuple[list, list]:
    inputs, results, *_ = call(
        callbacks["run_batch"], [contents], None, model, ["beat.wav"], None, None, triggered=ids.UPLOAD, prop="contents"
    )
    assert not results[0].get("error"), results[0]
    return inputs, results


def test_a_long_recordings_heatmap_names_the_windows_it_explains(page, model_keys):
    callbacks, *_ = page
    inputs, results = _analyse(callbacks, model_keys["sound"], _recording(90))
    figure, note, overlay = callbacks["heatmap"](True, 0.6, 0, results, inputs)
    assert overlay["id"] == results[0]["id"] and "hiding them lowered the probability" in note
    assert f"Explained: the {EXPLAINED_WINDOWS} of {results[0]['n_windows']} windows" in note
    assert note.count(":") > 2 * EXPLAINED_WINDOWS and "the rest of the recording was not explained" in note
    short_inputs, short = _analyse(callbacks, model_keys["sound"], _recording(8))
    _, whole, _ = callbacks["heatmap"](True, 0.6, 0, short, short_inputs)
    assert "Explained:" not in whole and "hiding them lowered the probability" in whole  # every window explained


def test_the_card_names_its_operating_point_and_the_heat_follows_the_cards_class(page, model_keys, run_ids):
    callbacks, client, service = page
    inputs, results = _analyse(callbacks, model_keys["sound"], _recording(8))
    card = str(callbacks["show_detail"]([0], results, inputs)[0].to_plotly_json())
    assert "Operating point version 0 (fitted at training): threshold" in card
    assert f"review band {results[0]['review_band'][0]:.3g}-" in card
    predictor = service.predictor(model_keys["sound"])
    flip = 1.0 if results[0]["predicted"] == predictor.class_names[predictor.positive] else 0.0
    point = {"run": run_ids["sound"], "model": "custom_cnn", "threshold": flip, "note": "calls the other class"}
    assert client.post("/api/operating-points", json=point).status_code == 200
    _, note, overlay = callbacks["heatmap"](True, 0.6, 0, results, inputs)
    assert overlay["id"] == results[0]["id"] and f"probability of '{results[0]['predicted']}'" in note
    inputs, now = _analyse(callbacks, model_keys["sound"], _recording(8))  # analysed again: the new point calls
    assert now[0]["predicted"] != results[0]["predicted"] and now[0]["operating_point_version"] == 1
    card = str(callbacks["show_detail"]([0], now, inputs)[0].to_plotly_json())
    assert f"Operating point version 1 (saved by an analyst): threshold {flip:.3g}" in card


def test_a_player_that_plays_only_the_beginning_says_so():
    signal = np.sin(np.arange(8000 * 10) / 3.0) * 0.5  # 10 s at 8 kHz
    assert _played_note(playable_wav(signal, 8000), 10.0) is None
    cut = _played_note(playable_wav(signal, 8000, max_bytes=44 + 2 * 8000 * 4), 10.0)
    assert cut.startswith("The player plays the first 0:04 of this 0:10 recording")
