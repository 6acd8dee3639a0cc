"""One ARTIFACTS_DIR for the dashboard's tests: both tiny runs, their metrics rows, one damaged run, and previews."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app_train_dashboard import tables
from core.evaluation.decision import predicted_classes
from core.inputs.preprocess import preprocessing_from_dict, read_audio, resample
from core.inputs.previews import previews
from core.store import artifacts
from core.store.layout import ArtifactsLayout, RunLayout
from core.store.runs import load_run
from tests.conftest import combine_runs, promote_newest_best

DAMAGED_RUN = "20990101-000000-killed-run-0000"


def store_previews(run: RunLayout) -> None:
    """What training stores, where it did not yet: a `sha256` column in each predictions file, test item previews.

    Previews are built with `core.inputs.previews`, as training builds them;
    whatever training already stored is left as it is.
    """
    split = pd.read_csv(run.split)
    digests = dict(zip(split["path"].astype(str), split["sha256"], strict=True))
    for model in sorted(run.models.iterdir()):
        files = run.model(model.name)
        for path in (files.predictions(part, windows=windows) for part in ("test", "val") for windows in (False, True)):
            frame = pd.read_csv(path) if path.exists() else None
            if frame is not None and "sha256" not in frame:
                artifacts.write_csv(path, frame.assign(sha256=frame["path"].astype(str).map(digests)))
    params = preprocessing_from_dict(json.loads(run.preprocessing.read_text()))
    run.previews.mkdir(exist_ok=True)
    for path, digest in split.loc[split["split"] == "test", ["path", "sha256"]].itertuples(index=False):
        if not run.preview(digest, ".png").exists():
            for suffix, data in previews(Path(path), params).items():
                artifacts.write_bytes(run.preview(digest, suffix), data)


@pytest.fixture(scope="session")
def dashboard_root(tmp_path_factory, image_run, sound_run) -> Path:
    """ARTIFACTS_DIR: both tiny runs (with their previews), their metrics rows, one damaged run, and a champion."""
    root = combine_runs(tmp_path_factory.mktemp("dashboard"), (image_run, sound_run))
    layout = ArtifactsLayout(root)
    for _, run_id, _ in (image_run, sound_run):
        store_previews(layout.run(run_id))
    damaged = layout.run(DAMAGED_RUN)
    damaged.dir.mkdir()
    damaged.status.write_text('{"state": "running", "dataset": "killed", "models_completed": []}')
    promote_newest_best(root)
    return root


@pytest.fixture
def copied_root(dashboard_root, tmp_path) -> Path:
    """A private copy of `dashboard_root`, for tests that change what a run holds or where its data was."""
    return Path(shutil.copytree(dashboard_root, tmp_path / "artifacts"))


def misclassify_every_test_item(root: Path, run_id: str, model: str, **columns) -> Path:
    """Relabel each test item with a class the dashboard does not call (every item is an error); set `columns`."""
    run = load_run(root, run_id)
    result = run.models[model]
    _, probs = tables.calibrated_test(run, result)
    positive = run.class_names.index(run.positive_class) if run.is_binary else None
    threshold = result.headline.get("operating_point", {}).get("threshold")
    called = predicted_classes(probs, positive=positive, threshold=threshold)
    path = ArtifactsLayout(root).run(run_id).model(model).predictions("test")
    artifacts.write_csv(path, result.test.assign(label_index=(called + 1) % len(run.class_names), **columns))
    return path


@pytest.fixture
def moved_data_root(copied_root, run_ids) -> tuple[Path, RunLayout]:
    """ARTIFACTS_DIR and sound run whose dataset has moved away, custom_cnn wrong on every test item."""
    run = ArtifactsLayout(copied_root).run(run_ids["sound"])
    paths = pd.read_csv(run.model("custom_cnn").predictions("test"))["path"]
    misclassify_every_test_item(
        copied_root, run.run_id, "custom_cnn", path="/data-that-moved/" + paths.map(lambda p: Path(p).name)
    )
    return copied_root, run


@pytest.fixture
def previewless_root(copied_root, run_ids) -> tuple[Path, RunLayout]:
    """ARTIFACTS_DIR and image run as trained before previews were stored, custom_cnn wrong on every test item."""
    run = ArtifactsLayout(copied_root).run(run_ids["image"])
    path = misclassify_every_test_item(copied_root, run.run_id, "custom_cnn")
    artifacts.write_csv(path, pd.read_csv(path).drop(columns="sha256"))
    shutil.rmtree(run.previews)
    return copied_root, run


def store_recordings_at(run: RunLayout, rate: int) -> None:
    """Rewrite the stored recordings at `rate` Hz, as runs trained before previews were made playable held them."""
    for stored in run.previews.glob("*.wav"):
        signal, own_rate = read_audio(stored)
        with wave.open(str(stored), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((np.clip(resample(signal, own_rate, rate), -1, 1) * 32767).astype("<i2").tobytes())


BLEND = "custom_cnn_blend"  # made by training from custom_cnn and the baseline (`core.training.blend`)
BLEND_NOTE = f"{BLEND} averages custom_cnn and baseline: it has no learning curve of its own."


@pytest.fixture
def blend_root(copied_root, run_ids) -> tuple[Path, RunLayout]:
    """ARTIFACTS_DIR and sound run holding the blend of custom_cnn and the baseline that training made."""
    return copied_root, ArtifactsLayout(copied_root).run(run_ids["sound"])
