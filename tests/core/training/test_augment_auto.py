"""`--augment auto`: chosen per modality from the training images, recorded in the run; an explicit mode wins."""

import numpy as np
import pandas as pd
import pytest

import core.training.fit as fit_module
from core.config import DataOptions, TrainConfig
from core.inputs.charts import describe_augmentation
from core.inputs.preprocess import ImagePreprocessing
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.training.augment import build_augmenter, choose_augmentation
from core.training.run import train_run
from tests.core.inputs.test_charts import audiograms, photos


def test_auto_is_the_default_and_is_chosen_per_modality():
    assert TrainConfig().augment == "auto"
    charts = choose_augmentation("auto", "image", audiograms(6))
    assert charts["mode"] == "mild" and charts["chart_score"] >= charts["chart_cutoff"]
    assert charts["images_measured"] == 6
    pictures = choose_augmentation("auto", "image", photos(6))
    assert pictures["mode"] == "standard" and pictures["chart_score"] < pictures["chart_cutoff"]
    assert choose_augmentation("auto", "sound") == {"asked": "auto", "mode": "standard"}
    with pytest.raises(ValueError, match="training images"):
        choose_augmentation("auto", "image", np.zeros((0, 8, 8, 3), np.uint8))


@pytest.mark.parametrize("mode", ["standard", "mild", "none"])
def test_an_explicit_mode_is_kept_whatever_the_images(mode):
    assert choose_augmentation(mode, "image", audiograms(2)) == {"asked": mode, "mode": mode}
    assert describe_augmentation({"asked": mode, "mode": mode}) == f"{mode}, as asked"


def test_auto_never_reaches_the_augmenter_unresolved():
    with pytest.raises(ValueError, match="resolve auto"):
        build_augmenter("image", seed=0, strength="auto")


def test_the_tiny_runs_record_what_auto_chose(image_run, sound_run):
    chart_config = artifacts.read_json(ArtifactsLayout(image_run[0]).run(image_run[1]).config)
    assert chart_config["training"]["augment"] == "auto"
    record = chart_config["augmentation"]
    assert record["asked"] == "auto" and record["mode"] == "mild" and record["chart_score"] >= record["chart_cutoff"]
    split = pd.read_csv(ArtifactsLayout(image_run[0]).run(image_run[1]).split)
    assert record["images_measured"] == (split["split"] == "train").sum() < len(split)  # never validation or test
    sound_config = artifacts.read_json(ArtifactsLayout(sound_run[0]).run(sound_run[1]).config)
    assert sound_config["augmentation"] == {"asked": "auto", "mode": "standard"}


class Stop(Exception):
    """Raised by the spy once it has seen the augmentation a model is fitted with."""


@pytest.mark.parametrize(
    ("asked", "fitted", "cv"), [("auto", "mild", None), ("auto", "mild", 2), ("standard", "standard", None)]
)
def test_models_are_fitted_with_the_chosen_mode(asked, fitted, cv, demo_folders, tmp_path, monkeypatch):
    seen = []

    def spy(modality, *, seed, flip, strength):
        seen.append(strength)
        raise Stop

    monkeypatch.setattr(fit_module, "build_augmenter", spy)
    config = TrainConfig(models=("custom_cnn",), epochs=1, weights="none", augment=asked, bootstrap_resamples=50)
    with pytest.raises(Stop):  # the baseline is fitted first, without augmentation; custom_cnn stops at the spy
        train_run(
            DataOptions(sources=(str(demo_folders["audiograms"]),), cv=cv),
            config,
            artifacts_dir=tmp_path,
            image=ImagePreprocessing(image_size=32),
        )
    assert seen == [fitted]
    (run,) = ArtifactsLayout(tmp_path).runs.iterdir()
    layout = ArtifactsLayout(tmp_path).run(run.name)
    recorded = artifacts.read_json(layout.config)
    assert recorded["training"]["augment"] == asked and recorded["augmentation"]["mode"] == fitted
    if cv is not None:  # every item trains the served ensemble of a cross-validated run, so every one is measured
        assert recorded["augmentation"]["images_measured"] == len(pd.read_csv(layout.split))
