"""Shared fixtures: small generated datasets and one tiny trained run per modality.

Nothing here reads ../shared: a user's clone does not have it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.demo import generate_demo_data

TINY_IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def demo_folders(tmp_path_factory) -> dict[str, Path]:
    """Synthetic audiograms (3 classes) and heart sounds (2 classes), 12 files per class."""
    return generate_demo_data(tmp_path_factory.mktemp("demo"), per_class=12, seed=7)


def _train(tmp_path_factory, source: Path, **overrides):
    from core.config import MIN_BOOTSTRAP_RESAMPLES, DataOptions, TrainConfig
    from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing
    from core.training.run import train_run

    artifacts_dir = tmp_path_factory.mktemp("artifacts")
    config = TrainConfig(
        models=("custom_cnn", "mobilenet_v2"),
        epochs=2,
        batch_size=16,
        weights="none",
        cache_views=2,
        # Intervals of a few test items, checked for consistency, never for a value: the fewest resamples the
        # product accepts. The bootstraps (intervals, and the paired comparisons: 10 pairs with the blends)
        # were over half of each tiny run's training time at 200 resamples.
        bootstrap_resamples=MIN_BOOTSTRAP_RESAMPLES,
        **overrides,
    )
    sound = SoundPreprocessing(sample_rate=2000, n_mels=32, n_fft=256, hop_length=128, window_seconds=4.0)
    run_id, results = train_run(
        DataOptions(sources=(str(source),)),
        config,
        artifacts_dir=artifacts_dir,
        image=ImagePreprocessing(image_size=TINY_IMAGE_SIZE),
        sound=sound,
    )
    return artifacts_dir, run_id, results


@pytest.fixture(scope="session")
def image_run(tmp_path_factory, demo_folders):
    """(artifacts_dir, run_id, results) of custom_cnn + mobilenet_v2 on the audiograms, 2 epochs."""
    return _train(tmp_path_factory, demo_folders["audiograms"], flip="none")


@pytest.fixture(scope="session")
def sound_run(tmp_path_factory, demo_folders):
    """(artifacts_dir, run_id, results) of custom_cnn + mobilenet_v2 on the heart sounds, 2 epochs."""
    return _train(tmp_path_factory, demo_folders["heart_sounds"])


@pytest.fixture(scope="session")
def cv_sound_run(tmp_path_factory, demo_folders):
    """(artifacts_dir, run_id, stdout) of `python -m core train --cv 3 --models baseline` on the heart sounds."""
    import contextlib
    import io

    from core.cli import main
    from core.settings import Settings

    root = tmp_path_factory.mktemp("cv_sounds")
    argv = ["train", "--data", str(demo_folders["heart_sounds"]), "--models", "baseline", "--cv", "3"]
    sound = ["--sample-rate", "2000", "--n-mels", "32", "--n-fft", "256", "--hop-length", "128"]
    argv += [*sound, "--window-seconds", "4", "--bootstrap-resamples", "100"]
    settings = Settings(artifacts_dir=root, input_cache_dir=tmp_path_factory.mktemp("cv_input_cache"))  # not ./
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv, settings) == 0
    run_id = next((root / "runs").iterdir()).name
    return root, run_id, out.getvalue()


@pytest.fixture(scope="session")
def cv_image_run(tmp_path_factory, demo_folders):
    """(artifacts_dir, run_id, results) of custom_cnn (with its blend) under `--cv 2` on the audiograms, 32 px."""
    from core.config import DataOptions, TrainConfig
    from core.inputs.preprocess import ImagePreprocessing
    from core.training.run import train_run

    artifacts_dir = tmp_path_factory.mktemp("cv_images")
    config = TrainConfig(models=("custom_cnn",), epochs=1, batch_size=16, weights="none", bootstrap_resamples=50)
    data = DataOptions(sources=(str(demo_folders["audiograms"]),), cv=2)
    run_id, results = train_run(data, config, artifacts_dir=artifacts_dir, image=ImagePreprocessing(image_size=32))
    return artifacts_dir, run_id, results


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def combine_runs(root: Path, runs) -> Path:
    """Copy trained runs, and their rows of training_metrics.csv, into one ARTIFACTS_DIR."""
    import shutil

    from core.store.layout import ArtifactsLayout

    lines, target = [], ArtifactsLayout(root)
    for artifacts_dir, run_id, _ in runs:
        source = ArtifactsLayout(artifacts_dir)
        shutil.copytree(source.run(run_id).dir, target.run(run_id).dir)
        text = source.metrics_csv.read_text().splitlines()
        lines = lines or text[:1]
        lines += [line for line in text[1:] if line.startswith(run_id)]
    target.metrics_csv.write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def run_ids(image_run, sound_run):
    return {"image": image_run[1], "sound": sound_run[1]}


def promote_newest_best(root: Path) -> dict:
    """Promote what used to be served by default: the newest complete run's best model by validation AUROC.

    Tiny two-epoch runs may fail the guardrails, so the promotion is forced
    (the fixture is not judging the model).
    """
    from core.settings import Settings
    from core.store.audit_log import AuditLog
    from core.store.registry import best_model, list_runs, promote
    from core.store.serving_state import ServingState

    newest = next(run["run_id"] for run in list_runs(root) if run.get("state") == "complete")
    state = ServingState(AuditLog(Settings(artifacts_dir=root).audit_database_url).engine)
    return promote(root, state, newest, best_model(root, newest), reason="test fixture", user="tests", force=True)
