"""GPU evidence for the custom CNN's defaults on heart sounds (issue 12): ensembles, thresholds, variants.

Three steps, on two machines (one file, so the protocol lives in one place):

    # here (the project venv, TensorFlow-backed Keras): the product's inputs, splits, stats and weights
    nice -n 19 .venv/bin/python -m bench.cnn_gpu prepare [--out .gpu_data]
    # on a GPU machine with JAX and Keras 3 (no TensorFlow there): every fit, window probabilities back
    KERAS_BACKEND=jax python -m bench.cnn_gpu train --data .gpu_data --out DIR [--workers 8] [--budget-s 540]
    # here: figures from the probabilities, with the product's metrics and decision rules
    .venv/bin/python -m bench.cnn_gpu report --results DIR/cnn_gpu_results.npz [MORE_DIR/cnn_gpu_results.npz]

What it answers, all on the 850 recordings of ../shared/data/heart-sounds-dev, at the recording level
(window probabilities averaged per recording, `core.inputs.preprocess.aggregate_windows`):

1. Does the `--cv 5` ensemble beat one model on recordings neither saw? Outer folds: the product's
   grouped, stratified `assign_folds` (k=5, seed 42) over its linked units. For each outer fold o, the
   other four folds are a development set D, treated as the product would treat `--data D`:
   - "single": the default run on D (`assign_splits`, 70/15/15 of D: trained on 70%, early stopping
     and the threshold on 15%; its own 15% test part is not used);
   - "ensemble": `--cv 5` on D (`assign_folds` + `fold_split` of D, validation share 0.15/0.85): five
     members, their window probabilities averaged (as `core.training.cv.keras_ensemble` serves them),
     its threshold chosen on the members' out-of-fold predictions of D (as `cv_model_report` serves);
   - "member": each member alone, threshold on its own validation part (five single models per outer
     fold, paired with the ensemble they make up);
   - "default": fold o's own `fold_split` of all 850 (train 5/6, validation 1/6 of D): the most of D one
     model can train on and keep a validation part; these are also the "default" of question 3.
   The training seed (weights, shuffling, augmentation; never the splits) is 42; "single" is fitted
   again with seeds 43 and 44 and the members with 43, so a difference can be told from the luck of one
   seed (`EXTRA_SEEDS`; arms named `<arm>@<seed>`, and `<arm>_seeds<n>` for the per-fold mean over seeds).
   Every model is tested on outer fold o.
2. The threshold: at each test, the balanced accuracy, sensitivity and specificity at (a) Youden's
   threshold on the validation predictions after `fit_temperature` (today's rule) and (b) 0.5.
3. Variants by the same outer 5-fold CV (the "default" fits): wider filters, dropout 0.5, more epochs
   and patience, and window aggregation "max" (no refit). `DECISION_RULE` was fixed in advance; a variant
   that passes with seed 42 is fitted again with `EXTRA_SEEDS` and must pass again on the seed means.

How the training mirrors `core.training.fit._fit_custom_cnn` and where it differs:
- same: `build_custom_cnn` with `input_stats` from `core.training.fit.channel_stats` of the training
  windows (computed here in `prepare`, on the quantised inputs the GPU sees), the sound augmenter of
  `core.training.augment.build_augmenter` (seed 42, standard), 'balanced' class weights from
  `core.training.fit.class_weights` (also computed in `prepare`), Adam 1e-3, batch 32, sparse
  cross-entropy, EarlyStopping(val_loss, patience 8, best weights restored), ReduceLROnPlateau(0.5,
  patience 3, min_lr 1e-6), 30 epochs, seed 42 (`keras.utils.set_random_seed`), float32;
- different: the JAX backend (no TensorFlow on the GPU machine), so no `tf.data`: the arrays are fed
  to `Model.fit` directly (Keras shuffles each epoch), and the augmenter runs inside the compiled
  training step as the first layer of a training-only wrapper model (it is the identity when not
  training, so validation and prediction see plain inputs, as in the product); the random streams
  (weights, shuffling, augmentation) are therefore not the product's; the inputs are the product's
  [0, 1] log-mel windows quantised to uint8 (error at most 1/510) so data and wheels travel in 64 MiB;
  JAX's matrix precision is set to full float32 (no TF32), like the CPU runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

log = logging.getLogger("bench.cnn_gpu")

K = 5
SEED = 42
EXTRA_SEEDS = (43, 44)
# Variants fitted again with EXTRA_SEEDS, to confirm a win of one seed (fixed before the confirmation run:
# `DECISION_RULE` again, on per-fold figures averaged over the three seeds).
RESEEDED_VARIANTS = ("default", "wide")
VAL_SHARE = 0.15 / 0.85  # the validation share of a fold's development part, as a 70/15/15 run's
DATA_FILE = "heart_inputs.npz"
JOBS_FILE = "jobs.json"
RESULTS_FILE = "cnn_gpu_results.npz"
VARIANTS = {
    "default": {},
    "wide": {"filters": (32, 64, 128, 256)},
    "dropout_0.5": {"dropout": 0.5},
    "long": {"epochs": 60, "patience": 12},
}
# Said before looking: a variant replaces the default only if its mean outer-fold AUROC is higher by at
# least 0.005, it is higher in at least 4 of 5 folds, and its mean balanced accuracy (Youden) is not lower.
DECISION_RULE = (
    "replace the default only if mean fold AUROC is higher by >= 0.005, higher in >= 4 of 5 folds, "
    "and mean balanced accuracy (validation Youden) is not lower"
)


@dataclass
class Job:
    """One fit: which items it trains and validates on, and the options that differ from the defaults."""

    name: str
    roles: list[str]  # per item: "train", "val" or "-" (unused by this fit)
    stats: tuple[list[float], list[float]]  # channel_stats of its training windows
    weights: dict[int, float]  # class_weights of its training windows
    filters: tuple[int, ...] = (16, 32, 64, 128)
    dropout: float = 0.3
    epochs: int = 30
    patience: int = 8
    seed: int = SEED  # of the weights, shuffling and augmentation; the splits always use SEED
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------- prepare (here, with the product's own code)


def quantise(x: np.ndarray) -> np.ndarray:
    """[0, 1] float inputs to uint8 (at most 1/510 off): the data must travel in 64 MiB with the wheels."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def dequantise(q: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) / np.float32(255.0)


