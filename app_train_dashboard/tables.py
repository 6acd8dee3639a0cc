"""Tables for the analytics dashboard, as DataFrames: pure functions of loaded runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.evaluation.decision import CLASS_SAMPLE, GALLERY_CARDS, apply_temperature, headline_decisions
from core.evaluation.metrics import operating_stats
from core.store.runs import ModelResult, Run
from core.web.probabilities import probability

# Column -> whether larger is better, for highlighting the best value of each column.
BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "auc": True,
    "sens_at_90_spec": True,
    "sensitivity": True,
    "specificity": True,
    "f1": True,
    "ece": False,
    "params": False,
    "size_mb": False,
    "latency_ms": False,
}


def _ci(interval: Sequence[float | None] | None) -> str:
    if not interval or interval[0] is None:
        return "n/a"
    return f"{interval[0]:.3f}–{interval[1]:.3f}"


def _bounds(interval: Sequence[float | None] | None) -> tuple[float | None, float | None]:
    return (None, None) if not interval or interval[0] is None else (interval[0], interval[1])


def _test_figures(model: ModelResult) -> dict:
    """The headline level's test figures and the model's cost, as numbers; interval ends under `<figure>_low/_high`."""
    level = model.headline
    point = level.get("operating_point", {})
    (accuracy_low, accuracy_high), (auc_low, auc_high) = _bounds(level.get("accuracy_ci")), _bounds(level.get("auc_ci"))
    balanced_low, balanced_high = _bounds(level.get("balanced_accuracy_ci"))
    sens90_low, sens90_high = _bounds(level.get("sensitivity_at_90_specificity_ci"))
    return {
        "accuracy": level.get("accuracy"),
        "accuracy_low": accuracy_low,
        "accuracy_high": accuracy_high,
        "auc": level.get("auc"),
        "auc_low": auc_low,
        "auc_high": auc_high,
        "balanced_accuracy": level.get("balanced_accuracy"),
        "balanced_accuracy_low": balanced_low,
        "balanced_accuracy_high": balanced_high,
        "sens_at_90_spec": level.get("sensitivity_at_90_specificity"),
        "sens_at_90_spec_low": sens90_low,
        "sens_at_90_spec_high": sens90_high,
        "sensitivity": point.get("sensitivity"),
        "specificity": point.get("specificity"),
        "f1": level.get("f1"),
        "ece": level.get("calibration", {}).get("after", {}).get("ece"),
        "params": model.summary.get("params"),
        "size_mb": round(model.summary["model_bytes"] / 1e6, 2) if model.summary.get("model_bytes") else None,
        "latency_ms": model.report.get("litert_latency_ms"),
        "skill": "no evidence of skill" if model.report.get("no_evidence_of_skill") else "",
        "vs_baseline": (model.report.get("versus_baseline") or {}).get("text", ""),
    }


def comparison_table(entries: Sequence[tuple[str, ModelResult]], weights: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (label, model): test figures with 95% intervals, calibration and cost, as the page shows them.

    Figures are the headline level's (recordings for sounds), on calibrated
    probabilities, at the operating threshold. `weights`, one per entry
    (`core.store.registry.starting_weights`), says what each transfer model
    started from: a transfer model that never saw ImageNet must not pass for one that did.
    """
    rows = []
    for (label, model), started in zip(entries, weights or [""] * len(entries), strict=True):
        figures = _test_figures(model)
        rows.append(
            {
                "model": label,
                "weights": started,
                "accuracy": figures["accuracy"],
                "accuracy_95ci": _ci((figures["accuracy_low"], figures["accuracy_high"])),
                "auc": figures["auc"],
                "auc_95ci": _ci((figures["auc_low"], figures["auc_high"])),
                "balanced_accuracy": figures["balanced_accuracy"],
                "balanced_accuracy_95ci": _ci((figures["balanced_accuracy_low"], figures["balanced_accuracy_high"])),
                "sens_at_90_spec": figures["sens_at_90_spec"],
                "sens_at_90_spec_95ci": _ci((figures["sens_at_90_spec_low"], figures["sens_at_90_spec_high"])),
                **{
                    k: figures[k]
                    for k in (
                        *("sensitivity", "specificity", "f1", "ece"),
                        *("params", "size_mb", "latency_ms", "skill", "vs_baseline"),
                    )
                },
            }
        )
    return pd.DataFrame(rows)


