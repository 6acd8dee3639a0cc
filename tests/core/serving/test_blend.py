"""Serving a blend (`core.serving.blend`): its parts' probabilities averaged, TF-free, only while its parts are
the very files it was evaluated with."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from core.errors import Unavailable
from core.evaluation.decision import apply_temperature
from core.serving.blend import BlendRunner
from core.serving.predictor import Predictor
from core.serving.runner import open_runner
from core.store.layout import ArtifactsLayout


def _test_file(artifacts_dir, run_id) -> str:
    split = pd.read_csv(ArtifactsLayout(artifacts_dir).run(run_id).split)
    return split.loc[split["split"] == "test", "path"].iloc[0]


def test_the_predictor_serves_a_blend_without_tensorflow_with_its_heatmap(sound_run):
    artifacts_dir, run_id, _ = sound_run
    script = textwrap.dedent(
        f"""
        import json, sys
        from core.serving.predictor import Predictor
        result = Predictor({str(ArtifactsLayout(artifacts_dir).run(run_id).dir)!r}, "custom_cnn_blend").predict(
            {_test_file(artifacts_dir, run_id)!r}, heatmap=True
        )
        print(json.dumps({{"tf": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")),
                          "heat": list(result.heatmap.shape), "display": list(result.display.shape),
                          "sum": sum(result.probabilities.values()), "ood": result.out_of_distribution}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["tf"] == [] and result["heat"] == result["display"][:2]
    assert result["sum"] == pytest.approx(1.0) and result["ood"] is not None  # judged: the CNN part's reference


@pytest.mark.parametrize("fixture", ["image_run", "sound_run"])
def test_a_served_blend_is_the_mean_of_its_parts_served_probabilities(fixture, request):
    artifacts_dir, run_id, _ = request.getfixturevalue(fixture)
    run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
    path = _test_file(artifacts_dir, run_id)
    blend = Predictor(run_dir, "custom_cnn_blend")
    parts = [Predictor(run_dir, name) for name in ("custom_cnn", "baseline")]
    calibrated = [np.array([list(part.predict(path).probabilities.values())]) for part in parts]
    raw = [apply_temperature(probs, 1 / part.temperature) for probs, part in zip(calibrated, parts, strict=True)]
    expected = apply_temperature((raw[0] + raw[1]) / 2, blend.temperature)[0]  # softmax(log p / T) undone, then done
    np.testing.assert_allclose(list(blend.predict(path).probabilities.values()), expected, atol=1e-4)


def test_a_blend_whose_part_changed_is_unavailable_naming_the_part_and_no_path(image_run, tmp_path):
    artifacts_dir, run_id, _ = image_run
    run_dir = tmp_path / run_id
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, run_dir)
    assert Predictor(run_dir, "custom_cnn_blend").runner.has_embedding
    served = run_dir / "models" / "custom_cnn" / "model.tflite"
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))
    with pytest.raises(Unavailable, match="part custom_cnn changed since the blend was made") as caught:
        Predictor(run_dir, "custom_cnn_blend")
    assert str(tmp_path) not in str(caught.value) and "/" not in str(caught.value)
    assert Predictor(run_dir, "baseline").runner  # the other models are served as before
    (run_dir / "models" / "baseline" / "model.joblib").unlink()  # a mirror that lacks a part
    with pytest.raises(Unavailable, match="model baseline has no exported file") as missing:
        Predictor(run_dir, "mobilenet_v2_blend")
    assert str(tmp_path) not in str(missing.value)


def test_a_blend_refuses_parts_that_take_different_inputs_or_are_blends(image_run, sound_run, tmp_path):
    images, sounds = (ArtifactsLayout(root).run(run_id) for root, run_id, _ in (image_run, sound_run))
    cnn, baseline = open_runner(images.model("custom_cnn")), open_runner(sounds.model("baseline"))
    with pytest.raises(ValueError, match="different inputs"):
        BlendRunner({"custom_cnn": cnn, "baseline": baseline}, [0.5, 0.5], embedding_from="custom_cnn")
    run_dir = tmp_path / images.run_id
    shutil.copytree(images.dir, run_dir)
    recipe = json.loads((run_dir / "models" / "custom_cnn_blend" / "blend.json").read_text())
    recipe["parts"] = ["mobilenet_v2_blend", "baseline"]
    (run_dir / "models" / "custom_cnn_blend" / "blend.json").write_text(json.dumps(recipe))
    with pytest.raises(Unavailable, match="part mobilenet_v2_blend of a blend is itself a blend"):
        Predictor(run_dir, "custom_cnn_blend")


def test_a_blend_of_a_transfer_model_says_what_its_backbone_started_from(image_run, tmp_path):
    from core.store.registry import RANDOM_FALLBACK, starting_weights

    artifacts_dir, run_id, _ = image_run
    run = ArtifactsLayout(tmp_path).run(run_id)
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, run.dir)
    config = json.loads(run.config.read_text())
    config["training"]["weights_fallback"] = True  # as an offline demo records it
    run.config.write_text(json.dumps(config))
    assert starting_weights(tmp_path, run_id, "mobilenet_v2_blend") == RANDOM_FALLBACK
    assert starting_weights(tmp_path, run_id, "custom_cnn_blend") == ""