def _roles(n: int, members: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Per item: `parts` for the items `members` (train/val/test of a development set), "outer" elsewhere."""
    roles = np.full(n, "outer", dtype=object)
    roles[members] = parts
    return roles


def _job(name: str, roles: np.ndarray, x: np.ndarray, owner: np.ndarray, labels: np.ndarray, **options) -> Job:
    """A fit on the items whose role is train/val, with its training windows' stats and class weights."""
    from core.training.fit import channel_stats, class_weights

    train_rows = np.flatnonzero(roles[owner] == "train")
    mean, variance = channel_stats(dequantise(x[train_rows]))
    weights = class_weights(labels[owner[train_rows]], 2)
    return Job(name, list(roles), (mean.tolist(), variance.tolist()), weights, **options)


def design(labels: np.ndarray, units: np.ndarray, x: np.ndarray, owner: np.ndarray) -> list[Job]:
    """Every fit, most important first: per outer fold the five members, the single run, the default
    on the whole development part; then the variants, one variant's five folds at a time."""
    from core.data.splits import assign_folds, assign_splits, fold_split

    text, n = labels.astype(str), len(labels)
    outer = assign_folds(text, units, k=K, seed=SEED)
    first, variants = [], []
    for o in range(K):
        dev = np.flatnonzero(outer != o)
        inner = assign_folds(text[dev], units[dev], k=K, seed=SEED)
        for f in range(K):
            part = fold_split(inner, f, text[dev], units[dev], val_fraction=VAL_SHARE, seed=SEED)
            meta = {"arm": "member", "outer": o, "inner": f}
            first.append(_job(f"member/o{o}/f{f}", _roles(n, dev, part), x, owner, labels, meta=meta))
        part = assign_splits(text[dev], units[dev], seed=SEED)
        meta = {"arm": "single", "outer": o}
        first.append(_job(f"single/o{o}", _roles(n, dev, part), x, owner, labels, meta=meta))
        roles = fold_split(outer, o, text, units, val_fraction=VAL_SHARE, seed=SEED).astype(object)
        roles[roles == "test"] = "outer"
        for variant, options in VARIANTS.items():
            meta = {"arm": "variant", "variant": variant, "outer": o}
            job = _job(f"{variant}/o{o}", roles, x, owner, labels, meta=meta, **options)
            (first if variant == "default" else variants).append(job)
    variants.sort(key=lambda job: list(VARIANTS).index(job.meta["variant"]))
    return first + variants + reseeded(first, ("single", "member")) + reseeded(first + variants, RESEEDED_VARIANTS)


def reseeded(jobs: list[Job], prefixes: tuple[str, ...]) -> list[Job]:
    """Jobs named `prefix/...` again with `EXTRA_SEEDS` (members with the first only): how much of a
    difference between two arms is the luck of one training seed."""
    extra = []
    for seed in EXTRA_SEEDS:
        for job in jobs:
            prefix = job.name.split("/")[0]
            if prefix in prefixes and (prefix != "member" or seed == EXTRA_SEEDS[0]):
                name = job.name.replace(prefix, f"{prefix}@{seed}", 1)
                extra.append(replace(job, name=name, seed=seed, meta={**job.meta, "seed": seed}))
    return extra


def prepare(out: Path) -> None:
    """The product's heart inputs (audit, linked units, default `SoundPreprocessing`, `encode`), and the jobs."""
    from bench.real_data import DATASETS
    from bench.thresholds import load
    from core.inputs.preprocess import SoundPreprocessing

    loaded = load(DATASETS["heart"], {"sound": SoundPreprocessing()}, None)
    labels, units, params, encoded = loaded.labels, loaded.units, loaded.params, loaded.encoded
    x = quantise(np.asarray(encoded.x[0 : len(encoded.x)]))
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / DATA_FILE,
        x=x,
        owner=encoded.owner,
        labels=labels,
        units=units,
        paths=np.array([str(item.path) for item in loaded.usable]),
        class_names=np.array(loaded.class_names),
        positive=np.array(loaded.positive),
        preprocessing=np.array(json.dumps(params.to_dict())),
    )
    jobs = design(labels, units, x, encoded.owner)
    (out / JOBS_FILE).write_text(json.dumps([asdict(job) for job in jobs]))
    log.info("%d recordings, %d windows %s, %d jobs -> %s", len(labels), len(x), x.shape[1:], len(jobs), out)


