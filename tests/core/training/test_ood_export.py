"""The exported model's second output, its embedding, and the run's out-of-distribution reference."""

import keras
import numpy as np
import pandas as pd
import pytest

from core.evaluation.ood import OodReference
from core.inputs.preprocess import ImagePreprocessing, image_to_input, load_image
from core.serving.litert import EMBEDDING, PROBABILITIES, LiteRTModel
from core.store.artifacts import read_json
from core.store.layout import ArtifactsLayout
from core.training.models import with_embedding


@pytest.mark.parametrize("model_name, width", [("custom_cnn", 128), ("mobilenet_v2", 1280)])
def test_the_tflite_answers_probabilities_and_the_embedding_keras_computes(image_run, model_name, width):
    artifacts_dir, run_id, _ = image_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    files = run.model(model_name)
    report = read_json(files.report)
    assert report["litert_parity"]["passed"]

    split = pd.read_csv(run.split)
    paths = split.loc[split["split"] == "test", "path"].head(3)
    x = image_to_input(np.stack([load_image(path, ImagePreprocessing(image_size=64)) for path in paths]))
    litert = LiteRTModel(files.tflite)
    outputs = litert.outputs(x)
    expected = with_embedding(keras.models.load_model(files.keras))(x, training=False)
    assert litert.has_embedding and outputs[EMBEDDING].shape == (len(x), width)
    assert np.allclose(outputs[PROBABILITIES], np.asarray(expected[PROBABILITIES]), atol=1e-4)
    assert np.allclose(outputs[EMBEDDING], np.asarray(expected[EMBEDDING]), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("kind", ["image", "sound"])
def test_each_model_stores_a_small_reference_calibrated_on_validation(image_run, sound_run, kind):
    artifacts_dir, run_id, _ = image_run if kind == "image" else sound_run
    for model_name in ("custom_cnn", "mobilenet_v2"):
        files = ArtifactsLayout(artifacts_dir).run(run_id).model(model_name)
        ood = read_json(files.report)["ood"]
        reference = OodReference.from_bytes(files.ood_reference.read_bytes())
        assert files.ood_reference.stat().st_size == ood["reference_bytes"] < 2_000_000
        assert ood["percentile"] == 99.0 and ood["threshold"] == reference.threshold > 0
        assert ood["val_flagged"] <= 0.02 and ood["n_test"] > 0 and 0 <= ood["test_flagged"] <= 1
