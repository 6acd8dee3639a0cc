"""A prediction page left open follows the champion in force, as every worker does: it never pins the old one."""

import base64

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages import predict as predict_page
from core.serving.service import PredictionService
from core.settings import Settings
from core.store.examples import export_examples
from core.store.registry import promote
from tests.conftest import combine_runs
from tests.support.bad_inputs import good_png
from tests.support.callbacks import call, callback_functions


def test_a_page_opened_before_a_promotion_predicts_with_the_new_champion(tmp_path, image_run):
    root, run_id = combine_runs(tmp_path, (image_run,)), image_run[1]
    export_examples(root, run_id, per_class=1)
    settings = Settings(artifacts_dir=root)
    service = PredictionService(settings)
    promote(root, service.state, run_id, "custom_cnn", reason="first", user=None, force=True)
    picker = predict_page._model_picker(service.models(), root)  # the page as it was opened
    assert picker.value == predict_page.CHAMPION and "custom_cnn" in picker.options[0]["label"]
    promote(root, service.state, run_id, "baseline", reason="custom_cnn withdrawn", user=None, force=True)
    callbacks = callback_functions(create_app(settings, service=service))
    upload = "data:image/png;base64," + base64.b64encode(good_png()).decode()
    batch = (callbacks["run_batch"], [upload], None, picker.value, ["a.png"], None, None)
    _, results, *_ = call(*batch, triggered=ids.UPLOAD, prop="contents")
    assert (results[0]["run_id"], results[0]["model"]) == (run_id, "baseline")
    examples = repr(callbacks["examples"](picker.value))  # the champion's dataset's examples, as for a named model
    assert "Try an example" in examples and examples == repr(callbacks["examples"](f"{run_id}/baseline"))
