import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import CoreError
from core.inputs.preprocess import load_sound
from core.serving.litert import LiteRTModel
from core.serving.predictor import Predictor
from core.settings import Settings
from core.store.artifacts import read_json
from core.store.layout import ArtifactsLayout, RunLayout
from core.store.serving_state import OperatingPoint
from tests.conftest import promote_newest_best


def _test_files(artifacts_dir, run_id, count=3):
    split = pd.read_csv(ArtifactsLayout(artifacts_dir).run(run_id).split)
    return split.loc[split["split"] == "test", "path"].head(count).tolist()


def test_predictor_never_imports_tensorflow(image_run, sound_run):
    """Both runners, LiteRT (custom_cnn) and the baseline's estimator, in one fresh process per modality."""
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
        script = textwrap.dedent(
            f"""
            import json, sys
            from core.serving.predictor import Predictor
            for model in ("custom_cnn", "baseline"):
                result = Predictor({str(run_dir)!r}, model).predict(
                    {_test_files(artifacts_dir, run_id, 1)[0]!r}, heatmap=True
                )
                print(json.dumps({{"tf": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")),
                                  "heat": list(result.heatmap.shape), "display": list(result.display.shape),
                                  "sum": sum(result.probabilities.values())}}))
            """
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
        results = [json.loads(line) for line in out.stdout.strip().splitlines()[-2:]]
        for result in results:
            assert result["tf"] == []
            assert result["heat"] == result["display"][:2]
            assert result["sum"] == pytest.approx(1.0)


def test_image_prediction_matches_the_recorded_test_prediction(image_run):
    artifacts_dir, run_id, _ = image_run
    run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
    predictor = Predictor(run_dir, "custom_cnn")
    recorded = pd.read_csv(RunLayout(run_dir).model("custom_cnn").predictions("test")).iloc[0]
    report = read_json(RunLayout(run_dir).model("custom_cnn").report)
    prediction = predictor.predict(recorded["path"])
    from core.evaluation.decision import apply_temperature

    raw = np.array([[recorded[f"prob_{c}"] for c in predictor.class_names]])
    expected = apply_temperature(raw, report["levels"]["item"]["temperature"])[0]
    np.testing.assert_allclose(list(prediction.probabilities.values()), expected, atol=1e-4)
    assert prediction.run_id == run_id and prediction.model == "custom_cnn"
    assert prediction.predicted in predictor.class_names
    assert prediction.display.shape == (64, 64, 3)


@pytest.mark.parametrize("run", ["image_run", "sound_run"])
def test_the_baseline_serves_what_training_recorded_with_its_features_as_embedding(run, request):
    artifacts_dir, run_id, _ = request.getfixturevalue(run)
    layout = ArtifactsLayout(artifacts_dir).run(run_id)
    predictor = Predictor(layout.dir, "baseline")
    recorded = pd.read_csv(layout.model("baseline").predictions("test")).head(3)
    from core.evaluation.decision import apply_temperature

    for _, row in recorded.iterrows():
        prediction = predictor.predict(row["path"], heatmap=True)
        raw = np.array([[row[f"prob_{c}"] for c in predictor.class_names]])
        expected = apply_temperature(raw, predictor.temperature)[0]
        np.testing.assert_allclose(list(prediction.probabilities.values()), expected, atol=1e-5)
        assert prediction.out_of_distribution is not None and prediction.ood_score is not None  # judged on features
        assert prediction.heatmap.shape == prediction.display.shape[:2]


def test_sound_prediction_aggregates_its_windows(sound_run):
    artifacts_dir, run_id, _ = sound_run
    run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
    predictor = Predictor(run_dir, "custom_cnn", review_band=(0.0, 0.0))
    path = _test_files(artifacts_dir, run_id, 1)[0]
    windows, _ = load_sound(path, predictor.params)
    by_hand = LiteRTModel(RunLayout(run_dir).model("custom_cnn").tflite).predict(windows).mean(axis=0)
    from core.evaluation.decision import apply_temperature

    expected = apply_temperature(by_hand[None], predictor.temperature)[0]
    prediction = predictor.predict(path, heatmap=True)
    np.testing.assert_allclose(list(prediction.probabilities.values()), expected, atol=1e-5)
    assert prediction.n_windows == len(windows) and prediction.duration_seconds > 0
    assert prediction.heatmap.shape == prediction.display.shape and prediction.display.shape[0] == 32


def test_review_band_makes_a_prediction_uncertain(sound_run):
    artifacts_dir, run_id, _ = sound_run
    run_dir = ArtifactsLayout(artifacts_dir).run(run_id).dir
    path = _test_files(artifacts_dir, run_id, 1)[0]
    assert Predictor(run_dir, "custom_cnn", review_band=(0.0, 1.0)).predict(path).uncertain is True
    assert Predictor(run_dir, "custom_cnn", review_band=(1.0, 1.0)).predict(path).uncertain is False
    given = Predictor(run_dir, "custom_cnn").predict(path, operating_point=OperatingPoint(4, 0.5, (0.0, 1.0)))
    assert given.uncertain is True  # the operating point given to this call decides, and is reported
    assert (given.operating_point_version, given.threshold, given.review_band) == (4, 0.5, [0.0, 1.0])
    assert Predictor(run_dir, "custom_cnn").predict(path).operating_point_version == 0  # the fitted one by default


def test_the_heatmap_explains_the_class_called_at_the_operating_point_not_the_argmax(sound_run):
    artifacts_dir, run_id, _ = sound_run
    predictor = Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "custom_cnn")
    path = _test_files(artifacts_dir, run_id, 1)[0]
    called = {
        t: predictor.predict(path, heatmap=True, operating_point=OperatingPoint(1, t, (0.0, 0.0))) for t in (0, 1)
    }
    assert called[0].predicted == predictor.class_names[predictor.positive] != called[1].predicted
    assert called[0].probabilities == called[1].probabilities  # one input, two calls: only the threshold differs
    assert not np.allclose(called[0].heatmap, called[1].heatmap)  # each explains its own call


