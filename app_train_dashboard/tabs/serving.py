"""Serving history: every promotion and rollback, and serving any earlier champion again."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html, no_update

from app_train_dashboard import ids, tables
from app_train_dashboard.components import table
from app_train_dashboard.selection import artifacts_dir, serving_state
from core.errors import CoreError
from core.store.registry import rollback
from core.web.callbacks import Callbacks
from core.web.login import current_user, require_analyst

callbacks = Callbacks()

NOTE = (
    "Newest first. Rows are only ever added: a rollback is a new row that serves an earlier model again. "
    "Select a row to serve that model again."
)


def layout() -> dbc.Tab:
    """The champion history, with a reason field and the button that serves the selected entry again."""
    rollback_form = dbc.InputGroup(
        [
            dbc.Input(id=ids.ROLLBACK_REASON, placeholder="Reason for serving the selected model again (recorded)"),
            dbc.Button("Serve the selected model again", id=ids.ROLLBACK_BUTTON, color="warning"),
        ],
        className="mt-3",
    )
    return dbc.Tab(
        [
            html.P(NOTE, className="text-muted small mt-2"),
            table(ids.CHAMPION_HISTORY, row_selectable="single", page_size=15),
            rollback_form,
            html.Div(id=ids.ROLLBACK_RESULT, className="mt-2"),
        ],
        label="Serving history",
        tab_id="serving",
    )


@callbacks(
    Output(ids.CHAMPION_HISTORY, "data"),
    Output(ids.CHAMPION_HISTORY, "columns"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    Input(ids.PROMOTE_RESULT, "children"),
    Input(ids.ROLLBACK_RESULT, "children"),
    State(ids.CHAMPION_HISTORY, "data"),
)
def champion_history(_ticks: int | None, _promoted: object, _rolled_back: object, shown: list[dict] | None) -> tuple:
    """The history as stored now; unchanged rows are not sent again, so a selection survives the refresh."""
    frame = tables.champion_history_table(serving_state().champion_history())
    data = frame.to_dict("records")
    if data == shown:
        return no_update, no_update
    return data, [{"name": c, "id": c} for c in frame.columns]


@callbacks(
    Output(ids.ROLLBACK_RESULT, "children"),
    Output(ids.CHAMPION_HISTORY, "selected_rows"),
    Output(ids.CHAMPION_HISTORY, "selected_row_ids"),
    Output(ids.ROLLBACK_REASON, "value"),
    Input(ids.ROLLBACK_BUTTON, "n_clicks"),
    State(ids.CHAMPION_HISTORY, "selected_row_ids"),
    State(ids.ROLLBACK_REASON, "value"),
    prevent_initial_call=True,
)
def serve_again(_clicks: int | None, selected: list[int] | None, reason: str | None) -> tuple:
    """Serve the selected history entry's model again, recorded with the reason and the user.

    Once served, the selection and the reason are cleared: left as they were, the selected row is
    no longer the champion (a new row is), and a second click would serve that older model again
    under a reason written for this one.
    """
    if not selected:
        return dbc.Alert("Select the row of the model to serve again first.", color="secondary"), *[no_update] * 3
    try:
        require_analyst()  # only ANALYST_USERS may change what is served
        entry = rollback(artifacts_dir(), serving_state(), reason=reason or "", user=current_user(), to=selected[0])
    except CoreError as exc:
        return dbc.Alert(str(exc), color="danger"), *[no_update] * 3
    served = dbc.Alert(f"{entry['model']} of {entry['run_id']} is the champion again.", color="success")
    return served, [], [], ""
