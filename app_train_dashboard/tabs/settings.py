"""Run settings: how the selected run (and the comparison run beside it) was trained, and each of its models.

What an analyst weighs before approving a model: the data, the split or
cross-validation, the training options, the input front-end and the
augmentation, from the run's own records (`run_settings`).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, html
from dash.exceptions import PreventUpdate

from app_train_dashboard import ids, run_settings
from app_train_dashboard.selection import artifacts_dir, entries
from core.store.runs import load_run
from core.web.callbacks import Callbacks

callbacks = Callbacks()


def layout() -> dbc.Tab:
    """The settings table above the table of the selected models."""
    return dbc.Tab(
        [
            html.Div(id=ids.SETTINGS_TABLE, className="mt-2"),
            html.H6("Models", className="mt-3"),
            html.Div(id=ids.SETTINGS_MODELS),
        ],
        label="Run settings",
        tab_id="settings",
    )


def _table(frame: pd.DataFrame) -> dbc.Table:
    return dbc.Table.from_dataframe(frame, size="sm", bordered=True, striped=True, className="small")


@callbacks(
    Output(ids.SETTINGS_TABLE, "children"),
    Output(ids.SETTINGS_MODELS, "children"),
    Input(ids.RUN_SELECT, "value"),
    Input(ids.MODEL_CHECKLIST, "value"),
    Input(ids.COMPARE_SELECT, "value"),
)
def training_settings(run_id: str | None, models: list[str] | None, compare_id: str | None) -> tuple:
    """The settings of the run (and of the comparison run, as a second column), and the selected models' table."""
    if not run_id:
        raise PreventUpdate
    root = artifacts_dir()
    runs = [(run_id, load_run(root, run_id))]
    if compare_id and compare_id != run_id:
        runs.append((compare_id, load_run(root, compare_id)))
    chosen = [(e.label, e.model) for e in entries(run_id, models, compare_id)]
    return _table(run_settings.settings_table(runs)), _table(run_settings.models_table(chosen))
