"""The heatmap explains the result a person was shown, even after an analyst saved a new operating point."""

import shutil
from pathlib import Path

import pandas as pd

from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import save_operating_point
from core.store.serving_state import OperatingPoint


def test_the_heatmap_follows_the_shown_call_not_an_operating_point_saved_since(sound_run, tmp_path):
    artifacts_dir, run_id, _ = sound_run
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    shutil.copytree(run.dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    service, key = PredictionService(Settings(artifacts_dir=tmp_path)), model_key(run_id, "custom_cnn")
    split = pd.read_csv(run.split)
    data = Path(split.loc[split["split"] == "test", "path"].iloc[0]).read_bytes()
    save_operating_point(tmp_path, service.state, run_id, "custom_cnn", threshold=0.0, review_band=(0, 0), user="a")
    shown = service.predict(data, model=key).prediction
    save_operating_point(tmp_path, service.state, run_id, "custom_cnn", threshold=1.0, review_band=(0, 0), user="b")
    recorded = OperatingPoint(shown.operating_point_version, shown.threshold, tuple(shown.review_band))
    explained = service.explain(data, model=key, operating_point=recorded)
    assert explained.predicted == shown.predicted  # the heat is for the class on the card
    assert explained.operating_point_version == shown.operating_point_version == 1
    assert service.explain(data, model=key).predicted != shown.predicted  # the point in force now calls the other
