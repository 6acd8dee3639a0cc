"""The demo's transfer model: ImageNet weights when they can be had, else random ones, and the pages say which.

The download is made to fail without touching the network: a fresh
KERAS_HOME holds no cached weights, and HTTPS goes through a proxy on a
local port nothing listens on, so the connection is refused at once.
Keras reads KERAS_HOME when it is imported, hence the child process.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages import predict
from app_predict.report import report_html
from app_train_dashboard.factory import create_app as create_dashboard
from core.config import TrainConfig
from core.data.demo import imagenet_or_random
from core.serving.service import PredictionService
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import RANDOM_FALLBACK, starting_weights
from tests.conftest import combine_runs
from tests.support.bad_inputs import good_png
from tests.support.callbacks import call, callback_functions
from tests.support.servers import ROOT, free_port

OFFLINE_ATTEMPT = """
from functools import partial
from core.config import TrainConfig
from core.data.demo import imagenet_or_random
from core.training.run import check_models
config = imagenet_or_random(TrainConfig(models=("mobilenet_v2",)), partial(check_models, input_shape=(96, 96, 3)))
print(config.weights, config.weights_fallback)
"""


def test_offline_the_demo_falls_back_to_random_weights_and_records_it(tmp_path):
    """`make run` must work offline: the failed download becomes random weights, flagged for the run's config."""
    closed = f"http://127.0.0.1:{free_port()}"
    env = {name: value for name, value in os.environ.items() if name.lower() != "no_proxy"}
    env |= {"KERAS_HOME": str(tmp_path / "keras"), "https_proxy": closed, "HTTPS_PROXY": closed}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_ATTEMPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["none", "True"]
    assert "start from random weights" in done.stderr and "could not get the ImageNet weights" in done.stderr


def test_weights_the_user_named_are_never_silently_replaced(tmp_path):
    """Only ImageNet's download falls back: a local file (even a missing one, which training then refuses) or
    'none' is kept as asked, and with no transfer model nothing is loaded at all."""

    def never(config: TrainConfig) -> None:
        pytest.fail(f"nothing should be loaded for weights {config.weights!r}")

    for weights in (str(tmp_path / "absent.h5"), "none"):
        asked = TrainConfig(models=("mobilenet_v2",), weights=weights)
        assert imagenet_or_random(asked, never) is asked
    scratch = TrainConfig(models=("custom_cnn",))
    assert imagenet_or_random(scratch, never) is scratch


@pytest.fixture(scope="module")
def fallback_root(tmp_path_factory, image_run) -> Path:
    """The tiny image run as an offline demo leaves it: random weights (as trained), recorded as a fallback."""
    root = combine_runs(tmp_path_factory.mktemp("fallback"), [image_run])
    config_file = ArtifactsLayout(root).run(image_run[1]).config
    config = json.loads(config_file.read_text())
    assert config["training"]["weights"] == "none"
    config["training"]["weights_fallback"] = True
    config_file.write_text(json.dumps(config))
    return root


def test_the_prediction_page_says_the_transfer_model_never_saw_imagenet(fallback_root, image_run):
    run_id = image_run[1]
    assert starting_weights(fallback_root, run_id, "mobilenet_v2") == RANDOM_FALLBACK
    assert starting_weights(fallback_root, run_id, "custom_cnn") == ""
    settings = Settings(artifacts_dir=fallback_root)
    app = create_app(settings, service=PredictionService(settings))
    with app.server.test_request_context("/"):
        page = json.loads(json.dumps(predict.layout().to_plotly_json(), default=_plotly))
    labels = {option["value"]: option["label"] for option in _picker_options(page)}
    assert labels[f"{run_id}/mobilenet_v2"].endswith(f" · {RANDOM_FALLBACK}")
    assert RANDOM_FALLBACK not in labels[f"{run_id}/custom_cnn"]

    upload = "data:image/png;base64," + base64.b64encode(good_png()).decode()
    callbacks = callback_functions(app)
    model = f"{run_id}/mobilenet_v2"
    inputs, results, *_ = call(
        callbacks["run_batch"], [upload], None, model, ["a.png"], None, None, triggered=ids.UPLOAD, prop="contents"
    )
    assert results[0]["model_weights"] == RANDOM_FALLBACK
    card, _ = callbacks["show_detail"]([0], results, inputs)
    assert f"Backbone {RANDOM_FALLBACK}" in json.dumps(card.to_plotly_json(), default=str)
    report = report_html(results[0], picture=None, heatmap=None, generated_at=results[0]["created_at"])
    assert f"backbone {RANDOM_FALLBACK}" in report


def _plotly(component: object) -> object:
    return component.to_plotly_json()


def _picker_options(layout: dict) -> list[dict]:
    """The model picker's options, wherever the page's layout nests it."""
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == ids.MODEL_SELECT:
                found.extend(node["props"]["options"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    return found


def test_the_comparison_table_says_it_too(fallback_root, image_run):
    run_id = image_run[1]
    callbacks = callback_functions(create_dashboard(Settings(artifacts_dir=fallback_root)))
    rows, *_ = callbacks["comparison"](run_id, ["custom_cnn", "mobilenet_v2"], None)
    assert {row["model"]: row["weights"] for row in rows} == {"custom_cnn": "", "mobilenet_v2": RANDOM_FALLBACK}
