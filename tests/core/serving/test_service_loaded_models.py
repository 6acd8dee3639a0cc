"""PredictionService keeps at most `LOADED_MODELS` predictors: the least recently used is dropped, never one in use."""

import shutil

import numpy as np

from core.serving import service as service_module
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from tests.support.bad_inputs import good_png


def test_a_dropped_predictor_still_serves_its_request_and_is_loaded_again_when_asked(image_run, tmp_path, monkeypatch):
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    monkeypatch.setattr(service_module, "LOADED_MODELS", 1)
    predictions = PredictionService(Settings(artifacts_dir=tmp_path))
    cnn, baseline = model_key(run_id, "custom_cnn"), model_key(run_id, "baseline")
    in_use = predictions.predictor(cnn)
    assert predictions.predictor(cnn) is in_use  # loaded once while it is the most recently used
    predictions.predictor(baseline)  # one model at most: the CNN's predictor is dropped
    before = in_use.predict(good_png()).probabilities  # a request that holds it still predicts with it
    again = predictions.predictor(cnn)
    assert again is not in_use
    after = again.predict(good_png()).probabilities
    assert list(after) == list(before)
    np.testing.assert_allclose(list(after.values()), list(before.values()), rtol=1e-6)
