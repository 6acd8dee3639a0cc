"""The operating point is checked when a prediction reads it: a row edited behind the app's back never decides."""

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from core.errors import Unavailable
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import save_operating_point
from core.store.serving_state import OperatingPointRecord
from tests.support.bad_inputs import good_png


@pytest.mark.parametrize(("threshold", "low", "high"), [(1.5, 0.2, 0.4), (0.5, 0.9, 0.1), (0.5, -0.1, 0.4)])
def test_an_impossible_saved_point_is_refused_not_served(image_run, tmp_path, threshold, low, high):
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    service, key = PredictionService(Settings(artifacts_dir=tmp_path)), model_key(run_id, "custom_cnn")
    save_operating_point(tmp_path, service.state, run_id, "custom_cnn", threshold=None, review_band=(0, 0.5), user="a")
    assert service.predict(good_png(), model=key).prediction.operating_point_version == 1
    row = OperatingPointRecord(
        run_id=run_id, model="custom_cnn", version=2, threshold=threshold, review_low=low, review_high=high,
        note="edited in the database", user=None, created_at=datetime.now(UTC),
    )  # fmt: skip
    with Session(service.state.engine) as session, session.begin():
        session.add(row)
    with pytest.raises(Unavailable, match="version 2, is not valid"):
        service.predict(good_png(), model=key)
    assert service.audit_log.recent(limit=10)[0]["operating_point_version"] == 1  # nothing recorded under version 2
