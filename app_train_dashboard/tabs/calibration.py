"""Calibration: a reliability diagram per selected model, before and after temperature scaling."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Output

from app_train_dashboard import figures, ids
from app_train_dashboard.components import graph
from app_train_dashboard.selection import SELECTION, entries
from core.web.callbacks import Callbacks

callbacks = Callbacks()


def layout() -> dbc.Tab:
    """A row the callback fills with one diagram per model."""
    return dbc.Tab(dbc.Row(id=ids.CALIBRATION_GRAPHS, className="mt-2"), label="Calibration", tab_id="calibration")


@callbacks(Output(ids.CALIBRATION_GRAPHS, "children"), *SELECTION)
def calibration(run_id: str | None, models: list[str] | None, compare_id: str | None) -> list[dbc.Col]:
    """One reliability diagram per selected model that has calibration figures."""
    return [
        dbc.Col(
            graph(figure=figures.fig_reliability(e.model.headline["calibration"], title=f"{e.label}: reliability")),
            lg=6,
        )
        for e in entries(run_id, models, compare_id)
        if "calibration" in e.model.headline
    ]
