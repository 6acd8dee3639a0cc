"""Blends (`core.training.blend`): each model and the baseline, raw probabilities averaged, judged like any model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.cli import _build_parser, _train_options
from core.config import TrainConfig
from core.inputs.preprocess import aggregate_windows, image_to_input
from core.store.artifacts import read_json
from core.store.layout import ArtifactsLayout


def _probs(frame: pd.DataFrame) -> np.ndarray:
    return frame[[c for c in frame.columns if c.startswith("prob_")]].to_numpy(float)


def _frames(files, part: str, *, windows: bool) -> pd.DataFrame:
    return pd.read_csv(files.predictions(part, windows=windows))


def test_a_sound_run_holds_each_blend_made_from_its_parts_written_window_predictions(sound_run):
    artifacts_dir, run_id, results = sound_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    blend, cnn, baseline = (run.model(name) for name in ("custom_cnn_blend", "custom_cnn", "baseline"))
    aggregation = read_json(run.preprocessing)["aggregation"]
    for part in ("val", "test"):
        windows = _frames(blend, part, windows=True)
        parts = [_frames(files, part, windows=True) for files in (cnn, baseline)]
        assert windows[["path", "sha256", "start_seconds"]].equals(parts[0][["path", "sha256", "start_seconds"]])
        np.testing.assert_allclose(_probs(windows), (_probs(parts[0]) + _probs(parts[1])) / 2, atol=1e-12)
        items = _frames(blend, part, windows=False)
        rows = windows.groupby("path", sort=False).indices
        expected = [aggregate_windows(_probs(windows)[rows[path]], aggregation) for path in items["path"]]
        np.testing.assert_allclose(_probs(items), np.stack(expected), atol=1e-12)
    assert json.loads(blend.blend.read_text())["parts"] == ["custom_cnn", "baseline"]
    assert blend.ood_reference.read_bytes() == cnn.ood_reference.read_bytes()
    assert not blend.history.exists() and not blend.tflite.exists() and not blend.keras.exists()
    status = read_json(run.status)
    assert status["models"] == status["models_completed"]
    assert status["models"][-2:] == ["custom_cnn_blend", "mobilenet_v2_blend"]  # last: made from the others
    row = results.set_index("model").loc["custom_cnn_blend"]
    assert row["blend_of"] == ["custom_cnn", "baseline"] and row["litert_ok"]


def test_a_blend_is_reported_compared_and_summarised_like_a_trained_model(image_run):
    artifacts_dir, run_id, results = image_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    blend, cnn, baseline = (run.model(name) for name in ("custom_cnn_blend", "custom_cnn", "baseline"))
    for part in ("val", "test"):
        items = _frames(blend, part, windows=False)
        parts = [_frames(files, part, windows=False) for files in (cnn, baseline)]
        np.testing.assert_allclose(_probs(items), (_probs(parts[0]) + _probs(parts[1])) / 2, atol=1e-12)
        assert (items["predicted"] == items[[c for c in items if c.startswith("prob_")]].idxmax(axis=1).str[5:]).all()
    report, summary = read_json(blend.report), read_json(blend.summary)
    assert report["blend"] == {"parts": ["custom_cnn", "baseline"], "weights": [0.5, 0.5]}
    assert report["versus_baseline"]["text"] and report["litert_parity"]["passed"]
    assert report["ood"] == read_json(cnn.report)["ood"]
    sizes = cnn.tflite.stat().st_size + baseline.estimator.stat().st_size
    assert summary["model_bytes"] == report["litert_bytes"] == sizes
    assert summary["best_epoch"] is None and summary["epochs_run"] == 0 and summary["parts"] == report["blend"]["parts"]
    parts = [read_json(files.summary) for files in (cnn, baseline)]
    assert summary["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in parts), abs=0.02)
    compared = {name for pair in read_json(run.comparisons) for name in (pair["a"], pair["b"])}
    assert {"custom_cnn_blend", "mobilenet_v2_blend"} <= compared
    assert results["model"].tolist()[-2:] == ["custom_cnn_blend", "mobilenet_v2_blend"]


def test_no_blend_on_the_command_line_makes_none():
    parser = _build_parser()
    args = ["train", "--data", "x", "--models", "custom_cnn,mobilenet_v2"]
    _, blended, _ = _train_options(parser.parse_args(args))
    _, plain, _ = _train_options(parser.parse_args([*args, "--no-blend"]))
    assert blended.blend_models == ("custom_cnn_blend", "mobilenet_v2_blend")
    assert plain.blend_models == () and plain.blends == {}
    assert TrainConfig(models=("baseline",)).blend_models == ()


def test_a_cross_validated_blend_averages_the_parts_out_of_fold_predictions_and_serves_their_ensembles(cv_image_run):
    from core.serving.runner import open_runner

    artifacts_dir, run_id, results = cv_image_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    blend, cnn, baseline = (run.model(name) for name in ("custom_cnn_blend", "custom_cnn", "baseline"))
    oof = pd.read_csv(blend.predictions("test"))
    parts = [pd.read_csv(files.predictions("test")) for files in (cnn, baseline)]
    assert oof["fold"].equals(parts[0]["fold"]) and not blend.predictions("val").exists()
    np.testing.assert_allclose(_probs(oof), (_probs(parts[0]) + _probs(parts[1])) / 2, atol=1e-12)
    report, summary = read_json(blend.report), read_json(blend.summary)
    assert report["cv"]["k"] == summary["cv"]["k"] == 2 and report["versus_baseline"]["text"]
    for fold in report["cv"]["folds"]:
        held = oof[oof["fold"] == fold["fold"]]
        assert fold["n_test"] == len(held) and fold["best_epoch"] is None
    assert report["litert_parity"]["passed"] and results.set_index("model").loc["custom_cnn_blend", "cv_folds"] == 2
    checks = [read_json(files.report)["litert_parity"] for files in (cnn, baseline)]
    assert report["litert_parity"]["max_abs_diff"] >= sum(c["max_abs_diff"] for c in checks) / 2  # its parts' own
    x = image_to_input(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    served = [open_runner(files).predict(x) for files in (blend, cnn, baseline)]
    np.testing.assert_allclose(served[0], (served[1] + served[2]) / 2, atol=1e-6)  # the fold ensembles, averaged


def test_with_max_aggregation_a_recordings_blend_is_the_max_of_its_averaged_windows_not_the_mean_of_maxima(sound_run):
    from core.training.blend import aggregated, mean_frame

    artifacts_dir, run_id, _ = sound_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    classes = read_json(run.classes)["class_names"]
    parts = [run.model(name) for name in ("custom_cnn", "baseline")]
    windows = mean_frame([_frames(files, "test", windows=True) for files in parts], classes)
    items = _frames(parts[0], "test", windows=False)
    blend = _probs(aggregated(items, windows, classes, "max"))
    maxima = [_probs(aggregated(items, _frames(files, "test", windows=True), classes, "max")) for files in parts]
    for row, path in enumerate(items["path"]):
        own = _probs(windows[windows["path"] == path])
        np.testing.assert_allclose(blend[row], aggregate_windows(own, "max"))
    assert not np.allclose(blend, (maxima[0] + maxima[1]) / 2)  # what averaging the parts' recordings would give
    shuffled = _frames(parts[1], "test", windows=True).iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="same rows in the same order"):
        mean_frame([_frames(parts[0], "test", windows=True), shuffled], classes)
