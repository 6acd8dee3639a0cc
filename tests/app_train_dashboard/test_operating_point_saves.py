"""The Operating point tab never lets its sliders pass for the version in force, nor save over one unseen."""

import shutil

import pytest
from dash.exceptions import PreventUpdate

from app_train_dashboard import ids
from app_train_dashboard.factory import create_app
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from tests.support.callbacks import call, callback_functions

TWIN = "20000101-000000-synthetic-heart-sounds-twin"  # a second two-class run with the same model names


@pytest.fixture
def tab(copied_root, run_ids):
    """The tab's callbacks and the serving state over a copy of the runs, with a twin of the sound run."""
    layout = ArtifactsLayout(copied_root)
    shutil.copytree(layout.run(run_ids["sound"]).dir, layout.run(TWIN).dir)
    app = create_app(Settings(artifacts_dir=copied_root))
    return callback_functions(app), app.server.extensions["serving_state"]


def _load(callbacks, run_id: str, loaded: dict | None, triggered: str, models=("custom_cnn",)) -> tuple:
    """`set_threshold` as Dash calls it when `triggered` changes, with custom_cnn in the picker."""
    return call(
        callbacks["set_threshold"],
        "custom_cnn",
        None,
        "sensitivity",
        0.9,
        loaded,
        run_id,
        list(models),
        None,
        triggered=triggered,
    )


def test_another_run_with_the_pickers_model_name_loads_that_runs_version_in_force(tab, run_ids):
    callbacks, state = tab
    state.save_operating_point(TWIN, "custom_cnn", threshold=0.2, review_band=(0.1, 0.3), user="b")
    *_, loaded = _load(callbacks, run_ids["sound"], None, ids.OP_MODEL)
    assert (loaded["run_id"], loaded["model"]) == (run_ids["sound"], "custom_cnn")
    with pytest.raises(PreventUpdate):  # the same model: the analyst's slider values stay
        _load(callbacks, run_ids["sound"], loaded, ids.MODEL_CHECKLIST, models=("custom_cnn", "mobilenet_v2"))
    threshold, band, twin = _load(callbacks, TWIN, loaded, ids.RUN_SELECT)
    assert (threshold, band, twin) == (0.2, [0.1, 0.3], {"run_id": TWIN, "model": "custom_cnn", "version": 1})


def test_a_save_over_a_version_saved_meanwhile_is_refused_once_in_words(tab, run_ids):
    callbacks, state = tab
    run, save = run_ids["sound"], callbacks["save_point"]
    *_, loaded = _load(callbacks, run, None, ids.OP_MODEL)
    theirs = state.save_operating_point(run, "custom_cnn", threshold=0.6, review_band=(0.5, 0.7), user="b")

    refused, moved = save(1, "custom_cnn", 0.3, [0.2, 0.4], "mine", loaded, run, ["custom_cnn"], None)
    assert refused.color == "warning" and f"version {theirs['version']}" in str(refused.children)
    assert "threshold 0.600" in str(refused.children) and moved["version"] == theirs["version"]
    assert state.operating_point(run, "custom_cnn")["threshold"] == 0.6  # theirs is still in force

    saved, after = save(1, "custom_cnn", 0.3, [0.2, 0.4], "mine", moved, run, ["custom_cnn"], None)
    assert saved.color == "success" and after["version"] == theirs["version"] + 1
    assert state.operating_point(run, "custom_cnn")["threshold"] == 0.3


def test_the_tab_says_what_is_in_force_and_when_the_sliders_are_not_saved(tab, run_ids):
    callbacks, state = tab
    run, show = run_ids["sound"], callbacks["show_in_force"]
    *_, loaded = _load(callbacks, run, None, ids.OP_MODEL)
    version = state.save_operating_point(run, "custom_cnn", threshold=0.3, review_band=(0.2, 0.4), user="a")
    loaded = {**loaded, "version": version["version"]}

    same = show(loaded, 0.3, [0.2, 0.4], None, None, run, ["custom_cnn"], None)
    text = str(same.children)
    assert same.color == "light" and f"version {version['version']}" in text and "threshold 0.300" in text
    assert "champion" in text and "not saved" not in text

    moved = show(loaded, 0.35, [0.2, 0.4], None, None, run, ["custom_cnn"], None)
    assert moved.color == "warning" and "not saved" in str(moved.children)

    state.save_operating_point(run, "custom_cnn", threshold=0.35, review_band=(0.2, 0.4), user="b")
    elsewhere = show(loaded, 0.35, [0.2, 0.4], None, None, run, ["custom_cnn"], None)
    assert elsewhere.color == "warning" and "saved after you started" in str(elsewhere.children)


def test_the_header_names_the_operating_point_the_champion_is_served_with(tab):
    callbacks, state = tab
    current = state.champion()
    state.save_operating_point(current["run_id"], current["model"], threshold=0.42, review_band=(0.3, 0.55), user="a")
    *_, badge = callbacks["refresh_runs"](None, None, None, None, None)
    assert badge.startswith(f"Champion: {current['model']} of {current['run_id']} · operating point version ")
    assert badge.endswith("threshold 0.420, review band 0.300–0.550")


def test_a_run_id_written_as_a_path_saves_and_promotes_nothing(tab, run_ids):
    callbacks, state = tab
    run = run_ids["sound"]
    crafted = f"{run}/../{run}"  # the same folder, but another key: what is saved under it is never served for run
    before = state.champion_history()
    loaded = {"run_id": crafted, "model": "custom_cnn", "version": 0}
    with pytest.raises(PreventUpdate):
        callbacks["save_point"](1, "custom_cnn", 0.3, [0.2, 0.4], "x", loaded, crafted, ["custom_cnn"], None)
    promote = callbacks["promote_model"]
    closed, _, result, *_ = call(promote, 1, 1, 1, None, "custom_cnn", crafted, "why", triggered=ids.PROMOTE_FORCE)
    assert closed is False and "Choose the run" in str(result.children)
    assert state.champion_history() == before and state.operating_point_history(crafted, "custom_cnn") == []
