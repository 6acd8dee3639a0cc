"""A test item's probability on the dashboard's cards never reads as certainty ("1.00", "0.00")."""

import re

import numpy as np
import pandas as pd
import pytest

from app_train_dashboard import tables
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.runs import load_run

CERTAIN = re.compile(r"\) [01]\.00\b")  # "P(murmur) 1.00"


@pytest.mark.parametrize("kind", ["sound", "image"])  # two classes (called at the threshold), three (most probable)
def test_a_saturated_probability_is_shown_as_above_099_never_as_1(copied_root, run_ids, kind):
    run = load_run(copied_root, run_ids[kind])
    files = ArtifactsLayout(copied_root).run(run.run_id).model("custom_cnn")
    frame = pd.read_csv(files.predictions("test"))
    columns = [f"prob_{name}" for name in run.class_names]
    certain = np.eye(len(columns))[frame["label_index"]].clip(1e-12, 1)  # as sure as a float can be
    artifacts.write_csv(files.predictions("test"), frame.assign(**dict(zip(columns, certain.T, strict=True))))
    report = artifacts.read_json(files.report)
    report["levels"][report["level"]]["temperature"] = 1.0  # calibration leaves them as sure
    artifacts.write_json(files.report, report)

    rewritten = load_run(copied_root, run.run_id)
    evidence = tables.decisions(rewritten, rewritten.models["custom_cnn"])
    shown = " ".join(evidence["evidence"])
    assert not CERTAIN.search(shown), shown
    assert ">0.99" in shown or "<0.01" in shown
