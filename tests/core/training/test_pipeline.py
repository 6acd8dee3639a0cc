"""End to end: train custom_cnn and a transfer model (weights=None) on generated data, check the artifacts."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from core.store import artifacts
from core.config import TrainConfig
from core.errors import CoreError
from core.config import DataOptions
from core.training.pipeline import check_models, choose_positive, train_run

RUN_FILES = ("status.json", "config.json", "audit.json", "split.csv", "classes.json", "preprocessing.json", "versions.json")


def _run_dir(artifacts_dir, run_id):
    return artifacts.runs_dir(artifacts_dir) / run_id


def test_image_run_writes_every_artifact(image_run):
    artifacts_dir, run_id, results = image_run
    run = _run_dir(artifacts_dir, run_id)
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    status = artifacts.read_json(run / "status.json")
    assert status["state"] == "complete" and status["models_completed"] == ["custom_cnn", "mobilenet_v2"]
    assert status["modality"] == "image" and status["dataset"] == "synthetic-audiograms"
    assert artifacts.read_json(run / "classes.json")["class_names"] == ["high_frequency_loss", "noise_notch", "normal"]
    assert artifacts.read_json(run / "preprocessing.json") == {"image_size": 64, "modality": "image"}
    assert "keras" in artifacts.read_json(run / "versions.json")
    assert artifacts.read_json(run / "config.json")["training"]["weights"] == "none"

    split = pd.read_csv(run / "split.csv")
    assert len(split) == 36 and set(split["split"]) == {"train", "val", "test"}
    assert not list(run.parent.rglob("*.tmp*"))

    for model in ("custom_cnn", "mobilenet_v2"):
        folder = run / "models" / model
        loaded = keras.models.load_model(folder / "model.keras")
        assert loaded.output_shape == (None, 3)
        history = pd.read_csv(folder / "history.csv")
        assert history["epoch"].tolist() == [1, 2]
        test = pd.read_csv(folder / "predictions_test.csv")
        assert sorted(test["path"]) == sorted(split.loc[split["split"] == "test", "path"])
        probs = test[[f"prob_{c}" for c in ("high_frequency_loss", "noise_notch", "normal")]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
        assert {"group", "label", "predicted"} <= set(test.columns)
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["epochs_run"] == 2 and summary["params"] > 0 and summary["model_bytes"] > 0
        report = json.loads((folder / "report.json").read_text())
        assert report["level"] == "item" and list(report["levels"]) == ["item"]
        item = report["levels"]["item"]
        assert item["n"] == len(test)
        assert item["accuracy"] == pytest.approx((test["label"] == test["predicted"]).mean())  # argmax survives calibration
        assert item["operating_point"]["threshold"] is None  # three classes: no binary threshold
        assert np.array(item["confusion_matrix"]).sum() == len(test)
        assert report["litert_parity"]["passed"] and report["litert_parity"]["max_abs_diff"] <= 1e-4
        assert (folder / "model.tflite").is_file() and report["litert_latency_ms"] > 0
    assert list(results["model"]) == ["custom_cnn", "mobilenet_v2"]
    comparisons = artifacts.read_json(run / "comparisons.json")
    assert [(c["a"], c["b"]) for c in comparisons] == [("custom_cnn", "mobilenet_v2")]
    assert comparisons[0]["text"].startswith("custom_cnn vs mobilenet_v2: ")


def test_training_metrics_csv_has_a_row_per_run_model_and_epoch(image_run, sound_run):
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        metrics = pd.read_csv(artifacts.metrics_csv(artifacts_dir))
        assert list(metrics.columns) == list(artifacts.METRICS_COLUMNS)
        rows = metrics[metrics["run_id"] == run_id]
        assert sorted(zip(rows["model"], rows["epoch"])) == [("custom_cnn", 1), ("custom_cnn", 2), ("mobilenet_v2", 1), ("mobilenet_v2", 2)]
        assert (rows["epoch_seconds"] > 0).all() and (rows["learning_rate"] > 0).all()
        assert rows[["accuracy", "loss", "val_accuracy", "val_loss"]].notna().all().all()


def test_sound_run_reports_recordings_and_windows(sound_run):
    artifacts_dir, run_id, results = sound_run
    folder = _run_dir(artifacts_dir, run_id) / "models" / "custom_cnn"
    recordings = pd.read_csv(folder / "predictions_test.csv")
    windows = pd.read_csv(folder / "predictions_test_windows.csv")
    assert len(windows) >= len(recordings) and set(windows["path"]) == set(recordings["path"])
    mean_of_windows = windows.groupby("path")["prob_murmur"].mean()
    np.testing.assert_allclose(recordings.set_index("path")["prob_murmur"].loc[mean_of_windows.index], mean_of_windows, rtol=1e-5)
    report = json.loads((folder / "report.json").read_text())
    assert report["level"] == "recording" and list(report["levels"]) == ["recording", "window"]
    assert report["levels"]["recording"]["n"] == len(recordings)
    assert report["levels"]["window"]["n"] == len(windows)
    point = report["levels"]["recording"]["operating_point"]
    assert 0 <= point["threshold"] <= 1 and point["method"] == "youden"
    assert point["sensitivity"] is not None and point["specificity"] is not None
    assert report["levels"]["window"]["bootstrap"]["by_group"]  # windows resample by recording
    assert {"test_auc", "test_sensitivity", "test_specificity"} <= set(results.columns)
    preprocessing = artifacts.read_json(_run_dir(artifacts_dir, run_id) / "preprocessing.json")
    assert preprocessing["n_mels"] == 32 and preprocessing["window_seconds"] == 4.0 and preprocessing["overlap"] == 0.25


def test_a_second_run_appends_and_a_failed_run_is_marked(tmp_path, demo_folders, image_run, monkeypatch):
    import core.training.pipeline as pipeline

    artifacts_dir, first_run, _ = image_run
    before = artifacts.metrics_csv(artifacts_dir).read_text()

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-training")

    monkeypatch.setattr(pipeline, "fit_model", crash)
    with pytest.raises(RuntimeError):
        train_run(DataOptions(sources=(str(demo_folders["audiograms"]),)), TrainConfig(epochs=1, weights="none"), artifacts_dir=artifacts_dir)
    assert artifacts.metrics_csv(artifacts_dir).read_text() == before
    statuses = {p.parent.name: artifacts.read_json(p)["state"] for p in artifacts.runs_dir(artifacts_dir).glob("*/status.json")}
    assert statuses[first_run] == "complete"
    assert sorted(statuses.values()) == ["complete", "failed"]


def test_bad_options_stop_before_any_work(tmp_path, demo_folders):
    options = DataOptions(sources=(str(demo_folders["audiograms"]),))
    with pytest.raises(CoreError, match="unknown model"):
        train_run(options, TrainConfig(models=("alexnet",)), artifacts_dir=tmp_path)
    with pytest.raises(CoreError, match="--weights"):
        check_models(TrainConfig(models=("vgg16",), weights=str(tmp_path / "nope.h5")), (64, 64, 3))
    assert not (tmp_path / "runs").exists()


def test_positive_class_choice():
    assert choose_positive(["abnormal", "normal"], None) == 0
    assert choose_positive(["healthy", "pharyngitis"], None) == 1
    assert choose_positive(["a", "b"], "a") == 0
    assert choose_positive(["a", "b", "c"], None) is None
    with pytest.raises(CoreError, match="not one of"):
        choose_positive(["a", "b"], "z")
