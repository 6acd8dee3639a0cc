"""The audit-log page: every recorded prediction with its feedback, filtered, and exported as CSV."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dash_table, dcc, html

from app_predict import ids
from core.web.callbacks import Callbacks
from core.web.server import service

PATH = "/audit"
NAME = "Audit log"
callbacks = Callbacks()

# The filters, in the order the callbacks receive them: model, case reference, certainty, feedback.
FILTERS = [
    (ids.AUDIT_MODEL, "value"),
    (ids.AUDIT_CASE, "value"),
    (ids.AUDIT_UNCERTAIN, "value"),
    (ids.AUDIT_FEEDBACK, "value"),
]
COLUMNS = (
    ("time", "created_at"),
    ("case", "case_ref"),
    ("file", "filename"),
    ("model", "model"),
    ("predicted", "predicted"),
    ("probabilities", "probabilities"),
    ("uncertain", "uncertain"),
    ("warnings", "warnings"),
    ("feedback", "feedback"),
    ("correct label", "correct_label"),
    ("comment", "feedback_comment"),
)


def _filters() -> dbc.Row:
    certainty = [
        {"label": "any certainty", "value": ""},
        {"label": "uncertain only", "value": "true"},
        {"label": "confident only", "value": "false"},
    ]
    verdicts = [
        {"label": "any feedback", "value": ""},
        {"label": "confirmed", "value": "confirmed"},
        {"label": "overridden", "value": "overridden"},
        {"label": "no feedback", "value": "none"},
    ]
    buttons = dbc.ButtonGroup(
        [
            dbc.Button("Refresh", id=ids.AUDIT_REFRESH, color="secondary", outline=True),
            dbc.Button("Export CSV", id=ids.AUDIT_EXPORT, color="secondary", outline=True),
        ]
    )
    return dbc.Row(
        [
            dbc.Col(dbc.Input(id=ids.AUDIT_MODEL, placeholder="model", debounce=True), md=3),
            dbc.Col(dbc.Input(id=ids.AUDIT_CASE, placeholder="case reference contains", debounce=True), md=3),
            # dbc.Select shows its placeholder for the value "": the placeholder names the "any" choice
            dbc.Col(
                dbc.Select(id=ids.AUDIT_UNCERTAIN, options=certainty, value="", placeholder=certainty[0]["label"]), md=2
            ),
            dbc.Col(
                dbc.Select(id=ids.AUDIT_FEEDBACK, options=verdicts, value="", placeholder=verdicts[0]["label"]), md=2
            ),
            dbc.Col(buttons, md=2),
        ],
        className="g-2 mb-3",
    )


def layout(**_query: str) -> html.Div:
    """The filters, the table (filled by `audit_rows`) and the CSV download."""
    table = dash_table.DataTable(
        id=ids.AUDIT_TABLE,
        columns=[{"name": name, "id": column} for name, column in COLUMNS],
        page_size=25,
        sort_action="native",
        style_cell={
            "fontFamily": "inherit",
            "fontSize": 13,
            "textAlign": "left",
            "whiteSpace": "normal",
            "height": "auto",
        },
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
    )
    return html.Div([html.H4("Audit log"), _filters(), table, dcc.Download(id=ids.AUDIT_DOWNLOAD)])


def _query(model, case_ref, uncertain, verdict, *, limit: int = 500) -> list[dict]:
    """The audit-log rows the filters select, newest first; an empty filter selects everything."""
    return service("predictions").audit_log.recent(
        limit=limit,
        model=model or None,
        case_ref=case_ref or None,
        uncertain=None if not uncertain else uncertain == "true",
        feedback=verdict or None,
    )


def _readable(row: dict) -> dict:
    """A row as the table shows it: probabilities, certainty and warnings as text."""
    return {
        **row,
        "probabilities": ", ".join(f"{k} {v:.2f}" for k, v in row["probabilities"].items()),
        "uncertain": "yes" if row["uncertain"] else "no",
        "warnings": "; ".join(row["warnings"]),
    }


@callbacks(Output(ids.AUDIT_TABLE, "data"), *[Input(*f) for f in FILTERS], Input(ids.AUDIT_REFRESH, "n_clicks"))
def audit_rows(model, case_ref, uncertain, verdict, _refresh):
    return [_readable(row) for row in _query(model, case_ref, uncertain, verdict)]


@callbacks(
    Output(ids.AUDIT_DOWNLOAD, "data"),
    Input(ids.AUDIT_EXPORT, "n_clicks"),
    *[State(*f) for f in FILTERS],
    prevent_initial_call=True,
)
def audit_export(_clicks, model, case_ref, uncertain, verdict):
    rows = _query(model, case_ref, uncertain, verdict, limit=100_000)
    return {"content": service("predictions").audit_log.to_csv(rows), "filename": "predictions.csv", "type": "text/csv"}