def comparison_export(entries: Sequence[tuple[Run, ModelResult]]) -> pd.DataFrame:
    """The comparison as a file for a spreadsheet: each row names its run and dataset, intervals are two numbers.

    The page's "0.81–0.93" text cannot be sorted or plotted; here the ends are
    `accuracy_low`/`accuracy_high` and `auc_low`/`auc_high`.
    """
    rows = [
        {"run": run.run_id, "dataset": run.status.get("dataset"), "modality": run.modality, "model": model.name}
        | _test_figures(model)
        for run, model in entries
    ]
    return pd.DataFrame(rows)


def best_cells(table: pd.DataFrame) -> dict[str, list[int]]:
    """Row indices holding the best value of each comparable column (ties all count)."""
    best = {}
    for column, larger in BETTER.items():
        if column not in table or table[column].isna().all() or len(table) < 2:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        target = values.max() if larger else values.min()
        best[column] = [int(i) for i in np.flatnonzero(np.isclose(values, target))]
    return best


def classification_report_table(report: dict) -> pd.DataFrame:
    """scikit-learn's classification report (as stored) as rows of class, precision, recall, F1, support."""
    rows = []
    for name, values in report.items():
        if isinstance(values, dict):
            rows.append({"class": name, **{k: values[k] for k in ("precision", "recall", "f1-score", "support")}})
        else:
            rows.append({"class": name, "precision": None, "recall": None, "f1-score": values, "support": None})
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1-score", "support"])


def calibrated_test(run: Run, model: ModelResult) -> tuple[np.ndarray, np.ndarray]:
    """Headline-level test labels and calibrated probabilities of one model."""
    probs = model.test[[f"prob_{name}" for name in run.class_names]].to_numpy(dtype=float)
    return model.test["label_index"].to_numpy(), apply_temperature(probs, model.headline.get("temperature", 1.0))


def decisions(run: Run, model: ModelResult) -> pd.DataFrame:
    """Every test item of one model as its report decides it (`headline_decisions`): what a gallery card shows.

    Returns:
        Columns `path`, `sha256` (the key of the item's stored previews; None
        for runs trained before previews were stored), `true`, `predicted`,
        `evidence` (the calibrated probability behind the call, never shown as 1 or 0) and `loss`
        (-log p(true class)), in the order of the model's test predictions.
    """
    labels = model.test["label_index"].to_numpy()
    raw = model.test[[f"prob_{name}" for name in run.class_names]].to_numpy(dtype=float)
    positive = run.class_names.index(run.positive_class) if run.is_binary else None
    probs, called, loss = headline_decisions(raw, labels, model.headline, positive=positive)
    threshold = model.headline.get("operating_point", {}).get("threshold")
    if positive is not None and threshold is not None:
        evidence = [f"P({run.positive_class}) {probability(p)}, threshold {threshold:.2f}" for p in probs[:, positive]]
    else:
        evidence = [f"P({run.class_names[c]}) {probability(probs[i, c])}" for i, c in enumerate(called)]
    return pd.DataFrame(
        {
            "path": model.test["path"],
            "sha256": model.test.get("sha256"),
            "true": [run.class_names[i] for i in labels],
            "predicted": [run.class_names[i] for i in called],
            "evidence": evidence,
            "loss": loss,
        }
    )


def worst_errors(
    run: Run, model: ModelResult, *, limit: int = GALLERY_CARDS, true: str | None = None, predicted: str | None = None
) -> pd.DataFrame:
    """Misclassified test items (`decisions`), highest loss (-log p(true class)) first, optionally filtered.

    Returns:
        The columns of `decisions`; at most `limit` rows.
    """
    frame = decisions(run, model)
    frame = frame[frame["true"] != frame["predicted"]]
    if true:
        frame = frame[frame["true"] == true]
    if predicted:
        frame = frame[frame["predicted"] == predicted]
    return frame.sort_values("loss", ascending=False).head(limit).reset_index(drop=True)


