import json
import shutil

import pytest

from core.errors import InvalidInput, NotFound
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.registry import champion, default_champion, list_runs, promote, save_operating_point


@pytest.fixture
def two_runs(tmp_path, image_run, sound_run):
    """A private copy of both trained runs, the sound run being newer."""
    for artifacts_dir, run_id, _ in (image_run, sound_run):
        shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    return tmp_path, image_run[1], sound_run[1]


def test_default_champion_is_the_latest_runs_best_model_by_validation_auc(two_runs):
    root, image_id, sound_id = two_runs
    newest = max(image_id, sound_id)
    chosen = default_champion(root)
    assert chosen["run_id"] == newest and chosen["source"] == "default"
    run = ArtifactsLayout(root).run(newest)
    aucs = {m: artifacts.read_json(run.model(m).summary)["val_auc"] for m in ("custom_cnn", "mobilenet_v2")}
    assert aucs[chosen["model"]] == max(aucs.values())


def test_promotion_wins_is_recorded_and_validated(two_runs):
    root, image_id, sound_id = two_runs
    older = min(image_id, sound_id)
    entry = promote(root, older, "mobilenet_v2", by="test")
    assert champion(root) == {**entry, "source": "promoted"}
    registry = json.loads(ArtifactsLayout(root).registry.read_text())
    assert registry["history"][-1]["by"] == "test"
    assert not list(root.glob(".registry.*"))  # no temporary file left behind
    with pytest.raises(NotFound, match="no servable model 'vgg16'"):
        promote(root, older, "vgg16")
    with pytest.raises(NotFound, match="no run"):
        promote(root, "nope", "custom_cnn")
    assert champion(root)["model"] == "mobilenet_v2"  # failed promotions changed nothing


def test_a_damaged_registry_or_run_falls_back_safely(two_runs):
    root, image_id, sound_id = two_runs
    ArtifactsLayout(root).registry.write_text("{ half written")
    assert champion(root)["source"] == "default"
    ArtifactsLayout(root).run(max(image_id, sound_id)).status.write_text("garbage")
    runs = {run["run_id"]: run["state"] for run in list_runs(root)}
    assert runs[max(image_id, sound_id)] == "damaged"
    assert champion(root)["run_id"] == min(image_id, sound_id)


def test_operating_point_is_saved_and_checked(two_runs):
    root, image_id, _ = two_runs
    run = ArtifactsLayout(root).run(image_id)
    point = save_operating_point(run.dir, "custom_cnn", threshold=0.3, review_band=(0.2, 0.4))
    assert artifacts.read_json(run.model("custom_cnn").operating_point)["review_band"] == [0.2, 0.4]
    assert point["threshold"] == 0.3
    with pytest.raises(InvalidInput, match="review band"):
        save_operating_point(run.dir, "custom_cnn", threshold=0.3, review_band=(0.6, 0.4))
