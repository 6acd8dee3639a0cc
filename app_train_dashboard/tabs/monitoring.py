"""Clinic feedback: how each served model fares in the clinic, from the audit log (`core.store.monitoring`).

The other tabs show the test figures a model was promoted on; this one shows
what followed: how many predictions, how many referred or out of
distribution, how often reviewers overrode the model, and how often their
label agrees with the class shown. A model that drifts away from its test
figures shows here first.
"""

from __future__ import annotations

from datetime import date

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from app_train_dashboard import figures, ids, tables
from app_train_dashboard.components import graph, table
from core.errors import CoreError
from core.settings import Settings
from core.store import monitoring
from core.store.monitoring import Monitoring
from core.web.callbacks import Callbacks
from core.web.server import service
from core.web.times import local_time

callbacks = Callbacks()

NOTE = (
    "From the prediction app's audit log. One point per day in the display time zone (per week, from Monday, when "
    "the predictions span more than three months). Override rate and agreement count reviewed predictions only; "
    "agreement, those that showed a class. A rate with nothing to count is left out, not drawn as 0."
)
NOTHING_RECORDED = (
    "No predictions recorded yet. Every prediction the prediction app shows is recorded; "
    "they appear here, per served model, once clinicians use it."
)
NOTHING_SELECTED = "No predictions of this model on these days. Clear the filters to see every served model."
HIDDEN = {"display": "none"}
EMPTY = figures.empty_figure("")
TAB_ID = "monitoring"


def layout() -> dbc.Tab:
    """The model and day filters above the timeline figure and the totals table."""
    filters = dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Served model", html_for=ids.MONITOR_MODEL),
                    dcc.Dropdown(id=ids.MONITOR_MODEL, placeholder="every served model"),
                ],
                lg=6,
            ),
            dbc.Col(
                [
                    dbc.Label("Days", html_for=ids.MONITOR_DATES),
                    dcc.DatePickerRange(
                        id=ids.MONITOR_DATES, clearable=True, display_format="YYYY-MM-DD", first_day_of_week=1
                    ),
                ],
                lg=6,
            ),
        ],
        className="my-2 g-3",
    )
    content = [
        html.P(NOTE, className="text-muted small mt-2"),
        filters,
        html.Div(id=ids.MONITOR_MESSAGE),
        html.H6("Totals over the chosen days", className="mt-2"),
        table(ids.MONITOR_TABLE),
        html.Div(dcc.Loading(graph(ids.MONITOR_GRAPH)), id=ids.MONITOR_PANEL),
    ]
    return dbc.Tab(content, label="Clinic feedback", tab_id=TAB_ID)


def _monitoring() -> Monitoring:
    return service("monitoring")


def _zone() -> str:
    settings: Settings = service("settings")
    return settings.display_timezone


def _day(picked: str | None) -> date | None:
    """A date picker's value ("2026-11-22", possibly with a time after it) as a date; None when not set."""
    return date.fromisoformat(picked[:10]) if picked else None


@callbacks(
    Output(ids.MONITOR_MODEL, "options"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    Input(ids.REFRESH_BUTTON, "n_clicks"),
)
def served_models(_ticks: int | None, _clicks: int | None) -> list[dict]:
    """Every model the audit log holds predictions of, latest used first, with its count and last use."""
    zone = _zone()
    return [
        {
            "label": f"{tables.served_label(m['run_id'], m['model'])} · {m['predictions']} predictions, "
            f"last {local_time(m['last'], zone)}",
            "value": f"{m['run_id']}/{m['model']}",
        }
        for m in _monitoring().served_models()
    ]


@callbacks(
    Output(ids.MONITOR_MESSAGE, "children"),
    Output(ids.MONITOR_TABLE, "data"),
    Output(ids.MONITOR_TABLE, "columns"),
    Output(ids.MONITOR_GRAPH, "figure"),
    Output(ids.MONITOR_PANEL, "style"),
    Input(ids.MONITOR_MODEL, "value"),
    Input(ids.MONITOR_DATES, "start_date"),
    Input(ids.MONITOR_DATES, "end_date"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    Input(ids.TABS, "active_tab"),
)
def clinic_feedback(
    served: str | None, start: str | None, end: str | None, _ticks: int | None, active_tab: str | None
) -> tuple:
    """The totals and the timeline of the chosen served model (every one when none is chosen) on the chosen days.

    Drawn only while the tab is shown: Plotly sizes a figure drawn in a
    hidden tab at a guessed width, and the log need not be read for nobody.
    The figure keeps its zoom across the periodic refresh (`uirevision`)
    until the filters change.
    """
    if active_tab != TAB_ID:
        raise PreventUpdate
    zone, log = _zone(), _monitoring()
    run_id, _, model = (served or "").partition("/")
    columns = [{"name": c, "id": c} for c in tables.MONITOR_COLUMNS]
    try:
        outcomes = log.outcomes(run_id=run_id or None, model=model or None, start=_day(start), end=_day(end), zone=zone)
        nothing = outcomes.empty and (NOTHING_SELECTED if log.served_models() else NOTHING_RECORDED)
    except CoreError as exc:  # the database failed the read: say so, in words
        return dbc.Alert(str(exc), color="danger"), [], columns, EMPTY, HIDDEN
    if nothing:
        return dbc.Alert(nothing, color="info"), [], columns, EMPTY, HIDDEN
    period = monitoring.period_for(outcomes)
    timeline = monitoring.timeline(outcomes, zone=zone, period=period)
    labels = [tables.served_label(r, m) for r, m in zip(timeline["run_id"], timeline["model"], strict=True)]
    figure = figures.fig_monitoring(timeline.assign(label=labels), period=period, zone=zone)
    figure.update_layout(uirevision=f"{served}|{start}|{end}")
    totals = tables.monitoring_table(monitoring.summary(outcomes))
    return None, totals.to_dict("records"), columns, figure, {}
