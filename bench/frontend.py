"""Choose the sound front-end's defaults, and decide on test-time augmentation, by grouped 5-fold CV.

Usage (from the repository root; the machine is shared, so run it niced):
    nice -n 19 .venv/bin/python -m bench.frontend heart [--folds 5] [--seed 42]
    nice -n 19 .venv/bin/python -m bench.frontend throat [--image-size 224]

The model is the product's `baseline` (`core.training.baseline.fit_baseline`:
features of the preprocessed windows + gradient boosting, its iteration count
chosen on a validation part carved from each fold's training part), so a fit
takes seconds and the whole search minutes. Folds are the product's own
(`core.data.splits.assign_folds`: StratifiedGroupKFold over linked units: the
same content, or the same source photo, never sits in two folds). Only the
development sets in ../shared/data are read; no test split exists or is used.

heart: every recording is decoded and resampled once; each front-end setting
(one factor at a time from the current default, then the best level of each
factor together) preprocesses every recording once and is cross-validated.
Window aggregation and test-time augmentation need no refit: the fold models'
window probabilities are combined in each way. Candidate aggregations that
are not (yet) product options are defined here (`CANDIDATE_AGGREGATIONS`).
Test-time augmentation for sounds adds, per recording, the windows that start
half a hop later, and averages all windows' probabilities.

throat: the baseline on the photos, each prediction alone or averaged with the
prediction for its horizontal mirror image (test-time flip).

Per setting: recording-level AUROC and balanced accuracy (at the Youden
threshold of the fold's validation part) per fold, as mean and sd; the AUROC
over all out-of-fold predictions with a grouped bootstrap 95% interval; and the
per-fold AUROC difference from the current default. `DECISION_RULE` says when
a setting may replace the default. Writes bench/results/frontend_<set>.json
and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bench.real_data import DATASETS
from bench.results_io import RESULTS, save
from core.data.audit import file_sha256
from core.data.dataset import load_dataset
from core.data.splits import assign_folds, fold_split, linked_units
from core.errors import InputUnjudgeable
from core.evaluation.metrics import bootstrap_ci, youden_threshold
from core.inputs.preprocess import (
    ImagePreprocessing,
    Preprocessing,
    SoundPreprocessing,
    aggregate_windows,
    band_pass,
    decode_audio,
    load_image,
    sound_inputs,
)
from core.inputs.quality import check_band
from core.training.baseline import fit_baseline
from core.training.fit import SplitData

log = logging.getLogger("bench.frontend")
POSITIVE = {"heart": "abnormal", "throat": "pharyngitis"}
VAL_FRACTION = 0.15  # the validation share of each fold's training part (as a 70/15/15 run's)
BOOTSTRAP = 1000
# A setting replaces the default only if its mean fold AUROC is higher, it is higher in at least
# MIN_FOLDS_BETTER folds, and its mean balanced accuracy is not lower.
MIN_FOLDS_BETTER = 4
DECISION_RULE = (
    f"replace the default only if mean fold AUROC is higher, AUROC is higher in at least {MIN_FOLDS_BETTER} "
    "of 5 folds, and mean balanced accuracy is not lower"
)
FACTORS = {
    "bandpass_hz": [(25.0, 400.0), (25.0, 800.0)],
    "normalisation": ["recording", "zscore"],
}


def _logit_mean(window_probs: np.ndarray) -> np.ndarray:
    """Mean log-odds of the windows, back to probabilities (a confident window counts for more than in a mean)."""
    logits = np.log(np.clip(window_probs, 1e-6, 1.0))
    combined = np.exp(logits.mean(axis=0) - logits.mean(axis=0).max())
    return combined / combined.sum()


CANDIDATE_AGGREGATIONS = {
    "median": lambda p: np.median(p, axis=0) / np.median(p, axis=0).sum(),
    "logit_mean": _logit_mean,
}


def _aggregate(window_probs: np.ndarray, how: str) -> np.ndarray:
    candidate = CANDIDATE_AGGREGATIONS.get(how)
    return candidate(window_probs) if candidate else aggregate_windows(window_probs, how)


@dataclass
class Folds:
    """The items of a set and their folds: labels are 1 for the positive class."""

    labels: np.ndarray
    units: np.ndarray
    folds: np.ndarray
    splits: list[np.ndarray]  # per fold: 'train', 'val' or 'test' per item


def _folds(paths: list[Path], groups: list[str | None], labels: np.ndarray, k: int, seed: int) -> Folds:
    """The product's grouped, stratified folds: linked units of group and content hash."""
    hashes = [file_sha256(path) for path in paths]
    units = linked_units(list(zip(groups, hashes, strict=True)))
    text = labels.astype(str)
    folds = assign_folds(text, units, k=k, seed=seed)
    splits = [fold_split(folds, f, text, units, val_fraction=VAL_FRACTION, seed=seed) for f in range(k)]
    return Folds(labels, units, folds, splits)