def class_examples(run: Run, model: ModelResult, *, per_class: int = CLASS_SAMPLE) -> dict[str, pd.DataFrame]:
    """What each class looks like: per class (in the run's order), its first `per_class` test items (`decisions`).

    These are the items whose previews training keeps beside a model's errors
    (`core.training.steps.shown_items`: the first of each class in the test
    predictions), right or wrong: each row's `predicted` says which.
    """
    frame = decisions(run, model)
    return {name: frame[frame["true"] == name].head(per_class).reset_index(drop=True) for name in run.class_names}


def audit_findings(audit: dict) -> pd.DataFrame:
    """The audit's unreadable files, duplicates and conflicts, one row each."""
    rows = [{"finding": "unreadable", "files": e["path"], "detail": e["reason"]} for e in audit.get("unreadable", [])]
    rows += [
        {"finding": "unsupported", "files": e["path"], "detail": e["reason"]} for e in audit.get("unsupported", [])
    ]
    conflicts = {e["sha256"] for e in audit.get("conflicts", [])}
    for entry in audit.get("duplicates", []):
        kind = "label conflict (dropped)" if entry["sha256"] in conflicts else "duplicate (kept in one split)"
        rows.append({"finding": kind, "files": " | ".join(entry["paths"]), "detail": ", ".join(entry["labels"])})
    return pd.DataFrame(rows, columns=["finding", "files", "detail"])


def group_counts(split: pd.DataFrame) -> pd.DataFrame:
    """Distinct groups and files per split (groups fall back to leakage units)."""
    key = split["group"].fillna("").astype(str)
    key = key.where(key != "", "unit:" + split["unit"].astype(str))
    return (
        split.assign(key=key)
        .groupby("split")
        .agg(files=("path", "size"), groups=("key", "nunique"))
        .reindex(["train", "val", "test"])
        .fillna(0)
        .astype(int)
        .reset_index()
    )


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def serving_facts(run: Run, model: ModelResult, point: dict) -> dict[str, str]:
    """What an analyst weighs before serving a model: its data, test size, and its test figures as it would be served.

    Args:
        point: The operating point the model is served with
            (`registry.operating_point_in_force`: its latest saved version, else
            the fitted one). Sensitivity and specificity are measured at its
            threshold on the calibrated test set, so that a saved version's
            threshold, not the fitted one, is what the analyst approves;
            sounds are counted per recording.
    """
    level = model.headline
    auc = _figure(level.get("auc"))
    return {
        "model": f"{model.name} of {run.run_id}",
        "dataset": f"{run.status.get('dataset', '?')} ({run.modality})",
        "test n": f"{level.get('n', 'n/a')} {model.report.get('level', 'item')}s"
        + (f", out of fold ({model.report['cv']['k']}-fold CV)" if model.report.get("cv") else ""),
        "AUROC (95% CI)": f"{auc} ({_ci(level.get('auc_ci'))})",
        "operating point": point_words(point),
        **_rates_at(run, model, point.get("threshold")),
        "ECE (calibrated)": _figure(level.get("calibration", {}).get("after", {}).get("ece")),
    }


def point_words(point: dict) -> str:
    """An operating point in words: "version 2: threshold 0.420, review band 0.300–0.550" (version 0: "(fitted)")."""
    version = f"version {point['version']}" + (" (fitted)" if point["version"] == 0 else "")
    threshold = "most probable class" if point.get("threshold") is None else f"threshold {point['threshold']:.3f}"
    return f"{version}: {threshold}, review band {_band(point.get('review_band'))}"


