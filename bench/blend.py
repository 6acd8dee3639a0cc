"""Does the blend (custom CNN and baseline, probabilities averaged) beat either model on heart sounds? (issue 12)

    nice -n 19 .venv/bin/python -m bench.blend fit [--only PREFIXES]   # here: 10 baseline fits, about 5 min
    .venv/bin/python -m bench.blend report                              # here: seconds
    .venv/bin/python -m bench.blend cv RUN_DIR    # a finished `--cv` run trained without blends: its blend, OOF

The CNN side is the GPU study's (`bench.cnn_gpu`): its inputs and fits (`.gpu_data/`, made by
`bench.cnn_gpu prepare`) and its window probabilities (`bench/results/cnn_gpu_call{1,2,3}.npz`, from
`bench.cnn_gpu train` on a GPU). `fit` trains the product's baseline (`core.training.baseline.fit_baseline`,
seed 42) on exactly the training and validation windows of each CNN fit, so every comparison is paired:
same outer fold, same training part, same validation part (where each model's temperature and Youden
threshold are chosen), same held-out recordings. The blend is what a run serves as `custom_cnn_blend`:
the two models' raw window probabilities averaged with equal weights, then aggregated per recording
(`aggregate_windows`); its temperature and threshold are chosen on its own validation predictions.

Arms (see `bench.cnn_gpu` for the design): "default" (one model per outer fold on 5/6 of the other
folds) and "single" (the default 70/15/15 run on them). The CNN's figures are the mean over its three
training seeds; the baseline is deterministic (one fit).

`cv` judges the blend of a finished cross-validated product run (`bench.real_data heart --models custom_cnn
--cv 5`, trained before runs made blends) with the product's own calls: the parts' out-of-fold frames
blended by `core.training.blend`, judged by `cv_model_report`, compared by `compare_models`, so its
figures are those a run made today would report for `custom_cnn_blend`.

`DECISION_RULE` was fixed before the figures were computed; the blend's equal weights were fixed
before any figure and never tuned.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from bench.cnn_gpu import DATA_FILE, EXTRA_SEEDS, JOBS_FILE, K, Recordings, _part, dequantise, figures

log = logging.getLogger("bench.blend")

DECISION_RULE = (
    "the blend is served as a candidate in every run if, against the CNN alone, its mean outer-fold AUROC is "
    "higher by >= 0.005, higher in >= 4 of 5 folds, and its mean balanced accuracy at its threshold is not "
    "lower, in the default arm; the other arms and the comparison with the baseline are reported, not ruled on"
)
CNN_RESULTS = tuple(Path("bench/results") / f"cnn_gpu_call{n}.npz" for n in (1, 2, 3))
BASELINE_RESULTS = Path("bench/results/blend_baseline.npz")
ARMS = ("default", "single")
KEYS = ("auc", "bacc_youden", "sens_youden", "spec_youden")


def fit_names(roles: dict[str, np.ndarray]) -> list[str]:
    """The seed-42 CNN fits the baseline is paired with: each arm's fit (or members) per outer fold."""
    arms = ("default/o", "single/o")
    return [name for name in roles if name.startswith(arms) and "@" not in name]


def fit(data_dir: Path, only: tuple[str, ...]) -> None:
    """The baseline on each paired fit's training windows, iterations chosen on its validation windows."""
    from core.inputs.preprocess import preprocessing_from_dict
    from core.training.baseline import fit_baseline
    from core.training.fit import SplitData

    with np.load(data_dir / DATA_FILE) as data:
        x, owner, labels, positive = dequantise(data["x"]), data["owner"], data["labels"], int(data["positive"])
        params = preprocessing_from_dict(json.loads(str(data["preprocessing"])))
    roles = {job["name"]: np.array(job["roles"]) for job in json.loads((data_dir / JOBS_FILE).read_text())}
    done = dict(np.load(BASELINE_RESULTS)) if BASELINE_RESULTS.exists() else {}
    for name in fit_names(roles):
        if only and not name.startswith(only):
            continue
        role = roles[name][owner]
        train, val = np.flatnonzero(role == "train"), np.flatnonzero(role == "val")
        split = SplitData(x[train], labels[owner[train]], x[val], labels[owner[val]], "sound", 2)
        fitted = fit_baseline(split, params, seed=42)
        done[name] = fitted.model.predict(x)[:, positive].astype(np.float32)
        log.info("%s: baseline fitted in %.0f s, %d iterations", name, fitted.train_seconds, fitted.best_epoch)
        np.savez(BASELINE_RESULTS, **done)