# ---------------------------------------------------------------- train (the GPU machine: Keras on JAX)

_DATA: dict = {}


def _init_worker(data_dir: str, smoke: bool, workers: int) -> None:
    """Each worker holds the inputs once; workers share the GPU memory equally, and one compilation cache."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.85 / workers:.3f}")
    if os.environ["KERAS_BACKEND"] == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")  # float32 as on CPU, not TF32
        jax.config.update("jax_compilation_cache_dir", "/tmp/jax_cache")
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    with np.load(Path(data_dir) / DATA_FILE) as data:
        _DATA.update(
            x=dequantise(data["x"]), owner=data["owner"], labels=data["labels"], positive=int(data["positive"])
        )
    _DATA["smoke"] = smoke


def _rows(roles: np.ndarray, role: str) -> np.ndarray:
    rows = np.flatnonzero(roles[_DATA["owner"]] == role)
    return rows[:96] if _DATA["smoke"] else rows


def fit_job(job: dict) -> dict:
    """Train one custom CNN as `core.training.fit._fit_custom_cnn` does; its probabilities for every window."""
    import keras

    from core.training.augment import build_augmenter
    from core.training.models import build_custom_cnn

    started = time.perf_counter()
    x, owner, labels = _DATA["x"], _DATA["owner"], _DATA["labels"]
    roles = np.array(job["roles"], dtype=object)
    train, val = _rows(roles, "train"), _rows(roles, "val")
    keras.utils.set_random_seed(job["seed"])
    stats = tuple(np.array(part, dtype=np.float32) for part in job["stats"])
    model = build_custom_cnn(x.shape[1:], 2, filters=tuple(job["filters"]), dropout=job["dropout"], input_stats=stats)
    augmenter = build_augmenter("sound", seed=job["seed"], strength="standard")
    inputs = keras.Input(shape=x.shape[1:], name="input")
    trainer = keras.Model(inputs, model(augmenter(inputs)))  # augments when training only, like `batches`
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"]
    )
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=job["patience"], restore_best_weights=True)
    reducer = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6)
    history = trainer.fit(
        x[train],
        labels[owner[train]],
        validation_data=(x[val], labels[owner[val]]),
        batch_size=32,
        epochs=1 if _DATA["smoke"] else job["epochs"],
        class_weight={int(k): v for k, v in job["weights"].items()},
        callbacks=[stopper, reducer],
        shuffle=True,
        verbose=0,
    )
    fitted = time.perf_counter() - started
    probs = model.predict(x[:256] if _DATA["smoke"] else x, batch_size=64, verbose=0)[:, _DATA["positive"]]
    return {
        "name": job["name"],
        "probs": probs.astype(np.float32),
        "best_epoch": int(stopper.best_epoch) + 1,
        "epochs_run": len(history.history["loss"]),
        "val_loss": [float(v) for v in history.history["val_loss"]],
        "fit_seconds": round(fitted, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "pid": os.getpid(),
    }


def _save(out: Path, done: list[dict]) -> None:
    """All finished fits in one file (written whole after each fit, so a cut-off run keeps what it finished)."""
    facts = [{key: value for key, value in result.items() if key != "probs"} for result in done]
    tmp = out / "partial.npz"
    np.savez(tmp, probs=np.stack([r["probs"] for r in done]), facts=np.array(json.dumps(facts)))
    os.replace(tmp, out / RESULTS_FILE)


def train(data_dir: Path, out: Path, *, workers: int, budget_s: float, only: str | None, smoke: bool) -> None:
    """Run the jobs on `workers` processes sharing the GPU; start no fit that would end past `budget_s`."""
    import multiprocessing

    jobs = json.loads((data_dir / JOBS_FILE).read_text())
    jobs = [job for job in jobs if only is None or job["name"].startswith(tuple(only.split(",")))]
    jobs = jobs[:2] if smoke else jobs
    out.mkdir(parents=True, exist_ok=True)
    started, done, slowest = time.monotonic(), [], 0.0
    pool = multiprocessing.get_context("spawn").Pool(workers, _init_worker, (str(data_dir), smoke, workers))
    try:
        queue, running = list(jobs), []
        while queue or running:
            elapsed = time.monotonic() - started
            while queue and len(running) < workers and elapsed + 1.15 * slowest * _cost(queue[0]) < budget_s:
                job = queue.pop(0)
                running.append((job, pool.apply_async(fit_job, (job,))))
            if not running:
                break
            time.sleep(0.5)
            for item in [entry for entry in running if entry[1].ready()]:
                running.remove(item)
                try:
                    result = item[1].get()
                except Exception as exc:  # one failed fit (GPU memory, say) must not lose the others
                    log.error("%s failed: %s", item[0]["name"], str(exc).splitlines()[0][:300])
                    continue
                done.append(result)
                slowest = max(slowest, result["seconds"] / _cost(item[0]))
                log.info(
                    "%s: %.1f s, best epoch %d of %d (%.0f s in)",
                    result["name"],
                    result["seconds"],
                    result["best_epoch"],
                    result["epochs_run"],
                    time.monotonic() - started,
                )
                _save(out, done)
        log.info(
            "%d of %d jobs done in %.0f s; not started: %s",
            len(done),
            len(jobs),
            time.monotonic() - started,
            [job["name"] for job in queue],
        )
    finally:
        pool.terminate()


def _cost(job: dict) -> float:
    """A fit's expected time relative to a default one (more epochs, wider filters cost more)."""
    return job["epochs"] / 30 * (2.0 if job["filters"][0] > 16 else 1.0)


