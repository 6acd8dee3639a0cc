"""Pre-registered study of the heart-sound baseline: added sound features, and gradient-boosting settings.

Usage (from the repository root; the machine is shared, so run it niced):
    nice -n 10 .venv/bin/python -m bench.baseline_study
    [--families F ...] [--boosting S ...]   # a subset (no names: none of that kind)
    [--partial NAME] [--resume NAME ...]    # checkpoint name; earlier checkpoints to reuse (split runs)
    [--confirm [NAME ...]] [--screen-only]  # measure on seed 43 up front; stop before the decision

Written before any figure was computed; candidates and rule are fixed here.

Data: the development sets in ../shared/data only (heart-sounds-dev, 850
recordings; throat-photos-dev, 592 photos). No test split exists or is used.

Protocol: the product's grouped, stratified 5-fold folds (`assign_folds`,
`fold_split` with a 15% validation part; through `bench.frontend`); each fold
model is the product's `fit_baseline` (iteration count chosen on the
validation part). Figures are per recording after the default mean
aggregation of window probabilities; balanced accuracy is at the Youden
threshold of the fold's validation part. Features are computed once per
family (cached windows) and the boosting is fitted on the cached rows.

Feature candidates, each added alone to the current `sound_features` (one
factor at a time; numpy only, vectorised):
- cycle: fold each band group's loudness envelope at the detected heartbeat
  period (`_periodicity`); per group, the contrast between the loudest and the
  quietest phases, the quiet phases' level against the window's median, and the
  share of the envelope's variance the folded cycle explains (murmurs fill the
  gaps between S1 and S2).
- shape: per-band skewness and kurtosis over time (sharp sounds on silence
  against a steady hiss).
- flatness: spectral flatness and spectral entropy per frame, mean, spread
  and percentiles over time.
- cepstral: the DCT of each frame's log-mel (cepstral coefficients 1-13),
  mean and spread over time, and their mean absolute change.
- autocorr: more of the envelope's autocorrelation: at twice and half the
  detected period, the deepest valley before it, and the periodicity of the
  low and high halves of the bands.

Boosting candidates (one at a time from the defaults of
`core.training.baseline`): learning rate 0.05 with 200 iterations;
max_leaf_nodes 7; max_leaf_nodes 31; min_samples_leaf 50; l2_regularization 5;
max_features 0.5.

Decision rule (`RULE`): a candidate replaces the default only if its mean fold
AUROC is higher by at least `MIN_AUC_GAIN` (0.003), it is higher in at least
`MIN_FOLDS_BETTER` (4) of 5 folds, and its mean fold balanced accuracy is not
lower. Several candidates are tried, so the best passing candidate of each
kind (features; boosting) must pass again on a second fold assignment (seed
43) to be adopted: at most one feature change and one boosting change. Both are
combined only if the combination also passes against the default on both
seeds; if it does not, only the one of the two with the larger mean AUROC gain
on seed 43 is adopted. A boosting setting also changes the image baseline: it is rejected if it
lowers the throat photos' (224 px) mean fold AUROC by more than
`MAX_THROAT_LOSS` (0.01); the throat check runs for the settings that pass on
the heart sounds (it cannot make a failing one pass).

Writes bench/results/baseline_study.json (checkpointed as it goes) and prints
Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
from unittest import mock

import numpy as np

import core.training.baseline as baseline
from bench.frontend import Folds, _evaluate, _load, _sound_rows, fold_data, fold_differences
from bench.results_io import RESULTS, save
from core.inputs.features import _periodicity, input_features
from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing, decode_audio, load_image
from core.serving.baseline import one_thread

log = logging.getLogger("bench.baseline_study")
MIN_AUC_GAIN = 0.003
MIN_FOLDS_BETTER = 4
MAX_THROAT_LOSS = 0.01
RULE = (
    f"mean fold AUROC higher by >= {MIN_AUC_GAIN}, higher in >= {MIN_FOLDS_BETTER} of 5 folds, mean fold "
    "balanced accuracy not lower; the best passing candidate of each kind must pass again on seed 43; a "
    f"boosting setting must not lower throat mean fold AUROC by more than {MAX_THROAT_LOSS}"
)
BAND_GROUPS = 4
PHASE_BINS = 6  # the shortest period (`MIN_PERIOD_SECONDS`) spans 7 frames: every phase bin gets one
QUIET_BINS = 2
CEPSTRA = 13
# Estimator settings that `core.training.baseline` holds as module constants; the rest go to `set_params`.
CONSTANTS = {
    "learning_rate": "LEARNING_RATE",
    "max_iter": "MAX_ITERATIONS",
    "max_leaf_nodes": "MAX_LEAF_NODES",
    "l2_regularization": "L2_REGULARIZATION",
}
BOOSTING = {
    "learning_rate=0.05, max_iter=200": {"learning_rate": 0.05, "max_iter": 200},
    "max_leaf_nodes=7": {"max_leaf_nodes": 7},
    "max_leaf_nodes=31": {"max_leaf_nodes": 31},
    "min_samples_leaf=50": {"min_samples_leaf": 50},
    "l2_regularization=5": {"l2_regularization": 5.0},
    "max_features=0.5": {"max_features": 0.5},
}


def _spread(values: np.ndarray) -> list[np.ndarray]:
    """Mean, spread and 10th/50th/90th percentiles over the last axis."""
    return [values.mean(axis=-1), values.std(axis=-1), *np.percentile(values, [10, 50, 90], axis=-1)]


def _fold_cycle(envelopes: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """(n, g, PHASE_BINS) mean of each (n, g, t) envelope per phase of its window's cycle of `lag` frames."""
    n, g, frames = envelopes.shape
    phase = (np.arange(frames)[None, :] % lag[:, None]) * PHASE_BINS // lag[:, None]
    index = (phase[:, None, :] + PHASE_BINS * np.arange(n * g).reshape(n, g, 1)).ravel()
    counts = np.bincount(index, minlength=n * g * PHASE_BINS).reshape(n, g, PHASE_BINS)
    sums = np.bincount(index, envelopes.ravel(), minlength=n * g * PHASE_BINS).reshape(n, g, PHASE_BINS)
    return sums / np.maximum(counts, 1)


