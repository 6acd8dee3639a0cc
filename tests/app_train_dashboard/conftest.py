import pytest

from core.store import artifacts
from tests.conftest import combine_runs


@pytest.fixture(scope="session")
def dashboard_root(tmp_path_factory, image_run, sound_run):
    """One ARTIFACTS_DIR holding both tiny runs, their metrics rows, and one damaged run."""
    root = combine_runs(tmp_path_factory.mktemp("dashboard"), (image_run, sound_run))
    damaged = artifacts.runs_dir(root) / "20990101-000000-killed-run-0000"
    damaged.mkdir()
    (damaged / "status.json").write_text('{"state": "running", "dataset": "killed", "models_completed": []}')
    return root
