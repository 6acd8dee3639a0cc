"""Grouped k-fold cross-validation (`--cv K`): folds, out-of-fold predictions, the served ensemble, its readers."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from core.config import DataOptions
from core.data.splits import assign_folds, fold_split
from core.errors import InvalidInput
from core.evaluation.decision import apply_temperature
from core.evaluation.metrics import roc_auc
from core.evaluation.report import Predictions, decision_rules, evaluate_cross_fitted
from core.inputs.features import input_features
from core.inputs.preprocess import ImagePreprocessing, aggregate_windows, image_to_input, load_image, load_sound
from core.serving.baseline import BaselineModel, MeanOfEstimators, one_thread
from core.serving.litert import LiteRTModel
from core.serving.predictor import Predictor
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import best_model, servable_models
from core.store.runs import load_run


def test_folds_hold_whole_units_cover_every_item_once_and_keep_the_class_mix():
    labels = np.array([0] * 30 + [1] * 30)
    units = np.arange(60) // 3  # twenty patients of three items each
    folds = assign_folds(labels, units, k=4, seed=1)
    assert sorted(np.unique(folds)) == [0, 1, 2, 3]
    assert all(len(np.unique(folds[units == unit])) == 1 for unit in np.unique(units))
    assert all(0 < labels[folds == fold].mean() < 1 for fold in range(4))
    roles = fold_split(folds, 2, labels, units, val_fraction=0.2, seed=1)
    assert set(roles[folds == 2]) == {"test"} and set(roles[folds != 2]) == {"train", "val"}
    assert all(len(np.unique(roles[units == unit])) == 1 for unit in np.unique(units))
    assert (assign_folds(labels, units, k=4, seed=1) == folds).all()  # seeded


def test_cv_needs_enough_units_and_a_whole_number_of_at_least_two_folds():
    with pytest.raises(InvalidInput, match="use --cv 2 or fewer"):
        assign_folds([0, 1, 0, 1], [0, 0, 1, 1], k=3)
    for bad in (1, 0, 2.5, True):
        with pytest.raises(InvalidInput, match="--cv must be a whole number"):
            DataOptions(sources=("x",), cv=bad)


def test_threshold_figures_are_cross_fitted_while_the_served_rules_use_every_fold():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = np.clip(0.5 + 0.25 * (labels - 0.5) + rng.normal(0, 0.2, 300), 0.01, 0.99)
    oof, folds = Predictions(labels, np.stack([1 - scores, scores], axis=1)), np.arange(300) % 3
    report = evaluate_cross_fitted(oof, folds, class_names=["a", "b"], positive=1, n_resamples=50)
    served_temperature, served_point = decision_rules(oof, positive=1)
    assert report["temperature"] == served_temperature
    assert report["operating_point"]["threshold"] == served_point["threshold"]
    called = np.empty(300, dtype=int)
    for rule in report["cross_fitted"]["folds"]:
        held = folds == rule["fold"]
        calibrated = apply_temperature(oof.probs[held], rule["temperature"])
        called[held] = calibrated[:, 1] >= rule["threshold"]
    assert report["operating_point"]["sensitivity"] == pytest.approx(called[labels == 1].mean())
    assert report["operating_point"]["specificity"] == pytest.approx(1 - called[labels == 0].mean())
    assert len({rule["threshold"] for rule in report["cross_fitted"]["folds"]}) == 3  # each fold its own rules


def test_threshold_free_figures_rank_the_pooled_predictions_as_one_temperature_does():
    rng = np.random.default_rng(3)
    labels, folds = rng.integers(0, 2, 200), np.arange(200) % 5
    margin = 0.3 * (labels - 0.5) + rng.normal(0, 0.25, 200)
    scores = 1 / (1 + np.exp(-4 * margin * (1 + folds)))  # folds differ in confidence, so their temperatures differ
    oof = Predictions(labels, np.stack([1 - scores, scores], axis=1))
    report = evaluate_cross_fitted(oof, folds, class_names=["a", "b"], positive=1, n_resamples=50)
    assert len({round(rule["temperature"], 3) for rule in report["cross_fitted"]["folds"]}) > 1
    assert report["auc"] == pytest.approx(roc_auc(labels, oof.probs, positive=1))  # one temperature keeps the ranking


def test_the_command_line_reports_out_of_fold_figures_with_intervals(cv_sound_run):
    root, run_id, out = cv_sound_run
    assert "out-of-fold (3-fold CV) figures per recording (n=24)" in out and "cross-fitted" in out
    row = next(line for line in out.splitlines() if line.startswith("baseline"))
    assert row.count("[") == 3  # AUROC, balanced accuracy and sensitivity at 90% specificity with their intervals
    run = ArtifactsLayout(root).run(run_id)
    assert json.loads(run.config.read_text())["data"]["cv"] == 3
    report = json.loads(run.model("baseline").report.read_text())
    summary = json.loads(run.model("baseline").summary.read_text())
    assert report["cv"]["k"] == summary["cv"]["k"] == 3 and len(report["cv"]["folds"]) == 3
    assert all(fold["n_test"] > 0 and fold["auc"] is not None for fold in report["cv"]["folds"])
    headline = report["levels"]["recording"]
    assert headline["n"] == 24 and len(headline["cross_fitted"]["folds"]) == 3
    for figure in ("auc", "balanced_accuracy", "sensitivity_at_90_specificity"):
        low, high = headline[f"{figure}_ci"]
        assert low <= headline[figure] <= high


def test_every_item_is_predicted_once_by_the_fold_model_that_never_saw_it(cv_sound_run):
    root, run_id, _ = cv_sound_run
    run = ArtifactsLayout(root).run(run_id)
    split = pd.read_csv(run.split)
    assert (split["split"] == "test").all() and split.groupby("unit")["fold"].nunique().max() == 1
    for fold in range(3):
        roles = split[f"split_fold_{fold}"]
        assert set(roles[split["fold"] == fold]) == {"test"} and not (roles[split["fold"] != fold] == "test").any()
        assert split.groupby("unit")[f"split_fold_{fold}"].nunique().max() == 1
    oof = pd.read_csv(run.model("baseline").predictions("test"))
    assert sorted(oof["path"]) == sorted(split["path"]) and oof["path"].is_unique
    assert (oof["fold"].to_numpy() == split.set_index("path").loc[oof["path"], "fold"].to_numpy()).all()

    served = BaselineModel.load(run.model("baseline").estimator)
    assert isinstance(served.estimator, MeanOfEstimators) and len(served.estimator.estimators) == 3
    for row in oof.sample(3, random_state=0).itertuples():
        windows, _ = load_sound(row.path, served.params)
        with one_thread():  # as serving runs it: OpenMP threads spin for seconds on a busy machine
            every = [
                member.predict_proba(input_features(windows, served.params)) for member in served.estimator.estimators
            ]
        own = aggregate_windows(every[row.fold], served.params.aggregation)
        assert own[0] == pytest.approx(row.prob_murmur, abs=1e-5)  # its held-out fold's model, nobody else's
        assert np.allclose(served.predict(windows), np.mean(every, axis=0), atol=1e-6)  # served = mean of folds


def test_a_cross_validated_run_is_served_listed_and_shown_like_any_other(cv_sound_run, demo_folders):
    from app_train_dashboard.factory import create_app
    from tests.support.callbacks import callback_functions

    root, run_id, _ = cv_sound_run
    recording = next(demo_folders["heart_sounds"].rglob("*.wav"))
    prediction = Predictor(ArtifactsLayout(root).run(run_id).dir, "baseline").predict(recording)
    assert set(prediction.probabilities) == {"murmur", "normal"}
    assert servable_models(root, run_id) == ["baseline"] and best_model(root, run_id) == "baseline"
    assert load_run(root, run_id).usable
    callbacks = callback_functions(create_app(Settings(artifacts_dir=root)))
    curves = callbacks["learning_curves"](run_id, ["baseline"], None, "loss", [])
    assert sorted({trace.name.split(" · ")[1] for trace in curves.data}) == ["fold 0", "fold 1", "fold 2"]
    assert len(curves.data) == 6  # training and validation per fold
    assert callbacks["comparison"](run_id, ["baseline"], None)[0][0]["model"] == "baseline"
    assert callbacks["roc_and_pr"](run_id, ["baseline"], None)[0].data
    assert callbacks["calibration"](run_id, ["baseline"], None)
    assert callbacks["errors_gallery"]("baseline", None, None, run_id, ["baseline"], None)[0] == ["murmur", "normal"]
    assert callbacks["explore_threshold"]("baseline", 0.5, [0.3, 0.6], None, run_id, ["baseline"], None)
    assert "24 files" in callbacks["dataset"](run_id)[0].children


def test_the_served_litert_ensemble_is_the_mean_of_the_fold_models(cv_image_run):
    artifacts_dir, run_id, results = cv_image_run
    image = ImagePreprocessing(image_size=32)
    assert results["cv_folds"].tolist() == [2, 2, 2] and results["litert_ok"].all()  # baseline, cnn, their blend
    files = ArtifactsLayout(artifacts_dir).run(run_id).model("custom_cnn")
    oof = pd.read_csv(files.predictions("test")).sample(8, random_state=0)
    x = image_to_input(np.stack([load_image(path, image) for path in oof["path"]]))
    ensemble = keras.models.load_model(files.keras)
    members = [ensemble.get_layer(f"fold_{fold}")(x)["probabilities"].numpy() for fold in range(2)]
    own = np.stack([members[fold][i] for i, fold in enumerate(oof["fold"])])
    classes = [c for c in oof.columns if c.startswith("prob_")]
    assert np.allclose(own, oof[classes].to_numpy(), atol=1e-4)  # out-of-fold: each item's own fold model
    assert np.allclose(LiteRTModel(files.tflite).predict(x), np.mean(members, axis=0), atol=1e-4)
    report = json.loads(files.report.read_text())
    assert report["ood"].get("n_train") and report["litert_parity"]["passed"]