def _load(name: str, k: int, seed: int) -> tuple[list[Path], Folds]:
    data = DATASETS[name]
    dataset = load_dataset(list(data.sources), group_pattern=data.group_pattern)
    items = dataset.items
    labels = np.array([int(item.label == POSITIVE[name]) for item in items])
    return [item.path for item in items], _folds([i.path for i in items], [i.group for i in items], labels, k, seed)


def fold_data(x: np.ndarray, owners: np.ndarray, folds: Folds, split: np.ndarray, modality: str) -> SplitData:
    """One fold's training and validation rows of `x` (windows or their features), labelled by their items."""
    part = split[owners]
    return SplitData(
        x_train=x[part == "train"],
        y_train=folds.labels[owners[part == "train"]],
        x_val=x[part == "val"],
        y_val=folds.labels[owners[part == "val"]],
        modality=modality,
        num_classes=2,
    )


def _fit_folds(x: np.ndarray, owners: np.ndarray, folds: Folds, params: Preprocessing, seed: int) -> list:
    """One baseline per fold, fitted on the windows of its training items, validated on its validation items."""
    return [
        fit_baseline(fold_data(x, owners, folds, split, params.modality), params, seed=seed).model
        for split in folds.splits
    ]


def _window_probs(models: list, x: np.ndarray, owners: np.ndarray, folds: Folds) -> list[np.ndarray]:
    """Per fold, its model's probabilities for the windows of its validation and test items (NaN elsewhere)."""
    out = []
    for model, split in zip(models, folds.splits, strict=True):
        probs = np.full((len(x), 2), np.nan, dtype=np.float32)
        rows = np.flatnonzero(np.isin(split[owners], ("val", "test")))
        probs[rows] = model.predict(x[rows])
        out.append(probs)
    return out


def _item_scores(window_probs: np.ndarray, owners: np.ndarray, items: np.ndarray, how: str) -> np.ndarray:
    """Positive-class probability per item, its windows aggregated `how`."""
    return np.array([_aggregate(window_probs[owners == item], how)[1] for item in items])


def _evaluate(per_fold: list[np.ndarray], owners: np.ndarray, folds: Folds, how: str) -> dict:
    """Per-fold AUROC and balanced accuracy (Youden threshold from the fold's validation items), OOF AUROC + CI."""
    oof = np.full(len(folds.labels), np.nan)
    aucs, baccs = [], []
    for probs, split in zip(per_fold, folds.splits, strict=True):
        val, test = np.flatnonzero(split == "val"), np.flatnonzero(split == "test")
        val_scores = _item_scores(probs, owners, val, how)
        test_scores = _item_scores(probs, owners, test, how)
        threshold = youden_threshold(folds.labels[val], val_scores)
        aucs.append(roc_auc_score(folds.labels[test], test_scores))
        baccs.append(balanced_accuracy_score(folds.labels[test], test_scores >= threshold))
        oof[test] = test_scores
    both = np.stack([1 - oof, oof], axis=1)
    low, high = bootstrap_ci(
        folds.labels,
        both,
        lambda y, p: roc_auc_score(y, p[:, 1]) if 0 < y.sum() < len(y) else None,
        groups=folds.units,
        n_resamples=BOOTSTRAP,
    )
    return {
        "fold_auc": [round(v, 4) for v in aucs],
        "fold_balanced_accuracy": [round(v, 4) for v in baccs],
        "auc_mean": float(np.mean(aucs)),
        "auc_sd": float(np.std(aucs, ddof=1)),
        "balanced_accuracy_mean": float(np.mean(baccs)),
        "balanced_accuracy_sd": float(np.std(baccs, ddof=1)),
        "oof_auc": float(roc_auc_score(folds.labels, oof)),
        "oof_auc_ci": [low, high],
    }


