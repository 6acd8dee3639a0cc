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

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
ROC_AXES = ("1 - specificity (false positive rate)", "sensitivity (true positive rate)")
PR_AXES = ("recall (sensitivity)", "precision (PPV)")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


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
        fig.add_trace(go.Scatter(x=curve[columns[0]], y=curve[columns[1]], mode="lines", line=line, name=name))
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
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="split")
    fig.update_yaxes(title_text="files")
    return _style(fig, "Class balance per split", height=340)
