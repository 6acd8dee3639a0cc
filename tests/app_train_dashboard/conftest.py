import shutil

import pytest

from core import artifacts


@pytest.fixture(scope="session")
def dashboard_root(tmp_path_factory, image_run, sound_run):
    """One ARTIFACTS_DIR holding both tiny runs, their metrics rows, and one damaged run."""
    root = tmp_path_factory.mktemp("dashboard")
    lines = []
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        shutil.copytree(artifacts.runs_dir(artifacts_dir) / run_id, artifacts.runs_dir(root) / run_id)
        text = artifacts.metrics_csv(artifacts_dir).read_text().splitlines()
        lines = lines or text[:1]
        lines += [line for line in text[1:] if line.startswith(run_id)]
    artifacts.metrics_csv(root).write_text("\n".join(lines) + "\n")
    damaged = artifacts.runs_dir(root) / "20990101-000000-killed-run-0000"
    damaged.mkdir()
    (damaged / "status.json").write_text('{"state": "running", "dataset": "killed", "models_completed": []}')
    return root


@pytest.fixture(scope="session")
def run_ids(image_run, sound_run):
    return {"image": image_run[1], "sound": sound_run[1]}
