"""A champion whose files changed since its promotion is not served by its key either: no way around the pin."""

import json
import shutil

import pytest

from core.errors import Unavailable
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import promote
from tests.support.bad_inputs import good_png


def test_a_damaged_champion_named_by_its_key_is_refused_and_its_heatmap_too(image_run, tmp_path):
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    service, key = PredictionService(Settings(artifacts_dir=tmp_path)), model_key(run_id, "custom_cnn")
    promote(tmp_path, service.state, run_id, "custom_cnn", reason="approved", user=None, force=True)
    assert service.predict(good_png(), model=key).prediction.model == "custom_cnn"
    report_path = ArtifactsLayout(tmp_path).run(run_id).model("custom_cnn").report
    report = json.loads(report_path.read_text())
    report["levels"][report["level"]]["temperature"] = float(report["levels"][report["level"]]["temperature"]) * 2
    report_path.write_text(json.dumps(report))
    with pytest.raises(Unavailable, match="changed since it was promoted"):
        service.predict(good_png(), model=key)
    with pytest.raises(Unavailable, match="changed since it was promoted"):
        service.explain(good_png(), model=key)
    assert service.predict(good_png(), model=model_key(run_id, "baseline")).prediction.model == "baseline"
