"""A worker serves the run's files as they are now: one changed behind its back is loaded again, never kept."""

import json
import shutil

from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import operating_point_in_force
from tests.support.bad_inputs import good_png


def test_a_report_rewritten_after_loading_is_served_as_the_api_reads_it(image_run, tmp_path):
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    service, key = PredictionService(Settings(artifacts_dir=tmp_path)), model_key(run_id, "custom_cnn")
    before = service.predict(good_png(), model=key).prediction
    report_path = ArtifactsLayout(tmp_path).run(run_id).model("custom_cnn").report
    report = json.loads(report_path.read_text())
    headline = report["levels"][report["level"]]
    headline["operating_point"]["review_band"] = [0.0, 0.0]  # as a restored older copy might hold
    headline["temperature"] = float(headline["temperature"]) * 2
    report_path.write_text(json.dumps(report))
    after = service.predict(good_png(), model=key).prediction
    in_force = operating_point_in_force(tmp_path, service.state, run_id, "custom_cnn")
    assert after.review_band == in_force["review_band"] == [0.0, 0.0] != before.review_band
    assert after.probabilities != before.probabilities  # the new temperature, not the one loaded first
    assert service.predictor(key) is service.predictor(key)  # unchanged files: loaded once, kept
