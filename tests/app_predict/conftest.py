import pytest

from tests.conftest import combine_runs, promote_newest_best
from tests.support.servers import gunicorn


@pytest.fixture(scope="session")
def predict_root(tmp_path_factory, image_run, sound_run):
    """An ARTIFACTS_DIR with both tiny runs, the newest run's best model promoted, for the prediction app."""
    root = combine_runs(tmp_path_factory.mktemp("predict"), (image_run, sound_run))
    promote_newest_best(root)
    return root


@pytest.fixture(scope="session")
def model_keys(run_ids):
    return {kind: f"{run_id}/custom_cnn" for kind, run_id in run_ids.items()}


@pytest.fixture(scope="session")
def server(predict_root):
    """The prediction app under gunicorn on a free local port, one for the session.

    Every module's server read the same session-wide `predict_root` (its runs and its database), so one
    server serves them all: each start and graceful stop cost 10-20 s on two busy cores.
    """
    with gunicorn("app_predict.app:server", {"ARTIFACTS_DIR": str(predict_root), "MAX_AUDIO_SECONDS": "900"}) as url:
        yield url