# ---------------------------------------------------------------- report (here, with the product's metrics)


@dataclass
class Recordings:
    """What the report needs of the data: per window its recording, per recording its label."""

    owner: np.ndarray
    labels: np.ndarray
    positive: int

    def scores(self, window_probs: np.ndarray, items: np.ndarray, how: str = "mean") -> np.ndarray:
        """Positive-class probability per recording of `items`, its windows combined by `aggregate_windows`."""
        from core.inputs.preprocess import aggregate_windows

        both = np.stack([window_probs, 1 - window_probs], axis=1)
        both = both if self.positive == 0 else both[:, ::-1]
        return np.array([aggregate_windows(both[self.owner == item], how)[self.positive] for item in items])


def figures(rec: Recordings, val: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> dict:
    """Test AUROC; balanced accuracy, sensitivity, specificity at (a) validation Youden after
    `fit_temperature` (the product's rule) and (b) 0.5 (the same cut raw or calibrated, for two classes)."""
    from core.evaluation.decision import apply_temperature
    from core.evaluation.metrics import fit_temperature, roc_auc, sensitivity_specificity, youden_threshold

    def two(items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels as 1 = positive, probabilities as (negative, positive) columns."""
        return (rec.labels[items] == rec.positive).astype(int), np.stack([1 - scores, scores], axis=1)

    (y_val, p_val), (y_test, p_test) = two(*val), two(*test)
    temperature = fit_temperature(y_val, p_val)
    cuts = {"youden": youden_threshold(y_val, apply_temperature(p_val, temperature)[:, 1], positive=1), "half": 0.5}
    calibrated = apply_temperature(p_test, temperature)[:, 1]
    out = {"auc": roc_auc(y_test, p_test, positive=1)}
    for rule, cut in cuts.items():
        sens, spec = sensitivity_specificity(y_test, calibrated, threshold=cut, positive=1)
        out |= {f"sens_{rule}": sens, f"spec_{rule}": spec, f"bacc_{rule}": (sens + spec) / 2, f"cut_{rule}": cut}
    return out


def _part(roles: np.ndarray, role: str) -> np.ndarray:
    return np.flatnonzero(roles == role)


def outer_fold(o: int, probs: dict[str, np.ndarray], roles: dict[str, np.ndarray], rec: Recordings) -> dict:
    """Every arm's figures on outer fold o (arms whose fits are missing are left out)."""
    arms: dict[str, dict] = {}

    def judge(arm: str, name: str, how: str = "mean") -> None:
        if name in probs:
            val, test = _part(roles[name], "val"), _part(roles[name], "outer")
            p = probs[name]
            arms[arm] = figures(rec, (val, rec.scores(p, val, how)), (test, rec.scores(p, test, how)))

    for tag in ("", *(f"@{seed}" for seed in EXTRA_SEEDS)):
        for variant in VARIANTS:
            judge(f"{variant}{tag}", f"{variant}{tag}/o{o}")
        judge(f"default_max{tag}", f"default{tag}/o{o}", "max")
        judge(f"single{tag}", f"single{tag}/o{o}")
        members = [f"member{tag}/o{o}/f{f}" for f in range(K)]
        if all(name in probs for name in members):
            for f, name in enumerate(members):
                judge(f"member{tag}_{f}", name)
            arms[f"member_mean{tag}"] = _mean([arms[f"member{tag}_{f}"] for f in range(K)])
            arms[f"ensemble{tag}"] = _ensemble(members, probs, roles, rec)
    for arm in ("single", "ensemble", "member_mean", *RESEEDED_VARIANTS, "default_max"):
        seeds = [figs for name, figs in arms.items() if name == arm or name.startswith(f"{arm}@")]
        if len(seeds) > 1:
            arms[f"{arm}_seeds{len(seeds)}"] = _mean(seeds)
    return arms


def _mean(figures_list: list[dict]) -> dict:
    return {key: float(np.mean([figs[key] for figs in figures_list])) for key in figures_list[0]}


def _ensemble(members: list[str], probs: dict, roles: dict, rec: Recordings) -> dict:
    """The served `--cv 5` model: window probabilities averaged over the members; its decision rules fitted
    on the members' out-of-fold predictions of the development part (as `cv_model_report` serves them)."""
    test = _part(roles[members[0]], "outer")
    mean = np.mean([probs[name] for name in members], axis=0)
    oof_items = np.concatenate([_part(roles[name], "test") for name in members])
    oof_scores = np.concatenate([rec.scores(probs[name], _part(roles[name], "test")) for name in members])
    return figures(rec, (oof_items, oof_scores), (test, rec.scores(mean, test)))


KEYS = ("auc", "bacc_youden", "sens_youden", "spec_youden", "bacc_half", "sens_half", "spec_half")


def summarise(folds: list[dict]) -> dict:
    """Per arm: per-fold figures, mean and sd; per arm against the ensemble and the default: paired differences."""
    arms = sorted({arm for fold in folds for arm in fold if all(arm in f for f in folds)})
    table = {}
    for arm in arms:
        values = {key: [fold[arm][key] for fold in folds] for key in KEYS}
        table[arm] = {
            "folds": values,
            "mean": {key: float(np.mean(v)) for key, v in values.items()},
            "sd": {key: float(np.std(v, ddof=1)) if len(v) > 1 else None for key, v in values.items()},
        }
    paired = {}
    for arm, reference in PAIRS:
        if arm in table and reference in table:
            diffs = {key: np.subtract(table[arm]["folds"][key], table[reference]["folds"][key]) for key in KEYS}
            paired[f"{arm} - {reference}"] = {
                key: {"folds": d.round(4).tolist(), "mean": float(d.mean()), "higher_in": int((d > 0).sum())}
                for key, d in diffs.items()
            }
    decisions = {pair: _decision(paired[pair]) for pair in paired if pair.split(" - ")[1].startswith("default")}
    return {"arms": table, "paired": paired, "variant_decisions": decisions, "thresholds": thresholds(folds)}


# (arm, reference) pairs compared fold by fold: question 1 with one seed and with the seeds averaged, then
# each variant against the default (one seed), and the reseeded variants' averages.
PAIRS = (
    *((arm, "ensemble") for arm in ("single", "member_mean", "default")),
    *((arm, "ensemble_seeds2") for arm in ("single_seeds3", "member_mean_seeds2", "default_seeds3")),
    *((arm, "default") for arm in ("wide", "dropout_0.5", "long", "default_max")),
    *((arm, "default_seeds3") for arm in ("wide_seeds3", "default_max_seeds3")),
)


def _decision(pair: dict) -> str:
    """`DECISION_RULE` on one variant's paired figures against the default."""
    auc, bacc = pair["auc"], pair["bacc_youden"]
    wins = auc["mean"] >= 0.005 and auc["higher_in"] >= 4 and bacc["mean"] >= 0
    return "replace the default" if wins else "keep the default"


def _family(arm: str) -> str | None:
    """Which kind of model an arm's figures are of, for the threshold comparison (None: an average of arms)."""
    if "seeds" in arm or arm.startswith("member_mean"):
        return None
    for family in ("ensemble", "member", "single"):
        if arm.startswith(family):
            return family
    return "default_or_variant"


def thresholds(folds: list[dict]) -> dict:
    """Question 2 over every test evaluation (fold x arm x seed) of a kind of model: balanced accuracy,
    sensitivity and specificity at the validation Youden threshold against the fixed 0.5."""
    out = {}
    for family in ("single", "default_or_variant", "member", "ensemble"):
        rows = [figs for fold in folds for arm, figs in fold.items() if _family(arm) == family]
        diff = np.array([r["bacc_youden"] - r["bacc_half"] for r in rows])
        out[family] = {
            "evaluations": len(rows),
            **{key: float(np.mean([r[key] for r in rows])) for key in KEYS[1:]},
            "bacc_youden_minus_half": float(diff.mean()),
            "youden_better_in": int((diff > 0).sum()),
            "half_better_in": int((diff < 0).sum()),
            "cut_youden_median": float(np.median([r["cut_youden"] for r in rows])),
        }
    return out


def markdown(summary: dict) -> str:
    """The arms (mean ± sd over the outer folds, per-fold AUROC), the paired rows and the threshold table."""
    head = "| arm | AUROC | per-fold AUROC | BA Youden | sens / spec Youden | BA 0.5 | sens / spec 0.5 |"
    lines = [head, "|" + " --- |" * 7]
    for arm, row in summary["arms"].items():
        if arm.startswith("member") and not arm.startswith("member_mean"):
            continue  # each member alone: in the JSON

        def ms(key: str, row: dict = row) -> str:
            sd = row["sd"][key]
            return f"{row['mean'][key]:.3f}" + ("" if sd is None else f" ± {sd:.3f}")

        m, folds = row["mean"], " ".join(f"{v:.3f}" for v in row["folds"]["auc"])
        lines.append(
            f"| {arm} | {ms('auc')} | {folds} | {ms('bacc_youden')} | {m['sens_youden']:.3f} / "
            f"{m['spec_youden']:.3f} | {ms('bacc_half')} | {m['sens_half']:.3f} / {m['spec_half']:.3f} |"
        )
    lines += ["", "| paired (per fold) | ΔAUROC mean (higher in) | ΔBA Youden mean (higher in) | ΔBA 0.5 mean | rule |"]
    lines.append("|" + " --- |" * 5)
    for pair, d in summary["paired"].items():
        lines.append(
            f"| {pair} | {d['auc']['mean']:+.4f} ({d['auc']['higher_in']}/5) | "
            f"{d['bacc_youden']['mean']:+.4f} ({d['bacc_youden']['higher_in']}/5) | {d['bacc_half']['mean']:+.4f} | "
            f"{summary['variant_decisions'].get(pair, '')} |"
        )
    lines += [
        "",
        "| models | evaluations | BA Youden | sens / spec Youden | BA 0.5 | sens / spec 0.5 | "
        "Youden better / worse | median Youden cut |",
        "|" + " --- |" * 8,
    ]
    for family, t in summary["thresholds"].items():
        youden = f"{t['bacc_youden']:.3f} | {t['sens_youden']:.3f} / {t['spec_youden']:.3f}"
        half = f"{t['bacc_half']:.3f} | {t['sens_half']:.3f} / {t['spec_half']:.3f}"
        counts = f"{t['youden_better_in']} / {t['half_better_in']}"
        lines.append(f"| {family} | {t['evaluations']} | {youden} | {half} | {counts} | {t['cut_youden_median']:.3f} |")
    return "\n".join(lines)


def report(results_files: list[Path], data_dir: Path) -> dict:
    """Figures of every arm from the fits' window probabilities (of one or more `train` calls, merged by
    job name); saved as bench/results/cnn_gpu.json."""
    from bench.results_io import save

    with np.load(data_dir / DATA_FILE) as data:
        rec = Recordings(data["owner"], data["labels"], int(data["positive"]))
    facts, probs = [], {}
    for results_file in results_files:
        with np.load(results_file) as results:
            found = json.loads(str(results["facts"]))
            probs |= {fact["name"]: p for fact, p in zip(found, results["probs"], strict=True)}
            facts += found
    roles = {job["name"]: np.array(job["roles"]) for job in json.loads((data_dir / JOBS_FILE).read_text())}
    folds = [outer_fold(o, probs, roles, rec) for o in range(K)]
    summary = summarise(folds)
    training = {
        "fits": len(facts),
        "best_epoch": {name: f["best_epoch"] for name, f in ((f["name"], f) for f in facts)},
        "epochs_run": {f["name"]: f["epochs_run"] for f in facts},
        "fit_seconds_median": float(np.median([f["fit_seconds"] for f in facts])),
    }
    record = {"decision_rule": DECISION_RULE, **summary, "training": training, "per_fold": folds}
    save("cnn_gpu", record)
    print(markdown(summary))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("prepare", help="inputs, splits, stats and weights, with the product's code (here)")
    step.add_argument("--out", type=Path, default=Path(".gpu_data"))
    step = steps.add_parser("train", help="every fit (GPU machine, KERAS_BACKEND=jax)")
    step.add_argument("--data", type=Path, default=Path(".gpu_data"))
    step.add_argument("--out", type=Path, required=True)
    step.add_argument("--workers", type=int, default=8)
    step.add_argument("--budget-s", type=float, default=540.0, help="start no fit expected to end later")
    step.add_argument("--only", help="comma-separated job-name prefixes, e.g. member/o0,single")
    step.add_argument("--smoke", action="store_true", help="two jobs, one epoch, 96 windows: a check of the code")
    step = steps.add_parser("report", help="figures from the fits' probabilities (here)")
    step.add_argument("--results", type=Path, nargs="+", required=True, help="the train calls' result files")
    step.add_argument("--data", type=Path, default=Path(".gpu_data"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.step == "prepare":
        prepare(args.out)
    elif args.step == "train":
        train(args.data, args.out, workers=args.workers, budget_s=args.budget_s, only=args.only, smoke=args.smoke)
    else:
        report(args.results, args.data)


if __name__ == "__main__":
    main()