def test_bad_inputs_and_missing_models_are_clear_errors(image_run, tmp_path, capsys):
    artifacts_dir, run_id, _ = image_run
    predictor = Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "custom_cnn")
    with pytest.raises(CoreError, match="not a readable image"):
        predictor.predict(b"plain text, not an image")
    with pytest.raises(CoreError, match="cannot be served"):
        Predictor(ArtifactsLayout(artifacts_dir).run(run_id).dir, "vgg16")
    assert main(["predict", "scan.png"], settings=Settings(artifacts_dir=tmp_path)) == 2
    assert "train a model" in capsys.readouterr().err


def _copy(run, root):
    artifacts_dir, run_id, _ = run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(root).run(run_id).dir)
    return root


def test_predict_cli_reports_each_file_and_survives_a_bad_one(image_run, tmp_path, capsys):
    artifacts_dir, run_id, _ = image_run
    good = _test_files(artifacts_dir, run_id, 2)
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    settings = Settings(artifacts_dir=_copy(image_run, tmp_path / "artifacts"))
    code = main(["predict", good[0], str(bad), good[1], "--run", run_id, "--model", "custom_cnn"], settings=settings)
    out = capsys.readouterr().out.splitlines()
    assert code == 2
    assert out[0].startswith(f"{good[0]}: ") and f"{run_id}/custom_cnn" in out[0]
    assert any(line.startswith(f"{bad}: error: not a readable image") for line in out)
    assert any(line.startswith(f"{good[1]}: ") for line in out)
    assert main(["predict", good[0], "--json"], settings=settings) == 2  # no champion: nothing served by default
    assert "no champion" in capsys.readouterr().err
    champion = promote_newest_best(settings.artifacts_dir)
    assert main(["predict", good[0], "--json"], settings=settings) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert {"predicted", "probabilities", "uncertain", "warnings", "run_id", "model"} <= set(result)
    assert (result["run_id"], result["model"], result["operating_point_version"]) == (
        champion["run_id"],
        champion["model"],
        0,
    )


def test_promote_rollback_and_operating_point_cli(image_run, sound_run, capsys, tmp_path):
    settings = Settings(artifacts_dir=_copy(sound_run, _copy(image_run, tmp_path)))
    image_id, sound_id = image_run[1], sound_run[1]
    assert main(["promote", image_id, "mobilenet_v2", "--reason", "first", "--force"], settings=settings) == 0
    assert "champion is now" in capsys.readouterr().out
    assert main(["promote", image_id, "nope", "--reason", "r", "--force"], settings=settings) == 2
    assert main(["promote", sound_id, "custom_cnn", "--reason", " ", "--force"], settings=settings) == 2
    assert "give a reason" in capsys.readouterr().err
    assert main(["promote", sound_id, "custom_cnn", "--reason", "second", "--force"], settings=settings) == 0
    assert main(["rollback", "--reason", "back"], settings=settings) == 0
    assert f"{image_id}/mobilenet_v2 again" in capsys.readouterr().out
    args = ["operating-point", sound_id, "custom_cnn", "--threshold", "0.3", "--band", "0.25,0.35", "--note", "pilot"]
    assert main(args, settings=settings) == 0
    assert "version 1 in force: threshold 0.3, review band 0.25-0.35" in capsys.readouterr().out
    assert main([*args[:3], "--band", "0.5,0.4", "--note", "bad"], settings=settings) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: review band") and "\n" not in err