def fold_differences(result: dict, reference: dict) -> dict:
    """Per-fold AUROC differences from the reference (mean, sd, folds better) and the balanced-accuracy difference:
    what each study's decision rule reads."""
    diffs = np.subtract(result["fold_auc"], reference["fold_auc"])
    return {
        "auc_diff_mean": float(diffs.mean()),
        "auc_diff_sd": float(diffs.std(ddof=1)),
        "folds_better": int((diffs > 0).sum()),
        "balanced_accuracy_diff": float(result["balanced_accuracy_mean"] - reference["balanced_accuracy_mean"]),
    }


def _paired(result: dict, reference: dict) -> dict:
    """`fold_differences` from the reference (the current default), and whether `DECISION_RULE` holds."""
    paired = fold_differences(result, reference)
    better_everywhere = paired["auc_diff_mean"] > 0 and paired["folds_better"] >= MIN_FOLDS_BETTER
    return {**paired, "passes_rule": bool(better_everywhere and paired["balanced_accuracy_diff"] >= 0)}


def _sound_rows(signals: list[np.ndarray], params: SoundPreprocessing, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every recording's windows (starting `shift` samples in) and the recording each window belongs to."""
    parts = [sound_inputs(signal[shift:], params)[0] for signal in signals]
    owners = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
    return np.concatenate(parts), owners


def _sound_setting(signals: list[np.ndarray], params: SoundPreprocessing, folds: Folds, seed: int, tta: bool) -> dict:
    """Cross-validate one front-end setting: every aggregation, and (with `tta`) half-hop-shifted extra windows."""
    started = time.perf_counter()
    x, owners = _sound_rows(signals, params)
    models = _fit_folds(x, owners, folds, params, seed)
    probs = _window_probs(models, x, owners, folds)
    del x
    out = {how: _evaluate(probs, owners, folds, how) for how in ("mean", "max", *CANDIDATE_AGGREGATIONS)}
    if tta:
        shifted, shifted_owners = _sound_rows(signals, params, shift=params.hop_samples // 2)
        extra = _window_probs(models, shifted, shifted_owners, folds)
        union = [np.concatenate(pair) for pair in zip(probs, extra, strict=True)]
        out["mean + TTA (half-hop shifted windows)"] = _evaluate(
            union, np.concatenate([owners, shifted_owners]), folds, "mean"
        )
    log.info("%s: %.0f s, AUROC %.3f", params, time.perf_counter() - started, out["mean"]["auc_mean"])
    return {"params": params.to_dict(), "seconds": round(time.perf_counter() - started, 1), "by_aggregation": out}


def _band_refusals(signals: list[np.ndarray], params: SoundPreprocessing) -> int:
    """How many development recordings the serving gate for the band (`check_band`) would refuse: should be none."""
    refused = 0
    for signal in signals:
        try:
            check_band(band_pass(signal, params), params.sample_rate, params.bandpass_hz)
        except InputUnjudgeable:
            refused += 1
    return refused


def _checkpoint(settings: dict) -> None:
    """The settings so far, quietly, so an interrupted search (a shared machine is slow) keeps what it measured."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "frontend_heart.partial.json").write_text(json.dumps(settings, indent=1, default=float))


def _heart(folds_k: int, seed: int) -> dict:
    """One factor at a time from the current default, then the best level of every factor together."""
    paths, folds = _load("heart", folds_k, seed)
    default = SoundPreprocessing()
    signals = [decode_audio(path, default.sample_rate) for path in paths]
    settings = {"default": _sound_setting(signals, default, folds, seed, tta=True)}
    best = {}
    for factor, levels in FACTORS.items():
        scored = {}
        for level in levels:
            name = f"{factor}={level}"
            params = replace(default, **{factor: level})
            settings[name] = _sound_setting(signals, params, folds, seed, tta=False)
            if params.bandpass_hz is not None:
                settings[name]["band_gate_refusals"] = _band_refusals(signals, params)
            _checkpoint(settings)
            scored[level] = settings[name]["by_aggregation"]["mean"]["auc_mean"]
        top = max(scored, key=scored.get)
        if scored[top] > settings["default"]["by_aggregation"]["mean"]["auc_mean"]:
            best[factor] = top
    if len(best) > 1:
        combined = replace(default, **best)
        settings["combined: " + ", ".join(f"{k}={v}" for k, v in best.items())] = _sound_setting(
            signals, combined, folds, seed, tta=True
        )
    return settings


def _throat(folds_k: int, seed: int, image_size: int) -> dict:
    """The baseline on the photos, with and without averaging each prediction with its mirror image's."""
    started = time.perf_counter()
    paths, folds = _load("throat", folds_k, seed)
    params = ImagePreprocessing(image_size=image_size)
    x = np.stack([load_image(path, params) for path in paths])
    owners = np.arange(len(x))
    models = _fit_folds(x, owners, folds, params, seed)
    probs = _window_probs(models, x, owners, folds)
    mirrored = _window_probs(models, np.ascontiguousarray(x[:, :, ::-1]), owners, folds)
    by = {
        "mean": _evaluate(probs, owners, folds, "mean"),
        "mean + TTA (horizontal flip)": _evaluate(
            [(a + b) / 2 for a, b in zip(probs, mirrored, strict=True)], owners, folds, "mean"
        ),
    }
    return {
        "default": {
            "params": params.to_dict(),
            "seconds": round(time.perf_counter() - started, 1),
            "by_aggregation": by,
        }
    }


def _table(settings: dict) -> list[str]:
    """Markdown rows: each setting and aggregation, against the default setting's mean aggregation."""
    reference = settings["default"]["by_aggregation"]["mean"]
    lines = [
        "| setting | aggregation | fold AUROC mean ± sd | fold bal. acc. mean ± sd | OOF AUROC [95% CI] "
        "| ΔAUROC vs default (folds better) | Δbal. acc. | passes rule |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, setting in settings.items():
        for how, r in setting["by_aggregation"].items():
            paired = _paired(r, reference)
            r["versus_default"] = paired
            low, high = r["oof_auc_ci"]
            lines.append(
                f"| {name} | {how} | {r['auc_mean']:.3f} ± {r['auc_sd']:.3f} "
                f"| {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_sd']:.3f} "
                f"| {r['oof_auc']:.3f} [{low:.3f}, {high:.3f}] "
                f"| {paired['auc_diff_mean']:+.3f} ± {paired['auc_diff_sd']:.3f} ({paired['folds_better']}/5) "
                f"| {paired['balanced_accuracy_diff']:+.3f} | {'yes' if paired['passes_rule'] else 'no'} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=("heart", "throat"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not Path(DATASETS[args.dataset].sources[0]).exists():
        raise SystemExit("error: the front-end benchmark needs ../shared/data")
    started = time.perf_counter()
    if args.dataset == "heart":
        settings = _heart(args.folds, args.seed)
    else:
        settings = _throat(args.folds, args.seed, args.image_size)
    lines = _table(settings)
    record = {
        "dataset": args.dataset,
        "args": vars(args),
        "decision_rule": DECISION_RULE,
        "total_seconds": round(time.perf_counter() - started, 1),
        "settings": settings,
    }
    save(f"frontend_{args.dataset}", record)
    print("\n".join(["", f"{args.dataset}: {record['total_seconds'] / 60:.1f} min", "", *lines]))


if __name__ == "__main__":
    main()