def cycle_features(spectrogram: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Per band group (and all bands): cycle contrast, quiet-phase level, and variance the folded cycle explains."""
    n, mels, frames = spectrogram.shape
    fps = params.sample_rate / params.hop_length
    groups = spectrogram[:, : mels // BAND_GROUPS * BAND_GROUPS].reshape(n, BAND_GROUPS, -1, frames).mean(axis=2)
    envelopes = np.concatenate([groups, spectrogram.mean(axis=1, keepdims=True)], axis=1)
    lag = np.maximum(PHASE_BINS, np.rint(_periodicity(envelopes[:, -1], fps)[:, 1] * fps)).astype(np.int64)
    profile = np.sort(_fold_cycle(envelopes, lag), axis=2)
    quiet = profile[:, :, :QUIET_BINS].mean(axis=2)
    phase = (np.arange(frames)[None, :] % lag[:, None]) * PHASE_BINS // lag[:, None]
    folded = np.take_along_axis(_fold_cycle(envelopes, lag), np.broadcast_to(phase[:, None], envelopes.shape), 2)
    explained = folded.var(axis=2) / np.maximum(envelopes.var(axis=2), 1e-9)
    return np.concatenate([profile[:, :, -1] - quiet, quiet - np.median(envelopes, axis=2), explained, quiet], axis=1)


def shape_features(spectrogram: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Per-band skewness and excess kurtosis over time (0 for a silent band)."""
    centred = spectrogram - spectrogram.mean(axis=2, keepdims=True)
    variance = (centred**2).mean(axis=2)
    safe = np.maximum(variance, 1e-9)
    skew = np.where(variance > 1e-9, (centred**3).mean(axis=2) / safe**1.5, 0.0)
    kurtosis = np.where(variance > 1e-9, (centred**4).mean(axis=2) / safe**2 - 3.0, 0.0)
    return np.concatenate([skew, kurtosis], axis=1)


def flatness_features(spectrogram: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Spectral flatness (geometric over arithmetic mean power) and normalised spectral entropy per frame, spread."""
    log_power = (spectrogram - 1.0) * params.top_db / 10.0 * np.log(10.0)  # natural log of power re the peak
    power = np.exp(log_power)
    flatness = np.exp(log_power.mean(axis=1)) / np.maximum(power.mean(axis=1), 1e-12)
    share = power / np.maximum(power.sum(axis=1, keepdims=True), 1e-12)
    entropy = -(share * np.log(np.maximum(share, 1e-12))).sum(axis=1) / np.log(spectrogram.shape[1])
    return np.stack([*_spread(flatness), *_spread(entropy)], axis=1)


def cepstral_features(spectrogram: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Cepstral coefficients 1-13 (DCT-II of each frame's log-mel): mean, spread and mean absolute change."""
    mels = spectrogram.shape[1]
    k = np.arange(1, CEPSTRA + 1)[:, None]
    basis = np.cos(np.pi * k * (np.arange(mels)[None, :] + 0.5) / mels).astype(np.float32)
    cepstra = np.einsum("km,nmt->nkt", basis, spectrogram)
    return np.concatenate(
        [cepstra.mean(axis=2), cepstra.std(axis=2), np.abs(np.diff(cepstra, axis=2)).mean(axis=2)], axis=1
    )


def autocorr_features(spectrogram: np.ndarray, params: SoundPreprocessing) -> np.ndarray:
    """Envelope autocorrelation at twice and half the period and its deepest valley; low and high bands' rhythm."""
    n, mels, frames = spectrogram.shape
    fps = params.sample_rate / params.hop_length
    envelope = spectrogram.mean(axis=1)
    centred = envelope - envelope.mean(axis=1, keepdims=True)
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(centred, n=2 * frames, axis=1)) ** 2, axis=1)[:, :frames]
    autocorrelation /= np.maximum(autocorrelation[:, :1], 1e-12)
    lag = np.maximum(1, np.rint(_periodicity(envelope, fps)[:, 1] * fps)).astype(np.int64)
    rows = np.arange(n)
    twice = np.where(2 * lag < frames, autocorrelation[rows, np.minimum(2 * lag, frames - 1)], 0.0)
    half = autocorrelation[rows, np.maximum(1, lag // 2)]
    before = np.where(np.arange(frames)[None, :] <= lag[:, None], autocorrelation, np.inf).min(axis=1)
    low = _periodicity(spectrogram[:, : mels // 2].mean(axis=1), fps)
    high = _periodicity(spectrogram[:, mels // 2 :].mean(axis=1), fps)
    agreement = np.abs(high[:, 1] - lag / fps)
    return np.stack([twice, half, before, low[:, 0], low[:, 1], high[:, 0], high[:, 1], agreement], axis=1)


FAMILIES = {
    "cycle": cycle_features,
    "shape": shape_features,
    "flatness": flatness_features,
    "cepstral": cepstral_features,
    "autocorr": autocorr_features,
}


def _heart_features(signals: list[np.ndarray], params: SoundPreprocessing) -> tuple[dict, np.ndarray]:
    """The current features and every candidate family's, per window, computed once; and each window's recording."""
    x, owners = _sound_rows(signals, params)
    spectrogram = np.asarray(x, dtype=np.float32)[..., 0]
    started = time.perf_counter()
    features = {"default": input_features(x, params)}
    log.info("current features %s in %.1f s", features["default"].shape, time.perf_counter() - started)
    for name, family in FAMILIES.items():
        started = time.perf_counter()
        extra = np.concatenate([family(spectrogram[i : i + 512], params) for i in range(0, len(x), 512)])
        features[name] = np.concatenate([features["default"], extra.astype(np.float32)], axis=1)
        log.info("%s: %d features in %.1f s", name, extra.shape[1], time.perf_counter() - started)
    return features, owners


@contextlib.contextmanager
def _boosting(overrides: dict):
    """`fit_baseline` with these estimator settings, fitted on cached feature rows (its `input_features` skipped)."""
    make = baseline._estimator
    rest = {key: value for key, value in overrides.items() if key not in CONSTANTS}
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(baseline, "input_features", lambda rows, params: rows))
        stack.enter_context(mock.patch.object(baseline, "_estimator", lambda *args: make(*args).set_params(**rest)))
        for key, value in overrides.items():
            if key in CONSTANTS:
                stack.enter_context(mock.patch.object(baseline, CONSTANTS[key], value))
        yield


def _cross_validate(features: np.ndarray, owners: np.ndarray, folds: Folds, params, seed: int, overrides: dict) -> dict:
    """Fold models on cached feature rows; per-recording figures after mean aggregation (`bench.frontend._evaluate`)."""
    started = time.perf_counter()
    per_fold = []
    for split in folds.splits:
        with _boosting(overrides):
            fit = baseline.fit_baseline(fold_data(features, owners, folds, split, params.modality), params, seed=seed)
        probs = np.full((len(features), 2), np.nan, dtype=np.float32)
        rows = np.flatnonzero(np.isin(split[owners], ("val", "test")))
        with one_thread():
            probs[rows] = fit.model.estimator.predict_proba(features[rows])
        per_fold.append(probs)
    result = _evaluate(per_fold, owners, folds, "mean")
    result["seconds"] = round(time.perf_counter() - started, 1)
    log.info("%s: AUROC %.4f, %.0f s", overrides or features.shape[1], result["auc_mean"], result["seconds"])
    return result


def _versus(result: dict, reference: dict) -> dict:
    """`bench.frontend.fold_differences` from the reference, and whether `RULE`'s fold test holds."""
    paired = fold_differences(result, reference)
    gain = paired["auc_diff_mean"] >= MIN_AUC_GAIN and paired["folds_better"] >= MIN_FOLDS_BETTER
    return {**paired, "passes": bool(gain and paired["balanced_accuracy_diff"] >= 0)}


def _heart_inputs() -> tuple[SoundPreprocessing, dict, np.ndarray]:
    """Every development recording decoded once, windowed with the product defaults, and featurised per family."""
    paths, _ = _load("heart", 5, 42)
    params = SoundPreprocessing()
    started = time.perf_counter()
    signals = [decode_audio(path, params.sample_rate) for path in paths]
    log.info("decoded %d recordings in %.0f s", len(signals), time.perf_counter() - started)
    features, owners = _heart_features(signals, params)
    return params, features, owners


def _throat_inputs(image_size: int) -> tuple[ImagePreprocessing, np.ndarray, Folds]:
    """The throat photos' current image features, once, and their folds (seed 42)."""
    paths, folds = _load("throat", 5, 42)
    params = ImagePreprocessing(image_size=image_size)
    return params, input_features(np.stack([load_image(path, params) for path in paths]), params), folds


def _checkpoint(record: dict) -> None:
    """What is measured so far, so an interrupted study on a busy machine keeps it (and `--resume` can use it)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{record['args']['partial']}.json").write_text(json.dumps(record, indent=1, default=float))


def _resume(record: dict, names: list[str]) -> None:
    """Merge the results of earlier (partial) runs into `record`: measured candidates are not measured again."""
    for name in names:
        earlier = json.loads((RESULTS / f"{name}.json").read_text())
        for key, value in earlier.items():
            if key.startswith("seed_"):
                record.setdefault(key, {}).update(value)
            elif key == "throat_default":
                record[key] = value


def _screen_boosting(heart: tuple, throat_size: int, settings: list[str], record: dict) -> None:
    """Seed 42: each boosting setting on the heart sounds; on the throat photos only where the heart result passes."""
    params, features, owners = heart
    _, folds = _load("heart", 5, 42)
    screen = record["seed_42"]
    throat = None
    for name in [name for name in settings if f"boosting: {name}" not in screen]:
        result = _cross_validate(features["default"], owners, folds, params, 42, BOOSTING[name])
        entry = {"kind": "boosting", **result, "versus": _versus(result, screen["default"])}
        screen[f"boosting: {name}"] = entry
        if entry["versus"]["passes"]:
            throat = throat or _throat_inputs(throat_size)
            entry["throat"] = _throat_check(throat, BOOSTING[name], record)
        _checkpoint(record)


def _throat_check(throat: tuple, overrides: dict, record: dict) -> dict:
    """The throat photos' figures under a boosting setting, and whether it costs them more than `MAX_THROAT_LOSS`."""
    throat_params, throat_features, throat_folds = throat
    photos = np.arange(len(throat_features))
    if "throat_default" not in record:
        record["throat_default"] = _cross_validate(throat_features, photos, throat_folds, throat_params, 42, {})
    image = _cross_validate(throat_features, photos, throat_folds, throat_params, 42, overrides)
    loss = record["throat_default"]["auc_mean"] - image["auc_mean"]
    return {**image, "auc_loss": loss, "acceptable": bool(loss <= MAX_THROAT_LOSS)}


def _screen(heart: tuple, families: list[str], record: dict) -> None:
    """Seed 42: the default, then each feature family added to it."""
    params, features, owners = heart
    _, folds = _load("heart", 5, 42)
    screen = record.setdefault("seed_42", {})
    if "default" not in screen:
        screen["default"] = {"kind": "default", **_cross_validate(features["default"], owners, folds, params, 42, {})}
        _checkpoint(record)
    for family in [family for family in families if f"features: {family}" not in screen]:
        result = _cross_validate(features[family], owners, folds, params, 42, {})
        screen[f"features: {family}"] = {"kind": "features", **result, "versus": _versus(result, screen["default"])}
        _checkpoint(record)


def _best_passing(screen: dict, kind: str) -> str | None:
    """The passing candidate of `kind` with the largest mean AUROC gain (boosting: only those the throat allows)."""
    passing = {
        name: entry["versus"]["auc_diff_mean"]
        for name, entry in screen.items()
        if entry["kind"] == kind and entry["versus"]["passes"] and entry.get("throat", {}).get("acceptable", True)
    }
    return max(passing, key=passing.get) if passing else None


def _arm(name: str) -> tuple[str, dict]:
    """The feature set and boosting overrides of a candidate named as in the screen (or a '+'-joined pair)."""
    family, overrides = "default", {}
    for part in name.split(" + "):
        kind, _, value = part.partition(": ")
        if kind == "features":
            family = value
        elif kind == "boosting":
            overrides = {**overrides, **BOOSTING[value]}
    return family, overrides


def _confirm(heart: tuple, names: list[str], seed: int, record: dict) -> dict:
    """Each named candidate against the default on another fold assignment (`seed`)."""
    params, features, owners = heart
    _, folds = _load("heart", 5, seed)
    out = record.setdefault(f"seed_{seed}", {})
    if "default" not in out:
        out["default"] = {"kind": "default", **_cross_validate(features["default"], owners, folds, params, seed, {})}
        _checkpoint(record)
    for name in [name for name in names if name not in out]:
        family, overrides = _arm(name)
        result = _cross_validate(features[family], owners, folds, params, seed, overrides)
        out[name] = {"kind": "confirmation", **result, "versus": _versus(result, out["default"])}
        _checkpoint(record)
    return out


def _decide(heart: tuple, record: dict, confirm_seed: int) -> list[str]:
    """The best passing candidate of each kind, confirmed on `confirm_seed`; combined only if that passes too."""
    adopted = []
    for kind in ("features", "boosting"):
        best = _best_passing(record["seed_42"], kind)
        if best is not None and _confirm(heart, [best], confirm_seed, record)[best]["versus"]["passes"]:
            adopted.append(best)
    if len(adopted) == 2:
        both = " + ".join(adopted)
        checks = [_confirm(heart, [both], seed, record)[both]["versus"]["passes"] for seed in (42, confirm_seed)]
        if all(checks):
            return [both]
        gains = {name: record[f"seed_{confirm_seed}"][name]["versus"]["auc_diff_mean"] for name in adopted}
        return [max(gains, key=gains.get)]
    return adopted


def _table(results: dict, throat_default: dict | None) -> list[str]:
    """Markdown rows: each candidate against that seed's default (mean aggregation, per recording)."""
    lines = [
        "| candidate | features | fold AUROC mean ± sd | fold bal. acc. mean ± sd | ΔAUROC mean ± sd (folds better) "
        "| Δbal. acc. | throat AUROC (Δ) | passes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        v = r.get("versus")
        throat = r.get("throat")
        image = (
            f"{throat['auc_mean']:.3f} ({-throat['auc_loss']:+.3f})"
            if throat
            else (f"{throat_default['auc_mean']:.3f}" if throat_default and name == "default" else "")
        )
        lines.append(
            f"| {name} | {r.get('n_features', '')} | {r['auc_mean']:.4f} ± {r['auc_sd']:.4f} "
            f"| {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_sd']:.3f} "
            + (
                f"| {v['auc_diff_mean']:+.4f} ± {v['auc_diff_sd']:.4f} ({v['folds_better']}/5) "
                f"| {v['balanced_accuracy_diff']:+.3f} | {image} | {'yes' if v['passes'] else 'no'} |"
                if v
                else f"| | | {image} | |"
            )
        )
    return lines


def _report(record: dict, confirm_seed: int) -> None:
    """Save the record and print the decision and the Markdown tables."""
    for key in ("seed_42", f"seed_{confirm_seed}"):
        for name, entry in record.get(key, {}).items():
            entry["n_features"] = record["n_features"][_arm(name)[0]]
    save("baseline_study", record)
    print(f"\n{record['total_seconds'] / 60:.1f} min; adopted: {record['adopted'] or 'nothing'}\n")
    print("\n".join(["seed 42", *_table(record["seed_42"], record.get("throat_default"))]))
    confirm = record.get(f"seed_{confirm_seed}")
    print("\n".join(["", f"seed {confirm_seed}", *_table(confirm, None)]) if confirm else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--boosting", nargs="*", default=list(BOOSTING), choices=list(BOOSTING))
    parser.add_argument("--confirm-seed", type=int, default=43)
    parser.add_argument("--image-size", type=int, default=ImagePreprocessing().image_size)
    parser.add_argument("--partial", default="baseline_study.partial", help="checkpoint name under bench/results")
    parser.add_argument("--resume", nargs="*", default=[], help="checkpoint names whose results are reused")
    parser.add_argument(
        "--confirm", nargs="*", help="measure the default and these candidates on the confirmation seed up front"
    )
    parser.add_argument("--screen-only", action="store_true", help="stop before the decision")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    record = {"rule": RULE, "args": vars(args)}
    _resume(record, args.resume)
    heart = _heart_inputs()
    record["n_features"] = {name: int(rows.shape[1]) for name, rows in heart[1].items()}
    _screen(heart, args.families, record)
    if args.boosting:
        _screen_boosting(heart, args.image_size, args.boosting, record)
    if args.confirm is not None:
        _confirm(heart, args.confirm, args.confirm_seed, record)
    if args.screen_only:
        return
    record["adopted"] = _decide(heart, record, args.confirm_seed)
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    _report(record, args.confirm_seed)


if __name__ == "__main__":
    main()
