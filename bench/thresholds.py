"""Choose the two-class threshold rule by repeated grouped splits of the development sets.

Usage (from the repository root; the machine is shared, so run it niced):
    nice -n 19 .venv/bin/python -m bench.thresholds heart [--repeats 20] [--seed 42]
    nice -n 19 .venv/bin/python -m bench.thresholds throat
    nice -n 19 .venv/bin/python -m bench.thresholds demo           # the synthetic heart sounds (core.data.demo)
    .venv/bin/python -m bench.thresholds saved RUN/models/MODEL    # a run's saved val/test predictions
    nice -n 19 .venv/bin/python -m bench.thresholds cv-gap heart [--folds 5] [--seed 42]

Each repetition splits the set as a default run does (`core.data.splits.assign_splits`,
70/15/15 over linked units, a different seed per repetition), fits the product's
`baseline` on it (`core.training.baseline.fit_baseline`, through the run's own
`Prepared` and `predict_part`; inputs are preprocessed once into the product's
input cache, kept in `INPUT_CACHE` for later runs), and calls the test
part under each candidate rule, fitted on the validation part only:

- `youden`: Youden's J on temperature-calibrated validation probabilities (the
  product's rule: `core.evaluation.report.decision_rules`);
- `balanced`: the fixed cut 0.5. Both models train with balanced class weights,
  so 0.5 is the cut for balanced accuracy if the weighting holds; temperature
  scaling keeps 0.5 fixed for two classes, so nothing is fitted;
- `youden_bagged`: the mean of Youden thresholds over `BAGS` bootstrap resamples of
  the calibrated validation part. Youden's J is an argmax over a step function, so on
  a small validation part its threshold jumps between neighbouring scores;
  bagging is the standard cure for the variance of such an estimator, and it
  needs no more data.

Per set: test balanced accuracy, sensitivity and specificity as mean ± sd
over repetitions, the paired difference from `youden`, and the sd of the
chosen threshold. `oracle` (Youden's J on the test
part itself) is no rule: it shows how much a perfect threshold could add.
Never is a threshold fitted on a test part. `saved` applies the rules to one
run's saved predictions (one split: supporting evidence, not a decision).

`cv-gap` measures what the README admits for `--cv K`: the served threshold
is fitted on single fold models' out-of-fold probabilities, while the served
model averages the K fold models. A grouped 20% is held out
(`assign_splits`' test part), a `--cv K` baseline run is trained on the rest
through `core.training.run.train_run`, and the served model (the TF-free
`core.serving.predictor.Predictor`, the run's fitted operating point)
predicts the held-out files; its sensitivity, specificity and balanced
accuracy there are set beside the run's cross-fitted figures, at the served
Youden threshold and at 0.5.

Writes bench/results/thresholds_<set>.json and prints a Markdown table for
docs/benchmarks.md.

Decision rule, fixed before any result was seen (`DECISION_RULE`): a candidate
replaces `youden` as the default only if its mean test balanced accuracy is
not lower than youden's on heart and on throat, and its mean test sensitivity
on heart is not lower than youden's. If more than one passes, the one with the
higher mean balanced accuracy over the two sets wins; exact ties keep youden.
The demo set and a CNN's saved split are supporting evidence only.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.real_data import DATASETS
from bench.results_io import save
from core.config import BASELINE, DataOptions, TrainConfig
from core.data.audit import audit_dataset
from core.data.dataset import load_dataset
from core.data.demo import generate_demo_data
from core.data.splits import assign_splits, linked_units, split_table
from core.errors import CoreError
from core.evaluation.decision import apply_temperature
from core.evaluation.levels import prediction_levels, prediction_set
from core.evaluation.metrics import roc_auc, sensitivity_specificity, youden_threshold
from core.evaluation.report import Predictions, decision_rules, evaluate_cross_fitted
from core.inputs.preprocess import ImagePreprocessing, Preprocessing, SoundPreprocessing
from core.serving.predictor import Predictor
from core.store.artifacts import read_json
from core.store.layout import ArtifactsLayout, RunLayout
from core.training.baseline import fit_baseline
from core.training.encode import Encoded, encode
from core.training.run import choose_positive, train_run
from core.training.steps import Prepared, predict_part

log = logging.getLogger("bench.thresholds")
RULES = ("youden", "balanced", "youden_bagged", "oracle")
BALANCED_CUT = 0.5
HELD_OUT_SPLIT = (0.65, 0.15, 0.2)  # only the "test" 20% is used: held out from a `--cv K` run
BAGS = 200
INPUT_CACHE = Path(tempfile.gettempdir()) / "bench_thresholds_input_cache"
DECISION_RULE = (
    "replace youden only if the candidate's mean test balanced accuracy is not lower on heart and on throat "
    "and its mean test sensitivity on heart is not lower; of several, the higher mean balanced accuracy over "
    "the two sets; exact ties keep youden"
)


def _bagged_youden(val: Predictions, positive: int, seed: int) -> float:
    """Mean Youden threshold over bootstrap resamples of the (calibrated) validation items."""
    rng = np.random.default_rng(seed)
    scores, n = val.probs[:, positive], len(val.labels)
    draws = (rng.integers(0, n, n) for _ in range(BAGS))
    return float(np.mean([youden_threshold(val.labels[rows], scores[rows], positive=positive) for rows in draws]))


def thresholds(val: Predictions, test: Predictions, positive: int, seed: int) -> dict[str, tuple[float, float]]:
    """(temperature, threshold) per rule, each fitted on `val` only but the oracle's."""
    temperature, point = decision_rules(val, positive=positive)
    out = {"youden": (temperature, point["threshold"]), "balanced": (temperature, BALANCED_CUT)}
    calibrated_val = Predictions(val.labels, apply_temperature(val.probs, temperature))
    out["youden_bagged"] = (temperature, _bagged_youden(calibrated_val, positive, seed))
    calibrated_test = apply_temperature(test.probs, temperature)[:, positive]
    out["oracle"] = (temperature, youden_threshold(test.labels, calibrated_test, positive=positive))
    return out


