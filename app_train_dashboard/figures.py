"""Plotly figure builders for the analytics dashboard: data in, figure out.

Pure functions with no Dash imports, so each one is unit-tested without a
server. They share `_style` for one consistent look; every figure can be
saved as PNG from Plotly's toolbar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
ROC_AXES = ("1 - specificity (false positive rate)", "sensitivity (true positive rate)")
PR_AXES = ("recall (sensitivity)", "precision (PPV)")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
# The rates of the monitoring figure, below its volume panel: (column, numerator, denominator, panel title).
MONITOR_RATES = (
    ("referral_rate", "referred", "predictions", "Referred for review (uncertain), of all predictions"),
    ("ood_rate", "out_of_distribution", "predictions", "Out of distribution, of all predictions"),
    ("override_rate", "overridden", "reviewed", "Overridden by the reviewer, of reviewed predictions"),
    ("agreement", "agreed", "judged", "Reviewer's label agrees with the class shown (95% Wilson interval)"),
)


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _style(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 16}},
        template="plotly_white",
        font={"family": FONT, "size": 13},
        height=height + 40,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, font={"size": 15, "color": "#666"}, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, "", height=300)


def _epoch_markers(rows: pd.DataFrame, best_epoch: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marker symbols, sizes and hover notes per epoch: a star where weights were kept, a triangle at LR drops."""
    best = rows["epoch"].to_numpy() == best_epoch
    drops = np.r_[False, np.diff(rows["learning_rate"].to_numpy()) < 0]
    symbols = np.where(best, "star", np.where(drops, "triangle-down", "circle"))
    sizes = np.where(best, 15, np.where(drops, 10, 0))
    notes = np.where(best, "weights kept (early stopping)", np.where(drops, "learning rate reduced", ""))
    return symbols, sizes, notes


def _curve(rows: pd.DataFrame, label: str, split: str, metric: str, index: int, best_epoch: int | None) -> go.Scatter:
    """One model's training (solid) or validation (dashed, with epoch markers) curve."""
    symbols, sizes, notes = _epoch_markers(rows, best_epoch)
    validation = split == "validation"
    hover = f"{label} {split}<br>epoch %{{x}}<br>{metric} %{{y:.4f}}<br>lr %{{customdata[0]:.2g}}<br>%{{customdata[1]}}"
    return go.Scatter(
        x=rows["epoch"].to_numpy(),
        y=rows[f"val_{metric}" if validation else metric],
        name=f"{label} · {split}",
        legendgroup=label,
        mode="lines+markers" if validation else "lines",
        line={"color": colour(index), "dash": "dash" if validation else "solid", "width": 2},
        marker={"symbol": symbols, "size": sizes, "color": colour(index)} if validation else None,
        customdata=np.stack([rows["learning_rate"], notes], axis=1),
        hovertemplate=hover + "<extra></extra>",
    )


