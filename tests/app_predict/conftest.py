import pytest

from tests.conftest import combine_runs
from tests.support.servers import gunicorn


@pytest.fixture(scope="session")
def predict_root(tmp_path_factory, image_run, sound_run):
    """An ARTIFACTS_DIR with both tiny runs, for the prediction app."""
    return combine_runs(tmp_path_factory.mktemp("predict"), (image_run, sound_run))


@pytest.fixture(scope="session")
def model_keys(run_ids):
    return {kind: f"{run_id}/custom_cnn" for kind, run_id in run_ids.items()}


@pytest.fixture(scope="module")
def server(predict_root):
    """The prediction app under gunicorn on a free local port."""
    with gunicorn("app_predict.app:server", {"ARTIFACTS_DIR": str(predict_root), "MAX_AUDIO_SECONDS": "900"}) as url:
        yield url
