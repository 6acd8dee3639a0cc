"""A threshold is saved only where one decides: a model that calls the most likely of several classes has none."""

import shutil

import pytest

from core.errors import InvalidInput
from core.store.audit_log import AuditLog
from core.store.layout import ArtifactsLayout
from core.store.registry import operating_point_in_force, save_operating_point
from core.store.serving_state import ServingState


def test_a_threshold_for_a_several_class_model_is_refused_and_its_band_still_saved(tmp_path, image_run):
    artifacts_dir, run_id, _ = image_run  # three classes: decided by the most likely one
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    state = ServingState(AuditLog(f"sqlite:///{tmp_path / 'audit.db'}").engine)
    with pytest.raises(InvalidInput, match="no threshold decides"):
        save_operating_point(tmp_path, state, run_id, "custom_cnn", threshold=0.99, review_band=(0, 0.6), user="a")
    assert state.operating_point_history(run_id, "custom_cnn") == []
    save_operating_point(tmp_path, state, run_id, "custom_cnn", threshold=None, review_band=(0, 0.7), user="a")
    assert operating_point_in_force(tmp_path, state, run_id, "custom_cnn") == {
        "version": 1,
        "threshold": None,
        "review_band": [0, 0.7],
    }
