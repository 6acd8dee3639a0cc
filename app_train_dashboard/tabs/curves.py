"""Learning curves: training and validation accuracy or loss per epoch of the selected models.

A cross-validated model (`--cv K`) trained K fold models: it is drawn as one
pair of curves per fold, told apart by the `fold` each row of the training
metrics carries (read from the model's `history.csv` for runs trained before
the rows did).

A blend (`ModelResult.blend_parts`) averages trained models and is not
trained itself: it has no curve, and a line above the graph says so.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from app_train_dashboard import data, figures, ids, run_settings
from app_train_dashboard.components import graph
from app_train_dashboard.selection import SELECTION, artifacts_dir, entries
from core.web.callbacks import Callbacks

callbacks = Callbacks()


def layout() -> dbc.Tab:
    """Metric and scale switches above the learning-curve graph."""
    log_switch = dbc.Checklist(
        id=ids.CURVE_LOG, options=[{"label": "log scale", "value": "log"}], value=[], inline=True, switch=True
    )
    switches = dbc.Row(
        [
            dbc.Col(
                dbc.RadioItems(id=ids.CURVE_METRIC, options=["accuracy", "loss"], value="accuracy", inline=True),
                width="auto",
            ),
            dbc.Col(log_switch, width="auto"),
        ],
        className="my-2",
    )
    return dbc.Tab(
        [switches, html.Div(id=ids.CURVE_NOTES), dcc.Loading(graph(ids.LEARNING_CURVE_GRAPH))],
        label="Learning curves",
        tab_id="curves",
    )


@callbacks(Output(ids.CURVE_NOTES, "children"), *SELECTION)
def without_curve(run_id: str | None, models: list[str] | None, compare_id: str | None) -> list[dbc.Alert]:
    """A line for each selected blend: what it averages, and that it has no learning curve of its own."""
    return [
        dbc.Alert(
            f"{e.label} {run_settings.describe_blend(e.model)}: it has no learning curve of its own.",
            color="light",
            className="py-2 mb-2 border",
        )
        for e in entries(run_id, models, compare_id)
        if e.model.blend_parts
    ]


@callbacks(
    Output(ids.LEARNING_CURVE_GRAPH, "figure"),
    *SELECTION,
    Input(ids.CURVE_METRIC, "value"),
    Input(ids.CURVE_LOG, "value"),
)
def learning_curves(
    run_id: str | None, models: list[str] | None, compare_id: str | None, metric: str, log_scale: list[str] | None
) -> go.Figure:
    """One pair of curves per selected trained model, the kept epoch starred (a blend has none: `without_curve`)."""
    chosen = entries(run_id, models, compare_id)
    if not chosen:
        return figures.empty_figure("Select a run and at least one model")
    trained = [e for e in chosen if not e.model.blend_parts]
    if not trained:
        return figures.empty_figure("The selected models are blends: none has a learning curve of its own")
    history, best = with_folds(*data.learning_history(artifacts_dir(), trained), trained)
    return figures.fig_learning_curves(history, metric=metric, log_y="log" in (log_scale or []), best_epochs=best)


def with_folds(
    history: pd.DataFrame, best: dict[str, int], chosen: list[data.Entry]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The curves, each cross-validated entry's rows replaced by one line per fold, each with its kept epoch."""
    frames, best = [history], dict(best)
    for entry in chosen:
        own = fold_rows(history[history["label"] == entry.label], entry)
        if own is None:
            continue
        frames[0] = frames[0][frames[0]["label"] != entry.label]
        best.pop(entry.label, None)
        kept = {fold["fold"]: fold.get("best_epoch") for fold in entry.model.report.get("cv", {}).get("folds", [])}
        for fold, rows in own.groupby("fold", sort=True):
            label = f"{entry.label} · fold {int(fold)}"
            frames.append(rows.assign(label=label))
            if kept.get(fold):
                best[label] = int(kept[fold])
    return pd.concat(frames, ignore_index=True), best


def fold_rows(live: pd.DataFrame, chosen: data.Entry) -> pd.DataFrame | None:
    """A cross-validated entry's rows with their `fold`; None for a model trained on one split.

    The live training metrics carry each row's fold as it is written; runs
    trained before they did have it only in the model's `history.csv`.
    """
    if "fold" in live.columns and live["fold"].notna().any():
        return live
    own = chosen.model.history
    return own if own is not None and "fold" in own.columns else None
