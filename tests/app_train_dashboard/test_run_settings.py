"""The Run settings and Class examples tabs, and models without a learning curve (blends), over real artifacts."""

import json

import pytest

from app_train_dashboard import run_settings, tables
from app_train_dashboard.factory import create_app
from core.evaluation.decision import CLASS_SAMPLE
from core.settings import Settings
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.runs import load_run
from core.training.steps import shown_items
from tests.app_train_dashboard.conftest import BLEND, BLEND_NOTE
from tests.support.callbacks import callback_functions


@pytest.fixture(scope="module")
def callbacks(dashboard_root):
    return callback_functions(create_app(Settings(artifacts_dir=dashboard_root)))


def _texts(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json(), ensure_ascii=False)


def test_the_image_runs_settings_name_its_sources_and_say_what_auto_augmentation_chose(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["image"])
    rows = dict(run_settings.settings_rows(run))
    assert rows["dataset"] == "synthetic-audiograms (image)"
    assert rows["sources"] == "synthetic-audiograms"  # the folder's name: no server path
    assert not any("/" in value for value in rows.values())
    assert rows["split"] == "train 70% · validation 15% · test 15%, grouped"
    assert rows["models"] == ", ".join(run.status["models_completed"])
    assert rows["models"].startswith("baseline, custom_cnn, mobilenet_v2")  # and their blends, where made
    assert rows["epochs"].startswith("at most 2, ") and rows["batch size"] == "16" and rows["seed"] == "42"
    assert rows["learning rate"].startswith("0.001, ") and rows["loss"] == "cross_entropy"
    assert rows["weights"] == "none (every model starts from random weights)"
    assert rows["threshold rule (two classes)"] == "Youden's J on the validation split"
    assert rows["trained on"] == f"{', '.join(run.status['devices']['names'])} · {run.status['devices']['precision']}"
    assert rows["image size"] == "64 × 64 pixels" and rows["flips (standard augmentation only)"] == "none"
    record = run.config["augmentation"]
    assert rows["augmentation"] == (
        f"mild, chosen by --augment auto: chart score {record['chart_score']:.2f} >= 0.50, the training images look"
        f" like charts (no flips or colour changes) ({record['images_measured']} training images measured)"
    )


def test_the_sound_runs_settings_show_its_front_end_as_served(dashboard_root, run_ids):
    rows = dict(run_settings.settings_rows(load_run(dashboard_root, run_ids["sound"])))
    assert rows["sample rate"] == "2000 Hz" and rows["windows"] == "4 s, 25% overlap"
    assert rows["spectrogram"].startswith("32 mel bands, 20–1000 Hz, FFT 256, hop 128")
    assert rows["band-pass"] == "none" and rows["normalisation"] == "window"
    assert rows["aggregation"] == "mean: a recording's probability is the mean of its windows'"
    assert rows["augmentation"] == "standard, chosen by --augment auto (sounds)"
    assert "image size" not in rows and "flips (standard augmentation only)" not in rows


def test_older_and_other_runs_say_what_was_not_recorded_cross_validation_and_fallback_weights(copied_root, run_ids):
    layout = ArtifactsLayout(copied_root).run(run_ids["image"])
    config = artifacts.read_json(layout.config)
    config["data"] |= {"cv": 5, "sources": ["/srv/private/cohort-a/manifest.csv", "/srv/other"]}
    config["training"] |= {"weights": "none", "weights_fallback": True, "target_sensitivity": 0.9}
    del config["augmentation"]  # runs trained before the record
    artifacts.write_json(layout.config, config)
    rows = dict(run_settings.settings_rows(load_run(copied_root, run_ids["image"])))
    assert rows["augmentation"] == "not recorded (run trained before the augmentation record)"
    assert rows["split"].startswith("5-fold grouped cross-validation (--cv 5)")
    assert rows["sources"] == "manifest.csv, other"
    assert rows["threshold rule (two classes)"].startswith("the highest threshold reaching sensitivity 0.9 ")
    assert rows["weights"] == "none: transfer models started from random weights (ImageNet weights unavailable offline)"
    config["training"] |= {"weights": "/srv/weights/backbones", "weights_fallback": False}
    artifacts.write_json(layout.config, config)
    assert dict(run_settings.settings_rows(load_run(copied_root, run_ids["image"])))["weights"] == (
        "a local weights file: backbones"
    )

    layout.config.unlink()
    run = load_run(copied_root, run_ids["image"])
    assert run.usable  # a missing config.json is not damage to the figures
    rows = dict(run_settings.settings_rows(run))
    assert rows["batch size"] == rows["epochs"] == rows["sources"] == "not recorded"
    assert rows["models"] == ", ".join(run.status["models_completed"])  # from the run's status