def called(val: Predictions, test: Predictions, positive: int, seed: int) -> dict[str, dict]:
    """Test sensitivity, specificity and balanced accuracy under each rule, with its threshold."""
    out = {}
    for rule, (temperature, threshold) in thresholds(val, test, positive, seed).items():
        scores = apply_temperature(test.probs, temperature)[:, positive]
        sens, spec = sensitivity_specificity(test.labels, scores, threshold=threshold, positive=positive)
        out[rule] = {"threshold": threshold, "sensitivity": sens, "specificity": spec, "balanced": (sens + spec) / 2}
    return out


@dataclass
class Loaded:
    """A development set as a run sees it before splitting: usable items, labels, linked units, cached inputs."""

    usable: list
    hashes: dict
    labels: np.ndarray
    units: np.ndarray
    class_names: list[str]
    positive: int
    params: Preprocessing
    encoded: Encoded


def load(data: DataOptions, params_by_modality: dict, cache: Path | None) -> Loaded:
    """Audit, label, link and encode a set as `core.training.run.train_run` does (`cache` None: no input cache)."""
    dataset = load_dataset(
        data.sources, label_map=data.label_map, group_column=data.group_column, group_pattern=data.group_pattern
    )
    _, usable, hashes = audit_dataset(dataset)
    class_names = sorted({item.label for item in usable})
    labels = np.array([class_names.index(item.label) for item in usable])
    units = linked_units([(item.group, hashes[item.path]) for item in usable])
    params = params_by_modality[dataset.modality]
    encoded = encode(usable, params, cache_dir=cache, hashes=hashes)
    positive = choose_positive(class_names, data.positive_class)
    return Loaded(usable, hashes, labels, units, class_names, positive, params, encoded)


def repetition(loaded: Loaded, seed: int) -> dict:
    """One default-shaped split, the baseline fitted on it, and every rule's test figures (headline level)."""
    split = assign_splits(loaded.labels, loaded.units, fractions=DataOptions(sources=("-",)).split, seed=seed)
    table = split_table(loaded.usable, loaded.hashes, loaded.units, split)
    run = Prepared(table, loaded.labels, loaded.class_names, loaded.positive, loaded.params, loaded.encoded)
    fit = fit_baseline(run.split_data(), run.params, seed=seed)
    frames = {part: predict_part(fit.model.predict_outputs, run, part)[0] for part in ("val", "test")}
    levels = prediction_levels(frames, run.class_names)
    val, test = levels[next(iter(levels))]
    figures = called(val, test, run.positive, seed)
    figures["auc"] = roc_auc(test.labels, test.probs, positive=run.positive)
    figures["n_val"], figures["n_test"] = len(val.labels), len(test.labels)
    return figures


