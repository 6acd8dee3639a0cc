"""Cross-validation (`--cv K`) follow-ups: live training rows carry their fold, previews are bounded to what the
dashboard can show, and too many folds for a class is refused in words before training.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app_train_dashboard import data, figures, tables
from app_train_dashboard.tabs.curves import with_folds
from core.cli import main
from core.data.splits import assign_folds
from core.errors import InvalidInput
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.run_writer import METRICS_COLUMNS, RunWriter
from core.store.runs import ModelResult, Run
from core.training.steps import CLASS_SAMPLE, GALLERY_CARDS, shown_items


def test_every_live_row_of_a_cross_validated_model_names_its_fold_as_the_kept_history_does(cv_sound_run):
    root, run_id, _ = cv_sound_run
    metrics = pd.read_csv(ArtifactsLayout(root).metrics_csv)
    live = metrics[(metrics["run_id"] == run_id) & (metrics["model"] == "baseline")].reset_index(drop=True)
    kept = pd.read_csv(ArtifactsLayout(root).run(run_id).model("baseline").history)
    assert live["fold"].notna().all() and sorted(live["fold"].unique()) == [0, 1, 2]
    assert live["fold"].tolist() == kept["fold"].tolist() and live["epoch"].tolist() == kept["epoch"].tolist()
    for column in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert np.allclose(live[column], kept[column], equal_nan=True)


def test_a_single_split_writes_rows_without_a_fold_and_an_older_metrics_file_gains_the_column(tmp_path):
    path = ArtifactsLayout(tmp_path).metrics_csv
    old_header = [column for column in METRICS_COLUMNS if column != "fold"]
    path.write_text(",".join(old_header) + "\nold-run,cnn,1,0.5,0.7,0.5,0.7,0.001,1.0,train\n")
    writer = RunWriter(tmp_path, "new-run")
    writer.epoch_writer("cnn")({"epoch": 1, "loss": 0.6})
    writer.epoch_writer("baseline", fold=2)({"epoch": 1, "loss": 0.4})
    metrics = pd.read_csv(path)
    assert list(metrics.columns) == list(METRICS_COLUMNS)
    assert metrics["run_id"].tolist() == ["old-run", "new-run", "new-run"]
    assert metrics["fold"].isna().tolist() == [True, True, False] and metrics["fold"].iloc[2] == 2
    assert metrics["loss"].tolist() == [0.7, 0.6, 0.4]


def _traces(history: pd.DataFrame, best: dict, chosen: list) -> list[tuple]:
    curves, kept = with_folds(history, best, chosen)
    figure = figures.fig_learning_curves(curves, best_epochs=kept)
    return [(trace.name, tuple(trace.x), tuple(np.round(trace.y, 9))) for trace in figure.data]


def test_the_curves_tab_draws_the_live_rows_as_it_draws_the_kept_history(cv_sound_run):
    root, run_id, _ = cv_sound_run
    chosen = data.selected(root, run_id, ["baseline"])
    history, best = data.learning_history(root, chosen)
    from_live = _traces(history, best, chosen)
    assert sorted({name.split(" · ")[1] for name, _, _ in from_live}) == ["fold 0", "fold 1", "fold 2"]
    while_training = [replace(chosen[0], model=replace(chosen[0].model, history=None))]  # no history.csv yet
    assert _traces(history, best, while_training) == from_live
    older_run = history.drop(columns="fold")  # trained before the rows carried their fold: read from history.csv
    assert _traces(older_run, best, chosen) == from_live


def _model(frame: pd.DataFrame, *, temperature: float, threshold: float | None) -> ModelResult:
    headline = {"temperature": temperature, "operating_point": {"threshold": threshold}}
    return ModelResult("m", report={"level": "item", "levels": {"item": headline}}, test=frame)


def _predictions(class_names: list[str], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(class_names), n)
    probs = rng.dirichlet(np.ones(len(class_names)), n)
    frame = pd.DataFrame({"path": [f"f{i}.png" for i in range(n)], "sha256": [f"{i:064x}" for i in range(n)]})
    frame["label_index"] = labels
    for index, name in enumerate(class_names):
        frame[f"prob_{name}"] = probs[:, index]
    return frame


@pytest.mark.parametrize(
    ("class_names", "positive", "threshold"), [(["a", "b", "c"], None, None), (["normal", "murmur"], "murmur", 0.3)]
)
def test_the_previews_kept_cover_every_view_of_the_errors_gallery_and_are_bounded(
    tmp_path, class_names, positive, threshold
):
    frame = _predictions(class_names, 600, seed=len(class_names))
    run = Run("r", tmp_path, {}, class_names=class_names, positive_class=positive)
    model = _model(frame, temperature=1.7, threshold=threshold)
    index = None if positive is None else class_names.index(positive)
    kept = set(shown_items(frame, model.headline, class_names, index)["sha256"])
    k = len(class_names)
    assert len(kept) <= GALLERY_CARDS * k * (k - 1) + CLASS_SAMPLE * k < len(frame)
    views = [None, *class_names]
    for true in views:
        for predicted in views:
            shown = tables.worst_errors(run, model, true=true, predicted=predicted)
            assert set(shown["sha256"]) <= kept, (true, predicted)


def test_a_cross_validated_run_stores_previews_of_what_the_dashboard_can_show_only(cv_sound_run):
    root, run_id, _ = cv_sound_run
    layout = ArtifactsLayout(root).run(run_id)
    files = layout.model("baseline")
    oof = pd.read_csv(files.predictions("test"))
    report = json.loads(files.report.read_text())
    classes = json.loads(layout.classes.read_text())
    positive = classes["class_names"].index(classes["positive_class"])
    expected = set(shown_items(oof, report["levels"][report["level"]], classes["class_names"], positive)["sha256"])
    stored = {path.name for path in layout.previews.iterdir()}
    assert stored == {f"{digest}{suffix}" for digest in expected for suffix in (".png", ".wav")}
    assert len(expected) < len(oof)  # not every item: 24 recordings, at most 4 right ones per class kept
    run = data.load_run(root, run_id)
    for true in (None, *run.class_names):
        for row in tables.worst_errors(run, run.models["baseline"], true=true).itertuples():
            assert data.picture_uri(run, row.sha256) and data.recording_uri(run, row.sha256)


def test_more_folds_than_a_class_has_groups_is_refused_naming_the_class_and_the_cv_to_use():
    labels = ["normal"] * 30 + ["murmur"] * 9
    patients = list(range(30)) + [30 + i // 3 for i in range(9)]  # three murmur patients, three recordings each
    message = "class 'murmur' has 3 groups .*--cv 5 needs at least 5 per class.*use --cv 3 or fewer"
    with pytest.raises(InvalidInput, match=message):
        assign_folds(labels, patients, k=5)
    assert sorted(set(assign_folds(labels, patients, k=3)[np.array(labels) == "murmur"])) == [0, 1, 2]
    with pytest.raises(InvalidInput, match="class 'murmur' has 1 group .*add data of that class, or train without"):
        assign_folds(["normal"] * 6 + ["murmur"] * 2, [0, 1, 2, 3, 4, 5, 6, 6], k=2)


def test_a_fold_left_without_a_class_by_groups_shared_between_classes_is_refused():
    labels = [1, 2, 2, 0, 2, 1, 2, 1, 2, 0]
    units = [1, 4, 4, 0, 0, 0, 4, 1, 2, 4]  # every group holds two classes: scikit-learn cannot spread class 1
    with pytest.raises(InvalidInput, match="fold 1 of --cv 2 would test no item of class '1'.*add data"):
        assign_folds(labels, units, k=2, seed=22)


@pytest.mark.parametrize(
    ("cv", "expected"),
    [
        ("13", "has 12 groups .*--cv 13 needs at least 13 per class.*use --cv 12 or fewer"),
        ("1", "--cv must be a whole number at least 2, got 1"),
        ("-2", "--cv must be a whole number at least 2, got -2"),
    ],
)
def test_the_command_line_refuses_impossible_folds_in_one_line_before_training(tmp_path, demo_folders, cv, expected):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["train", "--data", str(demo_folders["heart_sounds"]), "--cv", cv], Settings(artifacts_dir=tmp_path)
        )
    assert code == 2 and len(err.getvalue().strip().splitlines()) == 1
    assert re.search(expected, err.getvalue()) and "Traceback" not in err.getvalue()
    assert not ArtifactsLayout(tmp_path).runs.exists()  # nothing trained, no run folder
