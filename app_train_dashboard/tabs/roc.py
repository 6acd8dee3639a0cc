"""ROC & PR: the ROC and precision-recall curves of the selected models."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Output

from app_train_dashboard import figures, ids
from app_train_dashboard.components import graph
from app_train_dashboard.data import Entry
from app_train_dashboard.selection import SELECTION, entries
from core.web.callbacks import Callbacks

callbacks = Callbacks()


def layout() -> dbc.Tab:
    """The two graphs side by side."""
    return dbc.Tab(
        dbc.Row([dbc.Col(graph(ids.ROC_GRAPH), lg=6), dbc.Col(graph(ids.PR_GRAPH), lg=6)], className="mt-2"),
        label="ROC & PR",
        tab_id="roc",
    )


def _curves(chosen: list[Entry], kind: str) -> dict[str, dict]:
    """The stored `kind` ("roc" or "pr") curves by legend name: the model, and the class when not binary."""
    return {
        e.label if e.run.is_binary else f"{e.label}: {name}": curve
        for e in chosen
        for name, curve in e.model.headline.get(kind, {}).items()
    }


@callbacks(Output(ids.ROC_GRAPH, "figure"), Output(ids.PR_GRAPH, "figure"), *SELECTION)
def roc_and_pr(run_id: str | None, models: list[str] | None, compare_id: str | None) -> tuple[go.Figure, go.Figure]:
    """ROC and precision-recall curves, one per model (and class, for more than two classes)."""
    chosen = entries(run_id, models, compare_id)
    roc, pr = _curves(chosen, "roc"), _curves(chosen, "pr")
    if not roc:
        return figures.empty_figure("No ROC data for this selection"), figures.empty_figure("No precision-recall data")
    return figures.fig_roc(roc), figures.fig_precision_recall(pr)
