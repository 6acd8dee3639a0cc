"""The audit-log page: every recorded prediction and refusal with its feedback, filtered, paged and exported as CSV.

Filtering and paging run in the database (`AuditLog.recent`, `AuditLog.count`),
so the page stays fast however long the log grows. Times are shown in the
deployment's zone (`DISPLAY_TIMEZONE`), with the zone named.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dash_table, dcc, html

from app_predict import ids
from app_predict.report import percent
from core.store.audit_log import Filters
from core.web.callbacks import Callbacks
from core.web.server import service
from core.web.times import local_time

PATH = "/audit"
NAME = "Audit log"
PAGE_SIZE = 25
EXPORT_LIMIT = 100_000
ANY = "any"  # a select's "no filter" choice: a real value, so the browser shows it as chosen
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
    ("run", "run_id"),
    ("model", "model"),
    ("predicted", "predicted"),
    ("probabilities", "probabilities"),
    ("uncertain", "uncertain"),
    ("warnings", "warnings"),
    ("feedback", "feedback"),
    ("correct label", "correct_label"),
    ("comment", "feedback_comment"),
)
# Identifiers are never wrapped (a run id or model name cut over two lines misreads); the table scrolls instead.
UNBROKEN = ("created_at", "run_id", "model", "predicted", "feedback")
PROSE = ("probabilities", "warnings", "feedback_comment", "why")  # wide enough to read as lines, not a column of words
# The certainty select's choices as filters: a refused upload was never answered, so it is never "confident".
CERTAINTY = {
    "true": {"uncertain": True},
    "false": {"uncertain": False, "refused": False},
    "refused": {"refused": True},
}


def select(component_id: str, choices: list[tuple[str, str]], label: str) -> html.Div:
    """A select whose first choice (`ANY`) is chosen, labelled for screen readers.

    Every value is non-empty: `dbc.Select` adds a hidden placeholder option of
    value "", so a choice of value "" is shown blank in the browser.
    """
    options = [{"label": text, "value": value} for value, text in choices]
    return html.Div(
        [
            dbc.Label(label, html_for=component_id, className="visually-hidden"),
            dbc.Select(id=component_id, options=options, value=choices[0][0]),
        ]
    )


def table(component_id: str, columns: tuple[tuple[str, str], ...], **options: object) -> dash_table.DataTable:
    """A table paged by the server, that scrolls sideways inside its own box on a narrow screen."""
    return dash_table.DataTable(
        id=component_id,
        columns=[{"name": name, "id": column} for name, column in columns],
        page_action="custom",
        page_current=0,
        page_size=PAGE_SIZE,
        page_count=1,
        style_table={"overflowX": "auto", "minWidth": "100%"},
        style_cell={
            "fontFamily": "var(--bs-body-font-family)",
            "fontSize": 13,
            "textAlign": "left",
            "whiteSpace": "normal",
            "height": "auto",
            "minWidth": 110,  # on a phone the table scrolls rather than squeezing text into tall thin columns
            "maxWidth": 320,
        },
        style_cell_conditional=[
            *({"if": {"column_id": column}, "whiteSpace": "nowrap", "maxWidth": "none"} for column in UNBROKEN),
            *({"if": {"column_id": column}, "minWidth": 220} for column in PROSE),
        ],
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5", "whiteSpace": "nowrap"},
        **options,
    )


def _filters() -> dbc.Row:
    certainty = [
        (ANY, "any certainty"),
        ("true", "uncertain only"),
        ("false", "confident only"),
        ("refused", "refused for quality"),
    ]
    verdicts = [
        (ANY, "any feedback"),
        ("confirmed", "confirmed"),
        ("overridden", "overridden"),
        ("none", "no feedback"),
    ]
    buttons = dbc.ButtonGroup(
        [
            dbc.Button("Refresh", id=ids.AUDIT_REFRESH, color="secondary", outline=True),
            dbc.Button("Export CSV", id=ids.AUDIT_EXPORT, color="secondary", outline=True),
        ]
    )
    return dbc.Row(
        [
            dbc.Col(dbc.Input(id=ids.AUDIT_MODEL, placeholder="model name contains", debounce=True), md=3),
            dbc.Col(dbc.Input(id=ids.AUDIT_CASE, placeholder="case reference contains", debounce=True), md=3),
            dbc.Col(select(ids.AUDIT_UNCERTAIN, certainty, "certainty"), md=2),
            dbc.Col(select(ids.AUDIT_FEEDBACK, verdicts, "feedback"), md=2),
            dbc.Col(buttons, md=2),
        ],
        className="g-2 mb-3",
    )


def layout(**_query: str) -> html.Div:
    """The filters, the table (filled a page at a time by `audit_rows`) and the CSV download."""
    return html.Div(
        [
            html.H4("Audit log"),
            _filters(),
            html.Div(id=ids.AUDIT_COUNT, className="small text-muted mb-2"),
            table(ids.AUDIT_TABLE, COLUMNS),
            dcc.Download(id=ids.AUDIT_DOWNLOAD),
        ]
    )


def _chosen(model: str | None, case_ref: str | None, uncertain: str | None, verdict: str | None) -> Filters:
    """The filters as `AuditLog.recent` takes them; empty text and `ANY` leave a filter unset."""
    return Filters(
        model=(model or "").strip() or None,
        case_ref=(case_ref or "").strip() or None,
        feedback=None if verdict in (None, "", ANY) else verdict,
        **CERTAINTY.get(uncertain or ANY, {}),
    )


def readable(row: dict, zone: str) -> dict:
    """A row as a person reads it: local time with its zone, probabilities and warnings as text, refusals named.

    A withheld row (unlike the training data) shows no probabilities, as the result card and the
    report do not: beside "withheld", "normal 1.00" reads as a result. The API and the CSV keep them.
    """
    refused = row.get("refused_reason")
    if refused:
        refused += " (input kept)" if row["input_path"] else " (input not kept: STORE_INPUTS was off)"
    probabilities = ", ".join(f"{k} {percent(v)}" for k, v in row["probabilities"].items())
    return {
        **row,
        "created_at": local_time(row["created_at"], zone),
        "predicted": row["predicted"] or ("refused" if refused else "withheld"),
        "probabilities": "not a result" if row.get("out_of_distribution") else probabilities,
        "uncertain": "refused" if refused else ("yes" if row["uncertain"] else "no"),
        "warnings": "; ".join(([f"refused: {refused}"] if refused else []) + row["warnings"]),
    }


def page_of(filters: Filters, page: int | None, triggered: str | None, filter_ids: tuple[str, ...]) -> tuple:
    """(rows, page count, page, total) of the filtered rows: back to the first page when a filter changed."""
    audit_log, zone = service("predictions").audit_log, service("predictions").settings.display_timezone
    total = audit_log.count(where=filters)
    pages = max(1, -(-total // PAGE_SIZE))
    page = 0 if triggered in filter_ids or page is None else min(page, pages - 1)
    rows = audit_log.recent(where=filters, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    return [readable(row, zone) for row in rows], pages, page, total


@callbacks(
    Output(ids.AUDIT_TABLE, "data"),
    Output(ids.AUDIT_TABLE, "page_count"),
    Output(ids.AUDIT_TABLE, "page_current"),
    Output(ids.AUDIT_COUNT, "children"),
    *[Input(*f) for f in FILTERS],
    Input(ids.AUDIT_TABLE, "page_current"),
    Input(ids.AUDIT_REFRESH, "n_clicks"),
)
def audit_rows(
    model: str | None,
    case_ref: str | None,
    uncertain: str | None,
    verdict: str | None,
    page: int | None,
    _refresh: int | None,
) -> tuple[list[dict], int, int, str]:
    filters = _chosen(model, case_ref, uncertain, verdict)
    rows, pages, page, total = page_of(filters, page, ctx.triggered_id, tuple(f[0] for f in FILTERS))
    rows = [{key: row[key] for key in ("id", *dict(COLUMNS).values())} for row in rows]
    return rows, pages, page, f"{total} recorded, newest first; page {page + 1} of {pages}"


@callbacks(
    Output(ids.AUDIT_DOWNLOAD, "data"),
    Input(ids.AUDIT_EXPORT, "n_clicks"),
    *[State(*f) for f in FILTERS],
    prevent_initial_call=True,
)
def audit_export(
    _clicks: int | None, model: str | None, case_ref: str | None, uncertain: str | None, verdict: str | None
) -> dict:
    audit_log = service("predictions").audit_log
    rows = audit_log.recent(where=_chosen(model, case_ref, uncertain, verdict), limit=EXPORT_LIMIT)
    return {"content": audit_log.to_csv(rows), "filename": "predictions.csv", "type": "text/csv"}