def _cnn_probs() -> dict[str, np.ndarray]:
    probs = {}
    for path in CNN_RESULTS:
        with np.load(path) as results:
            facts = json.loads(str(results["facts"]))
            probs |= {fact["name"]: p for fact, p in zip(facts, results["probs"], strict=True)}
    return probs


def _judge(rec: Recordings, roles: np.ndarray, window_probs: np.ndarray) -> dict:
    val, test = _part(roles, "val"), _part(roles, "outer")
    return figures(rec, (val, rec.scores(window_probs, val)), (test, rec.scores(window_probs, test)))


def _mean(rows: list[dict]) -> dict:
    return {key: float(np.mean([row[key] for row in rows])) for key in KEYS}


def outer_fold(o: int, cnn: dict, base: dict, roles: dict, rec: Recordings) -> dict:
    """Per arm, the CNN's, the baseline's and the blend's figures on outer fold o (CNN and blend: seed means)."""
    seeds = ("", *(f"@{seed}" for seed in EXTRA_SEEDS))
    out = {}
    for arm in ("default", "single"):
        name = f"{arm}/o{o}"
        cnns = [cnn[n] for n in (name.replace(arm, arm + tag, 1) for tag in seeds) if n in cnn]
        out[arm] = {
            "cnn": _mean([_judge(rec, roles[name], p) for p in cnns]),
            "baseline": _mean([_judge(rec, roles[name], base[name])]),
            "blend": _mean([_judge(rec, roles[name], (p + base[name]) / 2) for p in cnns]),
        }
    return out


def summarise(folds: list[dict]) -> dict:
    """Per arm and model: per-fold figures and means; paired blend - CNN and blend - baseline; the rule."""
    table, paired = {}, {}
    for arm in ARMS:
        for model in ("cnn", "baseline", "blend"):
            values = {key: [fold[arm][model][key] for fold in folds] for key in KEYS}
            table[f"{arm}/{model}"] = {"folds": values, "mean": {k: float(np.mean(v)) for k, v in values.items()}}
        for reference in ("cnn", "baseline"):
            diffs = {
                key: np.subtract(table[f"{arm}/blend"]["folds"][key], table[f"{arm}/{reference}"]["folds"][key])
                for key in KEYS
            }
            paired[f"{arm}: blend - {reference}"] = {
                key: {"folds": d.round(4).tolist(), "mean": float(d.mean()), "higher_in": int((d > 0).sum())}
                for key, d in diffs.items()
            }
    rule = paired["default: blend - cnn"]
    passes = rule["auc"]["mean"] >= 0.005 and rule["auc"]["higher_in"] >= 4 and rule["bacc_youden"]["mean"] >= 0
    return {"decision_rule": DECISION_RULE, "passes": bool(passes), "models": table, "paired": paired}


def markdown(summary: dict) -> str:
    lines = ["| arm | model | AUROC mean | per-fold AUROC | BA (threshold) | sens. / spec. |", "|" + " --- |" * 6]
    for name, row in summary["models"].items():
        arm, model = name.split("/")
        m = row["mean"]
        folds = " ".join(f"{v:.3f}" for v in row["folds"]["auc"])
        lines.append(
            f"| {arm} | {model} | {m['auc']:.3f} | {folds} | {m['bacc_youden']:.3f} | "
            f"{m['sens_youden']:.3f} / {m['spec_youden']:.3f} |"
        )
    lines += ["", "| paired (per outer fold) | ΔAUROC (higher in) | ΔBA (higher in) |", "|" + " --- |" * 3]
    for pair, d in summary["paired"].items():
        lines.append(
            f"| {pair} | {d['auc']['mean']:+.4f} ({d['auc']['higher_in']}/5) | "
            f"{d['bacc_youden']['mean']:+.4f} ({d['bacc_youden']['higher_in']}/5) |"
        )
    lines.append(f"\nRule ({summary['decision_rule']}): {'passes' if summary['passes'] else 'fails'}")
    return "\n".join(lines)


