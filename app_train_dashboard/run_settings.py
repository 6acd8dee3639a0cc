"""How a run was trained, in words: the rows of the Run settings tab, pure functions of loaded runs.

An analyst approving a model for serving must see what it was trained on
and with which options, from the run's own `config.json` and
`preprocessing.json` (read by `core.store.runs`). Only names are shown, never
a server path: a source is its file or folder name, as the errors gallery
shows an item's file name and the run selector the dataset's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

import pandas as pd

from core.errors import CoreError
from core.inputs.charts import describe_augmentation
from core.inputs.preprocess import SoundPreprocessing, preprocessing_from_dict
from core.store.registry import RANDOM_FALLBACK
from core.store.runs import ModelResult, Run

NOT_RECORDED = "not recorded"
NONE = "—"  # a figure a model does not have (a blend's epochs), as the other tables show a missing value
MODEL_COLUMNS = ("model", "how it was made", "epochs run", "best epoch", "training time", "parameters")


def _name(path: object) -> str:
    """A file or folder's own name: what a source is called, without where it sits on the training machine."""
    return PurePath(str(path)).name or str(path)


def _split(data: dict) -> str:
    cv = data.get("cv")
    if cv:
        return (
            f"{cv}-fold grouped cross-validation (--cv {cv}): every test figure is out of fold, "
            f"and the served model averages the {cv} fold models"
        )
    split = data.get("split")
    if not split:
        return NOT_RECORDED
    return "train {:.0%} · validation {:.0%} · test {:.0%}, grouped".format(*split)


def _weights(training: dict) -> str:
    """What transfer models started from; a weights file by its name only."""
    if training.get("weights_fallback") is True:
        return f"none: transfer models {RANDOM_FALLBACK}"
    weights = str(training.get("weights", "")).strip()
    if not weights:
        return NOT_RECORDED
    named = {"imagenet": "ImageNet (transfer models)", "none": "none (every model starts from random weights)"}
    return named.get(weights.lower(), f"a local weights file: {_name(weights)}")


def _epochs(training: dict) -> str:
    if "epochs" not in training:
        return NOT_RECORDED
    text = f"at most {training['epochs']}, stopping after {training.get('patience', '?')} without improvement"
    if training.get("fine_tune_epochs"):
        text += f"; then {training['fine_tune_epochs']} of fine-tuning {training.get('fine_tune_layers', '?')} layers"
    return text


def _learning_rate(training: dict) -> str:
    if "learning_rate" not in training:
        return NOT_RECORDED
    text = f"{training['learning_rate']:g}, halved after {training.get('lr_patience', '?')} epochs without improvement"
    if training.get("fine_tune_epochs"):
        text += f"; fine-tuning {training.get('fine_tune_learning_rate', 0):g}"
    return text


def _threshold_rule(training: dict) -> str:
    if "target_sensitivity" not in training:
        return NOT_RECORDED
    target = training["target_sensitivity"]
    if target is None:
        return "Youden's J on the validation split"
    return f"the highest threshold reaching sensitivity {target:g} on the validation split"


def _devices(devices: dict | None) -> str:
    """The devices and precision training ran with (the run's status.json), e.g. "CPU · float32"."""
    if not devices:
        return NOT_RECORDED
    return f"{', '.join(devices.get('names') or [devices.get('kind', '?')])} · {devices.get('precision', '?')}"


def _sound_rows(params: SoundPreprocessing) -> list[tuple[str, str]]:
    """The sound front-end as served (`preprocessing_from_dict` fills an older run's options as they were)."""
    band = "none" if not params.bandpass_hz else "{:g}–{:g} Hz".format(*params.bandpass_hz)
    top = params.fmax or params.sample_rate / 2
    return [
        ("sample rate", f"{params.sample_rate} Hz"),
        ("windows", f"{params.window_seconds:g} s, {params.overlap:.0%} overlap"),
        (
            "spectrogram",
            f"{params.n_mels} mel bands, {params.fmin:g}–{top:g} Hz, FFT {params.n_fft}, hop {params.hop_length}, "
            f"{params.top_db:g} dB range",
        ),
        ("band-pass", band),
        ("normalisation", params.normalisation),
        ("aggregation", f"{params.aggregation}: a recording's probability is the {params.aggregation} of its windows'"),
    ]


