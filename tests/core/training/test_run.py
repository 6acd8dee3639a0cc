"""End to end: train custom_cnn and a transfer model (weights=None) on generated data, check the artifacts."""

import itertools
import json
import shutil
import wave
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.config import DataOptions, TrainConfig
from core.errors import CoreError, InvalidInput
from core.inputs.previews import PREVIEW_SIDE
from core.store import artifacts
from core.store.layout import ArtifactsLayout, RunLayout
from core.store.run_writer import METRICS_COLUMNS
from core.training.run import check_models, choose_positive, train_run

RUN_FILES = ("status", "config", "audit", "split", "classes", "preprocessing", "versions")


def _run_dir(artifacts_dir, run_id) -> RunLayout:
    return ArtifactsLayout(artifacts_dir).run(run_id)


def test_image_run_writes_every_artifact(image_run):
    artifacts_dir, run_id, results = image_run
    layout = _run_dir(artifacts_dir, run_id)
    run = layout.dir
    for name in RUN_FILES:
        assert getattr(layout, name).is_file(), name
    status = artifacts.read_json(layout.status)
    models = ["baseline", "custom_cnn", "mobilenet_v2", "custom_cnn_blend", "mobilenet_v2_blend"]  # blends last
    assert status["state"] == "complete" and status["models_completed"] == models
    assert status["modality"] == "image" and status["dataset"] == "synthetic-audiograms"
    assert artifacts.read_json(layout.classes)["class_names"] == ["high_frequency_loss", "noise_notch", "normal"]
    assert artifacts.read_json(layout.preprocessing) == {"image_size": 64, "modality": "image"}
    assert "keras" in artifacts.read_json(layout.versions)
    assert artifacts.read_json(layout.config)["training"]["weights"] == "none"

    split = pd.read_csv(layout.split)
    assert len(split) == 36 and set(split["split"]) == {"train", "val", "test"}
    assert not list(run.parent.rglob("*.tmp*"))

    for model in ("custom_cnn", "mobilenet_v2"):
        files = layout.model(model)
        loaded = keras.models.load_model(files.keras)
        assert loaded.output_shape == (None, 3)
        history = pd.read_csv(files.history)
        assert history["epoch"].tolist() == [1, 2]
        test = pd.read_csv(files.predictions("test"))
        assert sorted(test["path"]) == sorted(split.loc[split["split"] == "test", "path"])
        probs = test[[f"prob_{c}" for c in ("high_frequency_loss", "noise_notch", "normal")]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
        assert {"group", "label", "predicted"} <= set(test.columns)
        summary = json.loads(files.summary.read_text())
        assert summary["epochs_run"] == 2 and summary["params"] > 0 and summary["model_bytes"] > 0
        report = json.loads(files.report.read_text())
        assert report["level"] == "item" and list(report["levels"]) == ["item"]
        item = report["levels"]["item"]
        assert item["n"] == len(test)
        # argmax survives calibration
        assert item["accuracy"] == pytest.approx((test["label"] == test["predicted"]).mean())
        assert item["operating_point"]["threshold"] is None  # three classes: no binary threshold
        assert np.array(item["confusion_matrix"]).sum() == len(test)
        assert report["litert_parity"]["passed"] and report["litert_parity"]["max_abs_diff"] <= 1e-4
        assert files.tflite.is_file() and report["litert_latency_ms"] > 0
    assert list(results["model"]) == models
    comparisons = artifacts.read_json(layout.comparisons)
    assert [(c["a"], c["b"]) for c in comparisons] == list(itertools.combinations(sorted(models), 2))
    pair = next(c for c in comparisons if (c["a"], c["b"]) == ("custom_cnn", "mobilenet_v2"))
    assert pair["text"].startswith("custom_cnn vs mobilenet_v2: ")


def test_training_metrics_csv_has_a_row_per_run_model_and_epoch(image_run, sound_run):
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        metrics = pd.read_csv(ArtifactsLayout(artifacts_dir).metrics_csv)
        assert list(metrics.columns) == list(METRICS_COLUMNS)
        rows = metrics[metrics["run_id"] == run_id]
        cnn_epochs = sorted(zip(rows["model"], rows["epoch"], strict=True))[-4:]
        assert cnn_epochs == [("custom_cnn", 1), ("custom_cnn", 2), ("mobilenet_v2", 1), ("mobilenet_v2", 2)]
        boosting = rows.loc[rows["model"] == "baseline", "epoch"].tolist()  # one row per boosting iteration
        assert boosting == list(range(1, len(boosting) + 1)) and boosting
        assert (rows["epoch_seconds"] > 0).all() and (rows["learning_rate"] > 0).all()
        assert rows[["accuracy", "loss", "val_accuracy", "val_loss"]].notna().all().all()


def test_sound_run_reports_recordings_and_windows(sound_run):
    artifacts_dir, run_id, results = sound_run
    files = _run_dir(artifacts_dir, run_id).model("custom_cnn")
    recordings = pd.read_csv(files.predictions("test"))
    windows = pd.read_csv(files.predictions("test", windows=True))
    assert len(windows) >= len(recordings) and set(windows["path"]) == set(recordings["path"])
    mean_of_windows = windows.groupby("path")["prob_murmur"].mean()
    by_recording = recordings.set_index("path")["prob_murmur"].loc[mean_of_windows.index]
    np.testing.assert_allclose(by_recording, mean_of_windows, rtol=1e-5)
    report = json.loads(files.report.read_text())
    assert report["level"] == "recording" and list(report["levels"]) == ["recording", "window"]
    assert report["levels"]["recording"]["n"] == len(recordings)
    assert report["levels"]["window"]["n"] == len(windows)
    point = report["levels"]["recording"]["operating_point"]
    assert 0 <= point["threshold"] <= 1 and point["method"] == "youden"
    assert point["sensitivity"] is not None and point["specificity"] is not None
    assert report["levels"]["window"]["bootstrap"]["by_group"]  # windows resample by recording
    assert {"test_auc", "test_sensitivity", "test_specificity"} <= set(results.columns)
    preprocessing = artifacts.read_json(_run_dir(artifacts_dir, run_id).preprocessing)
    assert preprocessing["n_mels"] == 32 and preprocessing["window_seconds"] == 4.0 and preprocessing["overlap"] == 0.25


def test_a_second_run_appends_and_a_failed_run_is_marked(tmp_path, demo_folders, image_run, monkeypatch):
    import core.training.steps as steps_module

    artifacts_dir, first_run, _ = image_run
    metrics_csv = ArtifactsLayout(artifacts_dir).metrics_csv
    before = metrics_csv.read_text()

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-training")

    monkeypatch.setattr(steps_module, "fit_model", crash)
    with pytest.raises(RuntimeError):
        options = DataOptions(sources=(str(demo_folders["audiograms"]),))
        train_run(options, TrainConfig(epochs=1, weights="none", bootstrap_resamples=50), artifacts_dir=artifacts_dir)
    assert metrics_csv.read_text().startswith(before)  # the baseline's rows, trained before the crash, were added
    runs = [ArtifactsLayout(artifacts_dir).run(p.name) for p in ArtifactsLayout(artifacts_dir).runs.iterdir()]
    statuses = {run.run_id: artifacts.read_json(run.status)["state"] for run in runs}
    assert statuses[first_run] == "complete"
    assert sorted(statuses.values()) == ["complete", "failed"]


def test_bad_options_stop_before_any_work(tmp_path, demo_folders):
    options = DataOptions(sources=(str(demo_folders["audiograms"]),))
    with pytest.raises(InvalidInput, match="unknown model"):
        train_run(options, TrainConfig(models=("alexnet",)), artifacts_dir=tmp_path)
    with pytest.raises(CoreError, match="--weights"):
        check_models(TrainConfig(models=("vgg16",), weights=str(tmp_path / "nope.h5")), (64, 64, 3))
    with pytest.raises(InvalidInput, match="--positive-class"):
        unknown_positive = DataOptions(sources=options.sources, positive_class="sick")
        train_run(unknown_positive, TrainConfig(weights="none"), artifacts_dir=tmp_path)
    assert not ArtifactsLayout(tmp_path).runs.exists()


def test_positive_class_choice():
    assert choose_positive(["abnormal", "normal"], None) == 0
    assert choose_positive(["healthy", "pharyngitis"], None) == 1
    assert choose_positive(["a", "b"], "a") == 0
    assert choose_positive(["a", "b", "c"], None) is None
    with pytest.raises(CoreError, match="not one of"):
        choose_positive(["a", "b"], "z")


def _predictions_match_the_split(files, split: pd.DataFrame, *, windows: bool) -> None:
    digests = dict(zip(split["path"], split["sha256"], strict=True))
    for part in ("val", "test"):
        frame = pd.read_csv(files.predictions(part, windows=windows))
        assert frame["sha256"].tolist() == frame["path"].map(digests).tolist()
        assert frame["sha256"].str.fullmatch("[0-9a-f]{64}").all()


def test_image_run_stores_a_thumbnail_of_every_test_item_and_its_hash_in_the_predictions(image_run):
    artifacts_dir, run_id, _ = image_run
    layout = _run_dir(artifacts_dir, run_id)
    split = pd.read_csv(layout.split)
    test_digests = set(split.loc[split["split"] == "test", "sha256"])
    assert {path.name for path in layout.previews.iterdir()} == {layout.preview(d, ".png").name for d in test_digests}
    for digest in test_digests:
        with Image.open(layout.preview(digest, ".png")) as picture:
            assert picture.format == "PNG" and picture.size == (PREVIEW_SIDE, PREVIEW_SIDE)  # 512 px charts, shrunk
    for model in ("custom_cnn", "mobilenet_v2"):
        _predictions_match_the_split(layout.model(model), split, windows=False)


def test_sound_run_stores_a_spectrogram_and_a_playable_recording_of_every_test_item(sound_run):
    artifacts_dir, run_id, _ = sound_run
    layout = _run_dir(artifacts_dir, run_id)
    split = pd.read_csv(layout.split)
    for path, digest in split.loc[split["split"] == "test", ["path", "sha256"]].itertuples(index=False):
        with Image.open(layout.preview(digest, ".png")) as picture:
            assert picture.format == "PNG" and picture.size == (PREVIEW_SIDE, PREVIEW_SIDE // 2)
        with wave.open(str(path)) as original, wave.open(str(layout.preview(digest, ".wav"))) as playable:
            assert original.getframerate() == 2000  # below what Chromium plays, so resampled
            assert (playable.getnchannels(), playable.getsampwidth(), playable.getframerate()) == (1, 2, 8000)
            assert playable.getnframes() == pytest.approx(4 * original.getnframes(), abs=4)
    for model in ("custom_cnn", "mobilenet_v2"):
        _predictions_match_the_split(layout.model(model), split, windows=False)
        _predictions_match_the_split(layout.model(model), split, windows=True)


def test_previews_outlive_the_dataset_folder(tmp_path, demo_folders):
    from core.inputs.preprocess import SoundPreprocessing

    data = shutil.copytree(demo_folders["heart_sounds"], tmp_path / "recordings")
    sound = SoundPreprocessing(sample_rate=2000, n_mels=32, n_fft=256, hop_length=128, window_seconds=4.0)
    config = TrainConfig(models=("baseline",), bootstrap_resamples=50)  # previews are the run's, whatever its models
    run_id, _ = train_run(DataOptions(sources=(str(data),)), config, artifacts_dir=tmp_path / "artifacts", sound=sound)
    shutil.rmtree(data)

    layout = _run_dir(tmp_path / "artifacts", run_id)
    test = pd.read_csv(layout.model("baseline").predictions("test"))
    assert len(test) > 0 and not any(Path(path).exists() for path in test["path"])
    for digest in test["sha256"]:
        with Image.open(layout.preview(digest, ".png")) as picture:
            picture.load()
        with wave.open(str(layout.preview(digest, ".wav"))) as playable:
            assert playable.getnframes() > 0
