"""The baseline: trained first in every run, exported as the estimator it was, and flagged when it shows no skill."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.cli import _print_results
from core.config import DataOptions, TrainConfig
from core.errors import PromotionRefused
from core.inputs.preprocess import ImagePreprocessing
from core.store.artifacts import read_json
from core.store.audit_log import AuditLog
from core.store.layout import ArtifactsLayout
from core.store.registry import best_model, promote
from core.store.serving_state import ServingState
from core.training.run import train_run


def test_every_run_trains_the_baseline_first_and_exports_the_estimator_it_evaluated(image_run, sound_run):
    for artifacts_dir, run_id, results in (image_run, sound_run):
        layout = ArtifactsLayout(artifacts_dir).run(run_id)
        files = layout.model("baseline")
        assert files.estimator.is_file() and not files.tflite.exists() and not files.keras.exists()
        report = read_json(files.report)
        assert report["runtime"] == "scikit-learn" and report["litert_parity"]["passed"]
        assert report["litert_parity"]["max_abs_diff"] <= 1e-6  # the served file predicts as the trained estimator
        assert report["versus_baseline"] is None and report["ood"]["reference_bytes"] > 0
        history, summary = pd.read_csv(files.history), read_json(files.summary)
        assert 1 <= summary["best_epoch"] <= len(history) and summary["params"] > 0 and summary["model_bytes"] > 0
        assert results["model"].iloc[0] == "baseline"
        for model in ("custom_cnn", "mobilenet_v2"):
            verdict = read_json(layout.model(model).report)["versus_baseline"]
            assert verdict["reference"] == "baseline" and verdict["text"].startswith(f"{model} is ")
            better = "is significantly better than baseline" in verdict["text"]
            assert verdict["significantly_better"] is better
            assert results.set_index("model").loc[model, "beats_baseline"] == better


def test_sounds_are_judged_per_recording_with_the_cnns_windows(sound_run):
    artifacts_dir, run_id, results = sound_run
    files = ArtifactsLayout(artifacts_dir).run(run_id).model("baseline")
    recordings, windows = pd.read_csv(files.predictions("test")), pd.read_csv(files.predictions("test", windows=True))
    cnn_windows = pd.read_csv(
        ArtifactsLayout(artifacts_dir).run(run_id).model("custom_cnn").predictions("test", windows=True)
    )
    assert windows[["path", "start_seconds"]].equals(cnn_windows[["path", "start_seconds"]])
    mean_of_windows = windows.groupby("path")["prob_murmur"].mean()
    np.testing.assert_allclose(
        recordings.set_index("path")["prob_murmur"].loc[mean_of_windows.index], mean_of_windows, rtol=1e-5
    )
    assert set(results["level"]) == {"recording"}
    headline = read_json(files.report)["levels"]["recording"]
    assert 0 <= headline["balanced_accuracy"] <= 1 and 0 <= headline["sensitivity_at_90_specificity"] <= 1


@pytest.fixture(scope="module")
def no_signal_run(tmp_path_factory):
    """A baseline-only run on noise images whose two labels mean nothing: (artifacts_dir, run_id, results)."""
    rng = np.random.default_rng(3)
    data = tmp_path_factory.mktemp("noise")
    for label in ("normal", "abnormal"):
        (data / label).mkdir()
        for index in range(30):
            pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(data / label / f"{label}_{index}.png")
    artifacts_dir = tmp_path_factory.mktemp("artifacts")
    config = TrainConfig(models=("baseline",), bootstrap_resamples=200)
    run_id, results = train_run(
        DataOptions(sources=(str(data),), split=(0.4, 0.2, 0.4)),
        config,
        artifacts_dir=artifacts_dir,
        image=ImagePreprocessing(image_size=24),
    )
    return artifacts_dir, run_id, results


def test_a_model_without_skill_is_flagged_never_chosen_and_refused_unless_forced(no_signal_run, capsys):
    artifacts_dir, run_id, results = no_signal_run
    report = read_json(ArtifactsLayout(artifacts_dir).run(run_id).model("baseline").report)
    low, high = report["levels"]["item"]["auc_ci"]
    assert low <= 0.5 <= high and report["no_evidence_of_skill"] is True
    assert results["no_evidence_of_skill"].tolist() == [True]
    _print_results(run_id, results, artifacts_dir)
    assert "baseline: no evidence of skill (its test AUROC's 95% interval includes 0.5)" in capsys.readouterr().out

    assert best_model(artifacts_dir, run_id) is None  # the only servable model, and still not chosen
    state = ServingState(AuditLog(f"sqlite:///{artifacts_dir / 'audit.db'}").engine)
    with pytest.raises(PromotionRefused, match="no evidence of skill: its test AUROC"):
        promote(artifacts_dir, state, run_id, "baseline", reason="try", user="ana")
    forced = promote(artifacts_dir, state, run_id, "baseline", reason="research only", user="ana", force=True)
    assert forced["forced"] is True
