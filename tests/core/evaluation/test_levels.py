import numpy as np
import pandas as pd
import pytest

from core.evaluation.levels import model_report, prediction_frame, prediction_levels, prediction_set

CLASSES = ["normal", "murmur"]


def _keys(paths, groups=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": paths,
            "sha256": [f"{i:064x}" for i in range(len(paths))],
            "group": groups or [""] * len(paths),
            "unit": 0,
        }
    )


def test_a_prediction_frame_names_each_row_by_path_and_content_hash():
    probs = np.array([[0.2, 0.8], [0.9, 0.1]])
    frame = prediction_frame(_keys(["a.wav", "b.wav"]).iloc[[1, 0]], np.array([1, 0]), probs, CLASSES)
    assert list(frame.columns) == [
        "path",
        "sha256",
        "group",
        "label",
        "label_index",
        "prob_normal",
        "prob_murmur",
        "predicted",
    ]
    assert frame["path"].tolist() == ["b.wav", "a.wav"] and frame["sha256"].tolist() == [f"{1:064x}", f"{0:064x}"]
    assert frame["label"].tolist() == ["murmur", "normal"] and frame["predicted"].tolist() == ["murmur", "normal"]


def test_windows_without_a_group_are_resampled_by_recording():
    keys = _keys(["a.wav", "a.wav", "b.wav"], ["", "", "p7"])
    frame = prediction_frame(keys, np.array([1, 1, 0]), np.full((3, 2), 0.5), CLASSES)
    assert prediction_set(frame, CLASSES).groups.tolist() == ["", "", "p7"]
    assert prediction_set(frame, CLASSES, group_by_path=True).groups.tolist() == ["a.wav", "a.wav", "p7"]


def test_images_have_one_level_and_sounds_have_recordings_then_windows():
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    items = prediction_frame(_keys(["a", "b", "c", "d"]), np.array([0, 1, 0, 1]), probs, CLASSES)
    assert list(prediction_levels({"val": (items, None), "test": (items, None)}, CLASSES)) == ["item"]
    levels = prediction_levels({"val": (items, items), "test": (items, items)}, CLASSES)
    assert list(levels) == ["recording", "window"]
    report = model_report("custom_cnn", levels, class_names=CLASSES, positive=1, n_resamples=20)
    assert report["model"] == "custom_cnn" and report["level"] == "recording"
    assert report["levels"]["recording"]["auc"] == pytest.approx(1.0) and report["levels"]["window"]["n"] == 4