def summarise(reps: list[dict]) -> dict:
    """Mean and sd over repetitions per rule, and the paired difference from youden."""
    out = {"auc_mean": float(np.mean([r["auc"] for r in reps])), "repetitions": len(reps)}
    for rule in RULES:
        row = {}
        for figure in ("balanced", "sensitivity", "specificity", "threshold"):
            values = np.array([r[rule][figure] for r in reps], dtype=float)
            row[f"{figure}_mean"], row[f"{figure}_sd"] = float(values.mean()), float(values.std(ddof=1))
        diffs = np.array([r[rule]["balanced"] - r["youden"]["balanced"] for r in reps])
        row["balanced_diff_mean"], row["balanced_diff_sd"] = float(diffs.mean()), float(diffs.std(ddof=1))
        row["balanced_better_in"] = int((diffs > 0).sum())
        row["balanced_worse_in"] = int((diffs < 0).sum())
        out[rule] = row
    return out


def table(summary: dict) -> list[str]:
    """Markdown rows, one per rule."""
    lines = [
        "| rule | bal. acc. mean ± sd | sensitivity mean ± sd | specificity mean ± sd | threshold mean ± sd "
        "| Δbal. acc. vs youden (better/worse reps) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule in RULES:
        r = summary[rule]
        lines.append(
            f"| {rule} | {r['balanced_mean']:.3f} ± {r['balanced_sd']:.3f} "
            f"| {r['sensitivity_mean']:.3f} ± {r['sensitivity_sd']:.3f} "
            f"| {r['specificity_mean']:.3f} ± {r['specificity_sd']:.3f} "
            f"| {r['threshold_mean']:.3f} ± {r['threshold_sd']:.3f} "
            f"| {r['balanced_diff_mean']:+.3f} ± {r['balanced_diff_sd']:.3f} "
            f"({r['balanced_better_in']}/{r['balanced_worse_in']}) |"
        )
    return lines


def saved_split(folder: Path) -> dict:
    """Every rule on one run's saved recording/item-level val and test predictions of one model."""
    classes = json.loads((folder.parents[1] / "classes.json").read_text())
    names, positive = classes["class_names"], classes["class_names"].index(classes["positive_class"])
    val, test = (prediction_set(pd.read_csv(folder / f"predictions_{part}.csv"), names) for part in ("val", "test"))
    figures = called(val, test, positive, seed=0)
    figures["auc"] = roc_auc(test.labels, test.probs, positive=positive)
    return figures


def _held_out_run(loaded: Loaded, data: DataOptions, folds: int, seed: int, workdir: Path) -> tuple[Path, list]:
    """A `--cv K` baseline run (`train_run`) on all but a grouped 20%; returns its folder and the held-out items."""
    held = assign_splits(loaded.labels, loaded.units, fractions=HELD_OUT_SPLIT, seed=seed) == "test"
    kept = [item for item, out in zip(loaded.usable, held, strict=True) if not out]
    manifest = workdir / "manifest.csv"
    pd.DataFrame({"path": [str(i.path) for i in kept], "label": [i.label for i in kept]}).to_csv(manifest, index=False)
    options = DataOptions(
        sources=(str(manifest),), name=f"{data.name}-cv-gap", group_pattern=data.group_pattern, cv=folds
    )
    artifacts = workdir / "artifacts"
    run_id, _ = train_run(
        options,
        TrainConfig(models=(BASELINE,), seed=seed),
        artifacts_dir=artifacts,
        input_cache=INPUT_CACHE,
        **{loaded.params.modality: loaded.params},
    )
    return ArtifactsLayout(artifacts).run(run_id).dir, [
        item for item, out in zip(loaded.usable, held, strict=True) if out
    ]


def _served_calls(run_dir: Path, held: list, positive_name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The served ensemble's calibrated positive probabilities on the held-out items (TF-free `Predictor`), refusals."""
    predictor = Predictor(run_dir, BASELINE)
    labels, scores, refused = [], [], 0
    for item in held:
        try:
            prediction = predictor.predict(item.path)
        except CoreError:
            refused += 1
            continue
        labels.append(int(item.label == positive_name))
        scores.append(prediction.probabilities[positive_name])
    return np.array(labels), np.array(scores), refused


def _gap(threshold: float, cross_fitted: tuple[float, float], labels: np.ndarray, scores: np.ndarray) -> dict:
    """The run's cross-fitted sensitivity and specificity beside what the served model reaches on held-out items."""
    sens, spec = sensitivity_specificity(labels, scores, threshold=threshold, positive=1)
    return {
        "threshold": threshold,
        "cross_fitted": {
            "sensitivity": cross_fitted[0],
            "specificity": cross_fitted[1],
            "balanced": sum(cross_fitted) / 2,
        },
        "held_out": {"sensitivity": sens, "specificity": spec, "balanced": (sens + spec) / 2},
    }


def cv_gap(name: str, folds: int, seed: int, workdir: Path) -> dict:
    """The served `--cv K` model on a held-out 20% versus the run's cross-fitted estimates: Youden's J and 0.5."""
    data = DATASETS[name]
    loaded = load(data, {"sound": SoundPreprocessing(), "image": ImagePreprocessing()}, INPUT_CACHE)
    run_dir, held = _held_out_run(loaded, data, folds, seed, workdir)
    positive_name = loaded.class_names[loaded.positive]
    labels, scores, refused = _served_calls(run_dir, held, positive_name)
    layout = RunLayout(run_dir).model(BASELINE)
    report = read_json(layout.report)
    oof = pd.read_csv(layout.predictions("test"))
    out = {
        "run": run_dir.name,
        "held_out": len(held),
        "refused": refused,
        "held_out_auc": roc_auc(labels, np.stack([1 - scores, scores], axis=1)),
    }
    oof_set = prediction_set(oof, loaded.class_names)
    estimate = evaluate_cross_fitted(
        oof_set, oof["fold"].to_numpy(), class_names=loaded.class_names, positive=loaded.positive, n_resamples=200
    )
    point = estimate["operating_point"]
    out["youden"] = _gap(point["threshold"], (point["sensitivity"], point["specificity"]), labels, scores)
    # 0.5 is fitted on nothing and temperatures keep it in place: cross-fitted calls are raw OOF probabilities >= 0.5.
    oof_scores = oof_set.probs[:, loaded.positive]
    at_half = sensitivity_specificity(oof_set.labels, oof_scores, threshold=BALANCED_CUT, positive=loaded.positive)
    out["balanced"] = _gap(BALANCED_CUT, at_half, labels, scores)
    out["stored_operating_point"] = report["levels"][report["level"]]["operating_point"]
    return out


def _dataset(name: str, demo_root: Path) -> DataOptions:
    if name != "demo":
        return DATASETS[name]
    folder = generate_demo_data(demo_root, per_class=60)["heart_sounds"]
    return DataOptions(sources=(str(folder),), name="synthetic-heart-sounds")


def _repeated(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as demo_root:
        params = {"sound": SoundPreprocessing(), "image": ImagePreprocessing()}
        loaded = load(_dataset(args.dataset, Path(demo_root)), params, INPUT_CACHE)
        reps = []
        for index in range(args.repeats):
            reps.append(repetition(loaded, args.seed + index))
            log.info("repetition %d: %s", index, {rule: round(reps[-1][rule]["balanced"], 3) for rule in RULES})
    summary = summarise(reps)
    record = {
        "dataset": args.dataset,
        "args": {k: str(v) for k, v in vars(args).items()},
        "decision_rule": DECISION_RULE,
        "total_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "repetitions": reps,
    }
    save(f"thresholds_{args.dataset}", record)
    print(f"\n{args.dataset}: {args.repeats} repetitions, test AUROC mean {summary['auc_mean']:.3f}\n")
    print("\n".join(table(summary)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=(*sorted(DATASETS), "demo", "saved", "cv-gap"))
    parser.add_argument("folder", nargs="?", help="saved: a run's models/<model> folder; cv-gap: heart or throat")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.dataset == "saved":
        figures = saved_split(Path(args.folder))
        save(f"thresholds_saved_{Path(args.folder).parents[1].name}", {"folder": args.folder, "figures": figures})
    elif args.dataset == "cv-gap":
        with tempfile.TemporaryDirectory() as workdir:
            gap = cv_gap(args.folder, args.folds, args.seed, Path(workdir))
        save(f"thresholds_cv_gap_{args.folder}_seed{args.seed}", gap)
    else:
        _repeated(args)


if __name__ == "__main__":
    main()