def test_the_settings_tab_puts_the_comparison_run_beside_the_selected_one(callbacks, run_ids):
    settings, models = callbacks["training_settings"](run_ids["sound"], ["custom_cnn"], run_ids["image"])
    text = _texts(settings)
    assert run_ids["sound"] in text and run_ids["image"] in text and "2000 Hz" in text and "64 × 64 pixels" in text
    assert "custom_cnn @ " in _texts(models)


def test_examples_are_the_first_items_of_each_class_whose_previews_training_keeps(dashboard_root, run_ids):
    run = load_run(dashboard_root, run_ids["image"])
    model = run.models["custom_cnn"]
    examples = tables.class_examples(run, model)
    assert list(examples) == run.class_names
    kept = shown_items(model.test, model.headline, run.class_names, None)
    decided = tables.decisions(run, model)
    for name, rows in examples.items():
        assert 0 < len(rows) <= CLASS_SAMPLE and set(rows["true"]) == {name}
        assert set(rows["sha256"]) <= set(kept["sha256"])
        first = decided[decided["true"] == name].head(CLASS_SAMPLE)
        assert rows["predicted"].tolist() == first["predicted"].tolist()  # the gallery's decision rules
    errors = tables.worst_errors(run, model, limit=len(model.test))
    assert set(errors["path"]) == set(decided.loc[decided["true"] != decided["predicted"], "path"])


def test_the_examples_tab_shows_one_section_of_cards_per_class(callbacks, run_ids):
    sections = callbacks["class_examples"]("custom_cnn", run_ids["sound"], ["custom_cnn"], None)
    headings = [s.children for s in sections if "example-class" in (s.className or "")]
    assert headings == ["murmur", "normal"]
    text = _texts(sections[1])
    assert text.count("example-card") == len(sections[1].children) <= CLASS_SAMPLE
    assert "data:image/png;base64," in text and "data:audio/wav;base64," in text


def test_a_blend_without_history_is_shown_everywhere_and_says_it_has_no_learning_curve(blend_root):
    root, run = blend_root
    loaded = load_run(root, run.run_id)
    assert loaded.usable and not loaded.problems and loaded.models[BLEND].history is None
    assert not run.model(BLEND).history.exists()
    callbacks = callback_functions(create_app(Settings(artifacts_dir=root)))
    models = ["custom_cnn", BLEND]
    notes = callbacks["without_curve"](run.run_id, models, None)
    assert [n.children for n in notes] == [BLEND_NOTE]
    figure = callbacks["learning_curves"](run.run_id, models, None, "accuracy", [])
    assert [t.name for t in figure.data] == ["custom_cnn · train", "custom_cnn · validation"]
    alone = callbacks["learning_curves"](run.run_id, [BLEND], None, "loss", [])
    assert not alone.data and "blends" in alone.layout.annotations[0].text
    table = run_settings.models_table([(BLEND, loaded.models[BLEND]), ("custom_cnn", loaded.models["custom_cnn"])])
    blend_row, trained_row = table.to_dict("records")
    assert blend_row["how it was made"] == "averages custom_cnn and baseline"
    assert blend_row["best epoch"] == blend_row["epochs run"] == "—"
    assert trained_row["how it was made"] == "trained" and trained_row["best epoch"].isdigit()
    assert [r["model"] for r in callbacks["comparison"](run.run_id, models, None)[0]] == models
    assert callbacks["class_examples"](BLEND, run.run_id, models, None)
    assert callbacks["errors_gallery"](BLEND, None, None, run.run_id, models, None)[2]
    assert BLEND in _texts(callbacks["training_settings"](run.run_id, models, None)[1])


def test_a_blend_names_each_parts_weight_when_they_differ(blend_root):
    root, run = blend_root
    report = artifacts.read_json(run.model(BLEND).report)
    report["blend"]["weights"] = [0.7, 0.3]
    artifacts.write_json(run.model(BLEND).report, report)
    blend = load_run(root, run.run_id).models[BLEND]
    assert run_settings.describe_blend(blend) == "averages custom_cnn (0.70) and baseline (0.30)"