def _rates_at(run: Run, model: ModelResult, threshold: float | None) -> dict[str, str]:
    """Sensitivity and specificity at `threshold` on the calibrated test set; the report's without a threshold."""
    if not run.is_binary or threshold is None:
        fitted = model.headline.get("operating_point", {})
        return {"sensitivity": _figure(fitted.get("sensitivity")), "specificity": _figure(fitted.get("specificity"))}
    labels, probs = calibrated_test(run, model)
    positive = run.class_names.index(run.positive_class)
    stats = operating_stats(labels, probs[:, positive], threshold=threshold, positive=positive)
    return {"sensitivity": _figure(stats["sensitivity"]), "specificity": _figure(stats["specificity"])}


def promotion_table(candidate: dict[str, str], champion: dict[str, str] | None) -> pd.DataFrame:
    """The candidate's `serving_facts` beside the current champion's (a dash where there is none)."""
    current = champion or dict.fromkeys(candidate, "—")
    return pd.DataFrame(
        {"": list(candidate), "candidate": list(candidate.values()), "current champion": list(current.values())}
    )


def champion_history_table(history: Sequence[dict]) -> pd.DataFrame:
    """The champion history (newest first), one row per promotion or rollback."""
    rows = [
        {
            "id": entry["id"],
            "when (UTC)": _when(entry["created_at"]),
            "model": f"{entry['model']} of {entry['run_id']}",
            "by": entry["user"] or "—",
            "reason": entry["reason"] + (" (guardrails overridden)" if entry["forced"] else ""),
        }
        for entry in history
    ]
    return pd.DataFrame(rows, columns=["id", "when (UTC)", "model", "by", "reason"])


def _when(created_at: str) -> str:
    return created_at.replace("T", " ").removesuffix("+00:00")


def _band(band: Sequence[float] | None) -> str:
    return "n/a" if not band else f"{band[0]:.3f}–{band[1]:.3f}"


def operating_point_history_table(versions: Sequence[dict], fitted: dict) -> pd.DataFrame:
    """A model's saved operating-point versions (newest first), then the fitted point as version 0."""
    rows = [
        (v["version"], v["threshold"], v["review_band"], _when(v["created_at"]), v["user"] or "—", v["note"] or "")
        for v in versions
    ]
    rows.append(
        (0, fitted.get("threshold"), fitted.get("review_band"), "at training", "—", "fitted on the validation split")
    )
    return pd.DataFrame(
        [
            {"version": v, "threshold": _figure(t), "review band": _band(b), "when (UTC)": w, "by": by, "note": n}
            for v, t, b, w, by, n in rows
        ]
    )


MONITOR_COLUMNS = (
    "model",
    "run",
    "predictions",
    "referred",
    "out of distribution",
    "reviewed",
    "overridden",
    "agreement",
)


def served_label(run_id: str, model: str) -> str:
    """A served model as the monitoring view names it: the model and its run's start (the id's first 15 characters)."""
    return f"{model} @ {run_id[:15]}"


def _share(part: int, whole: int) -> str:
    return "—" if not whole else f"{part / whole:.1%} ({part} of {whole})"


def _agreement(row) -> str:
    """Agreement with its 95% interval and counts, e.g. "66.7% (20.8%–93.9%), 2 of 3"; a dash with no reviewed class."""
    if not row.judged:
        return "—"
    return f"{row.agreement:.1%} ({row.agreement_low:.1%}–{row.agreement_high:.1%}), {row.agreed} of {row.judged}"


def monitoring_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Each served model's totals over the chosen days (`core.store.monitoring.summary`), each rate beside its counts.

    Counts stay beside the rates so that "100% overridden" on one review is
    not read like 100% on a thousand.
    """
    rows = [
        {
            "model": row.model,
            "run": row.run_id,
            "predictions": int(row.predictions),
            "referred": _share(int(row.referred), int(row.predictions)),
            "out of distribution": _share(int(row.out_of_distribution), int(row.predictions)),
            "reviewed": int(row.reviewed),
            "overridden": _share(int(row.overridden), int(row.reviewed)),
            "agreement": _agreement(row),
        }
        for row in summary.itertuples()
    ]
    return pd.DataFrame(rows, columns=list(MONITOR_COLUMNS))