def fig_learning_curves(
    history: pd.DataFrame,
    *,
    metric: str = "accuracy",
    log_y: bool = False,
    best_epochs: Mapping[str, int] | None = None,
) -> go.Figure:
    """Training (solid) and validation (dashed) curves, one pair of traces per model.

    Args:
        history: Rows with `label` (the model, or model and run), `epoch`,
            `learning_rate`, and `<metric>` / `val_<metric>`.
        metric: "accuracy" or "loss".
        log_y: Logarithmic y axis.
        best_epochs: Per label, the epoch whose weights were kept; marked
            with a star on the validation curve. Learning-rate drops are
            marked with downward triangles.
    """
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', got {metric!r}")
    best_epochs = best_epochs or {}
    fig = go.Figure()
    for index, (label, rows) in enumerate(history.groupby("label", sort=False)):
        for split in ("train", "validation"):
            fig.add_trace(_curve(rows.sort_values("epoch"), label, split, metric, index, best_epochs.get(label)))
    last_epoch = int(history["epoch"].max()) if len(history) else 1
    fig.update_xaxes(title_text="epoch", dtick=max(1, -(-last_epoch // 10)), tick0=1)
    fig.update_yaxes(title_text=metric, type="log" if log_y else "linear")
    return _style(fig, f"Learning curves: {metric} (★ weights kept, ▼ learning rate reduced)")


def fig_confusion_matrix(
    matrix: Sequence[Sequence[float]], labels: Sequence[str], *, normalize: bool = False, title: str = ""
) -> go.Figure:
    """Confusion matrix with true classes as rows and predicted classes as columns."""
    counts = np.asarray(matrix, dtype=float)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    text = [[f"{v:.0%}" if normalize else f"{int(v)}" for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(labels),
            y=list(labels),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted", side="bottom")
    fig.update_yaxes(title_text="true", autorange="reversed")
    return _style(
        fig, title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)"), height=360
    )


def _diagonal(name: str) -> go.Scatter:
    """The dotted y = x line: chance for ROC curves, perfect calibration for reliability diagrams."""
    return go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#aaa"}, name=name, hoverinfo="skip"
    )


def _rate_curves(
    curves: Mapping[str, Mapping],
    columns: tuple[str, str],
    legend: str,
    axes: tuple[str, str],
    *,
    baseline: go.Scatter | None = None,
) -> go.Figure:
    """One line per model over `baseline`, on unit axes titled `axes`.

    Args:
        curves: Per legend label, a stored curve: lists under the two `columns`
            (x, then y) and its summary figures.
        columns: The curve's x and y keys, e.g. ("fpr", "tpr").
        legend: A format string over `label` and the curve's keys, e.g. "{label} (AUC {auc:.3f})".
        axes: The x and y axis titles.
        baseline: A trace drawn first (under the curves, first in the legend).
    """
    fig = go.Figure(baseline)
    for index, (label, curve) in enumerate(curves.items()):
        line = {"color": colour(index), "width": 2}
        name = legend.format(**{**curve, "label": label})
        hover = f"{label}<br>{axes[0]} %{{x:.3f}}<br>{axes[1]} %{{y:.3f}}<extra></extra>"
        fig.add_trace(
            go.Scatter(
                x=curve[columns[0]], y=curve[columns[1]], mode="lines", line=line, name=name, hovertemplate=hover
            )
        )
    fig.update_xaxes(title_text=axes[0], range=[0, 1])
    fig.update_yaxes(title_text=axes[1], range=[0, 1.02])
    return fig


def fig_roc(curves: Mapping[str, Mapping]) -> go.Figure:
    """ROC curves of several models, AUC in the legend, with the chance diagonal."""
    fig = _rate_curves(curves, ("fpr", "tpr"), "{label} (AUC {auc:.3f})", ROC_AXES, baseline=_diagonal("chance"))
    return _style(fig, "ROC curves")


def fig_precision_recall(curves: Mapping[str, Mapping]) -> go.Figure:
    """Precision-recall curves, average precision in the legend."""
    fig = _rate_curves(curves, ("recall", "precision"), "{label} (AP {average_precision:.3f})", PR_AXES)
    return _style(fig, "Precision-recall curves")


def fig_reliability(calibration: Mapping[str, Mapping], *, title: str) -> go.Figure:
    """Reliability diagram before and after temperature scaling, ECE and Brier in the legend."""
    fig = go.Figure(_diagonal("perfect"))
    for index, stage in enumerate(("before", "after")):
        block = calibration[stage]
        bins = block["bins"]
        keep = [i for i, n in enumerate(bins["count"]) if n]
        fig.add_trace(
            go.Scatter(
                x=[bins["predicted"][i] for i in keep],
                y=[bins["observed"][i] for i in keep],
                mode="lines+markers",
                marker={"size": [6 + 2 * np.sqrt(bins["count"][i]) for i in keep], "color": colour(index)},
                line={"color": colour(index)},
                customdata=[bins["count"][i] for i in keep],
                name=f"{stage} scaling (ECE {block['ece']:.3f}, Brier {block['brier']:.3f})",
                hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} items<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="predicted probability", range=[0, 1])
    fig.update_yaxes(title_text="observed frequency", range=[0, 1.02])
    return _style(fig, title, height=380)


def fig_threshold_curve(stats: pd.DataFrame, *, threshold: float, band: Sequence[float]) -> go.Figure:
    """Sensitivity and specificity against the threshold, with the chosen threshold and review band.

    Drawn as steps (`stats` rows from `threshold_sweep`, at each distinct
    score): between two scores the figures are those of the higher one, as
    the table beside it says; a straight line between them would show values
    no threshold gives.
    """
    fig = go.Figure()
    fig.add_vrect(
        x0=band[0], x1=band[1], fillcolor="#ffd166", opacity=0.25, line_width=0, annotation_text="review band"
    )
    for index, column in enumerate(("sensitivity", "specificity")):
        fig.add_trace(
            go.Scatter(
                x=stats["threshold"],
                y=stats[column],
                mode="lines",
                name=column,
                line={"color": colour(index), "width": 2, "shape": "vh"},
                hovertemplate=f"threshold %{{x:.3f}}<br>{column} %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_vline(x=threshold, line={"color": "#333", "dash": "dash"}, annotation_text=f"threshold {threshold:.2f}")
    fig.update_xaxes(title_text="threshold on the positive-class probability", range=[0, 1])
    fig.update_yaxes(title_text="rate", range=[0, 1.02])
    return _style(fig, "Sensitivity and specificity by threshold", height=360)


def fig_class_balance(split: pd.DataFrame) -> go.Figure:
    """Files per class in each split."""
    counts = split.groupby(["split", "label"]).size().unstack(fill_value=0).reindex(["train", "val", "test"]).fillna(0)
    fig = go.Figure()
    for index, label in enumerate(counts.columns):
        fig.add_trace(
            go.Bar(
                x=counts.index,
                y=counts[label],
                name=str(label),
                marker_color=colour(index),
                text=counts[label],
                textposition="auto",
                hovertemplate=f"%{{x}}: %{{y}} files of class {label}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="split")
    fig.update_yaxes(title_text="files")
    return _style(fig, "Class balance per split", height=340)


def _rate_trace(rows: pd.DataFrame, label: str, index: int, rate: tuple[str, str, str, str], when: str) -> go.Scatter:
    """One model's rate per period, counts in the tooltip; agreement carries its 95% interval as error bars."""
    column, part, whole, _ = rate
    custom = rows[[part, whole, "agreement_low", "agreement_high"]].to_numpy(dtype=float)
    interval = column == "agreement"
    hover = f"{label}<br>{when} %{{x|%Y-%m-%d}}<br>%{{y:.1%}} (%{{customdata[0]:.0f}} of %{{customdata[1]:.0f}})"
    if interval:
        hover += "<br>95% CI %{customdata[2]:.1%}–%{customdata[3]:.1%}"
    above, below = rows["agreement_high"] - rows[column], rows[column] - rows["agreement_low"]
    errors = {"type": "data", "array": above, "arrayminus": below, "thickness": 1.5}
    return go.Scatter(
        x=rows["period"],
        y=rows[column],
        mode="lines+markers",
        name=label,
        legendgroup=label,
        showlegend=False,
        line={"color": colour(index), "width": 2},
        error_y=errors if interval else None,
        customdata=custom,
        hovertemplate=hover + "<extra></extra>",
    )


def fig_monitoring(timeline: pd.DataFrame, *, period: str, zone: str) -> go.Figure:
    """Each served model over time: volume, referral, out-of-distribution and override rates, agreement.

    One panel each, sharing the time axis, so a change in one (more
    referrals, say) is read against the others in the same period.

    Args:
        timeline: Rows of `core.store.monitoring.timeline` with a `label` column naming the served model.
        period: "day" or "week": what one point counts (weeks start on Monday).
        zone: The time zone whose days are counted, named in the first panel's title.
    """
    when = "day" if period == "day" else "week of"
    titles = [f"Predictions per {period} (days in {zone})", *(rate[3] for rate in MONITOR_RATES)]
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=titles)
    for index, (label, rows) in enumerate(timeline.groupby("label", sort=False)):
        volume = go.Bar(
            x=rows["period"],
            y=rows["predictions"],
            name=label,
            legendgroup=label,
            marker_color=colour(index),
            hovertemplate=f"{label}<br>{when} %{{x|%Y-%m-%d}}<br>%{{y:,d}} predictions<extra></extra>",
        )
        fig.add_trace(volume, row=1, col=1)
        for row, rate in enumerate(MONITOR_RATES, start=2):
            fig.add_trace(_rate_trace(rows, label, index, rate, when), row=row, col=1)
    fig.update_layout(barmode="group")
    for row in range(2, len(titles) + 1):
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=row, col=1)
    fig.update_xaxes(**_period_ticks(timeline["period"], period))
    _style(fig, "The clinic's verdicts, per served model", height=1000)
    return fig.update_layout(legend={"y": -0.04})  # under the last panel, closer than `_style` puts it


def _period_ticks(periods: pd.Series, period: str) -> dict:
    """Date-axis ticks on period starts only, about 12 at most: never a "12:00" tick between two days."""
    step = 1 if period == "day" else 7
    if periods.empty:
        return {"tickformat": "%Y-%m-%d"}
    first, last = min(periods), max(periods)
    count = (last - first).days // step + 1
    return {"tickformat": "%Y-%m-%d", "tick0": first, "dtick": 86_400_000 * step * -(-count // 12)}