def _input_rows(run: Run) -> list[tuple[str, str]]:
    """Image size, or the sound front-end; "not recorded" when the run's preprocessing.json cannot be read."""
    try:
        params = preprocessing_from_dict(run.preprocessing)
    except (CoreError, TypeError):
        return [("input", NOT_RECORDED)]
    if isinstance(params, SoundPreprocessing):
        return _sound_rows(params)
    return [("image size", f"{params.image_size} × {params.image_size} pixels")]


def _augmentation_rows(run: Run, training: dict) -> list[tuple[str, str]]:
    rows = [("augmentation", describe_augmentation(run.config.get("augmentation")))]
    if run.modality == "image" and "flip" in training:
        rows.append(("flips (standard augmentation only)", training["flip"]))
    return rows


def _blend_rows(training: dict) -> list[tuple[str, str]]:
    """Whether each model was also blended with the baseline (runs trained before blends have no row)."""
    if "blend" not in training:
        return []
    return [("blends", "each model also averaged with the baseline" if training["blend"] else "none (--no-blend)")]


def settings_rows(run: Run) -> list[tuple[str, str]]:
    """(setting, value) pairs of one run, in the order an analyst reads them; "not recorded" where the run lacks one."""
    data, training = run.config.get("data", {}), run.config.get("training", {})
    sources = data.get("sources")
    models = run.status.get("models_completed") or training.get("models")
    return [
        ("dataset", f"{run.status.get('dataset', '?')} ({run.modality})"),
        ("sources", ", ".join(_name(s) for s in sources) if sources else NOT_RECORDED),
        ("classes", ", ".join(run.class_names) or NOT_RECORDED),
        ("positive class", run.positive_class or "none (more than two classes)"),
        ("split", _split(data)),
        ("models", ", ".join(models) if models else NOT_RECORDED),
        *_blend_rows(training),
        ("epochs", _epochs(training)),
        ("batch size", str(training.get("batch_size", NOT_RECORDED))),
        ("learning rate", _learning_rate(training)),
        ("loss", str(training.get("loss", NOT_RECORDED))),
        ("weights", _weights(training)),
        ("seed", str(training.get("seed", NOT_RECORDED))),
        ("threshold rule (two classes)", _threshold_rule(training)),
        ("trained on", _devices(run.status.get("devices"))),
        *_input_rows(run),
        *_augmentation_rows(run, training),
    ]


def settings_table(runs: Sequence[tuple[str, Run]]) -> pd.DataFrame:
    """One row per setting, one column per (label, run): the selected run, and the comparison run beside it."""
    columns = {label: dict(settings_rows(run)) for label, run in runs}
    names = list(dict.fromkeys(name for rows in columns.values() for name in rows))
    table = {"setting": names} | {label: [rows.get(n, NONE) for n in names] for label, rows in columns.items()}
    return pd.DataFrame(table)


def describe_blend(model: ModelResult) -> str:
    """What a blend averages, e.g. "averages custom_cnn and baseline" (each part's weight when they differ)."""
    parts = model.blend_parts
    weights = list((model.report.get("blend") or {}).get("weights") or [])
    if len(weights) == len(parts) and len(set(weights)) > 1:
        parts = [f"{part} ({weight:.2f})" for part, weight in zip(parts, weights, strict=True)]
    return "averages " + (" and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1])


def _seconds(value: object) -> str:
    if not isinstance(value, (int, float)):
        return NONE
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def models_table(models: Sequence[tuple[str, ModelResult]]) -> pd.DataFrame:
    """One row per model: how it was made, epochs run, the kept epoch, training time and size.

    A blend was never trained: it shows what it averages, and a dash for
    epochs and the kept epoch.
    """
    rows = []
    for label, model in models:
        summary, blend = model.summary, bool(model.blend_parts)
        folds = (model.report.get("cv") or {}).get("k")
        made = describe_blend(model) if blend else f"trained, {folds} fold models" if folds else "trained"
        best = summary.get("best_epoch")
        rows.append(
            {
                "model": label,
                "how it was made": made,
                "epochs run": NONE if blend or summary.get("epochs_run") is None else str(summary["epochs_run"]),
                "best epoch": NONE if blend or best is None else str(best),
                "training time": NONE if blend else _seconds(summary.get("train_seconds")),
                "parameters": NONE if summary.get("params") is None else f"{summary['params']:,}",
            }
        )
    return pd.DataFrame(rows, columns=list(MODEL_COLUMNS))