def report(data_dir: Path) -> dict:
    from bench.results_io import save

    with np.load(data_dir / DATA_FILE) as data:
        rec = Recordings(data["owner"], data["labels"], int(data["positive"]))
    roles = {job["name"]: np.array(job["roles"]) for job in json.loads((data_dir / JOBS_FILE).read_text())}
    base = dict(np.load(BASELINE_RESULTS))
    missing = [name for name in fit_names(roles) if name not in base]
    if missing:
        raise SystemExit(f"error: no baseline for {len(missing)} fits (first {missing[0]}); run `bench.blend fit`")
    cnn = _cnn_probs()
    folds = [outer_fold(o, cnn, base, roles, rec) for o in range(K)]
    summary = summarise(folds)
    save("blend", {**summary, "per_fold": folds})
    print(markdown(summary))
    return summary


def _headline(report: dict) -> dict:
    headline = report["levels"][report["level"]]
    keys = ("n", "auc", "auc_ci", "balanced_accuracy", "balanced_accuracy_ci", "sensitivity_at_90_specificity")
    return {key: headline[key] for key in keys} | {"operating_point": headline["operating_point"]}


def cv(run_dir: Path, model: str = "custom_cnn") -> dict:
    """The out-of-fold figures of `model`, the baseline and their blend in a finished `--cv` run, paired."""
    from bench.results_io import save
    from core.config import BASELINE
    from core.evaluation.comparisons import compare_models, versus
    from core.evaluation.levels import cv_model_report, prediction_set
    from core.inputs.preprocess import preprocessing_from_dict
    from core.store.artifacts import read_json
    from core.store.layout import RunLayout
    from core.training.blend import blend_frames, read_frames

    layout = RunLayout(run_dir)
    classes = read_json(layout.classes)
    names = classes["class_names"]
    positive = names.index(classes["positive_class"])
    params = preprocessing_from_dict(read_json(layout.preprocessing))
    frames = {name: read_frames(layout.model(name), "test") for name in (model, BASELINE)}
    blended = blend_frames([frames[model], frames[BASELINE]], names, params)
    blend, reports = f"{model}_blend", {name: read_json(layout.model(name).report) for name in frames}
    reports[blend] = cv_model_report(blend, blended, class_names=names, positive=positive, seed=42)
    frames[blend] = blended
    headlines = {name: report["levels"][report["level"]] for name, report in reports.items()}
    tests = {name: prediction_set(frames[name][0], names) for name in reports}
    comparisons = compare_models(tests, headlines, positive=positive, seed=42)
    pairs = ((blend, model), (blend, BASELINE), (model, BASELINE))
    record = {
        "run_id": layout.run_id,
        "figures": {name: _headline(report) for name, report in reports.items()},
        "versus": {f"{a} vs {b}": versus(comparisons, a, b) for a, b in pairs},
    }
    save(f"blend_cv_{layout.run_id}", record)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("fit", "report", "cv"))
    parser.add_argument("run", nargs="?", type=Path, help="cv: the finished cross-validated run's folder")
    parser.add_argument("--data", type=Path, default=Path(".gpu_data"))
    parser.add_argument("--only", default="", help="comma-separated fit-name prefixes, e.g. default/o0,single")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.step == "fit":
        fit(args.data, tuple(p for p in args.only.split(",") if p))
    elif args.step == "cv":
        cv(args.run)
    else:
        report(args.data)


if __name__ == "__main__":
    main()
