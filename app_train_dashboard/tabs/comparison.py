"""Comparison: test figures of the selected models side by side, paired tests, and promotion to champion."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, ctx, dcc, html, no_update

from app_train_dashboard import ids, tables
from app_train_dashboard.components import table
from app_train_dashboard.data import Entry, is_folder_name
from app_train_dashboard.selection import SELECTION, artifacts_dir, entries, serving_state
from core.errors import CoreError, NotFound, PromotionRefused
from core.evaluation.guardrails import promotion_concerns
from core.store.registry import champion, operating_point_in_force, promote, starting_weights
from core.store.runs import load_run
from core.web.callbacks import Callbacks
from core.web.login import current_user, require_analyst

callbacks = Callbacks()

GOOD = {"backgroundColor": "#d3f9d8", "fontWeight": "600"}
HIDDEN = {"display": "none"}
KEEP = (no_update, no_update)  # the dialog's buttons as they are
REFUSED = "Not promoted. Give a reason and choose “Promote anyway” to override; the override is recorded."
NOTE = (
    "Test figures at the operating threshold, after calibration; best value per column in green. Sounds: per recording."
)


def _promote_modal() -> dbc.Modal:
    """The confirmation: the candidate and the guardrails' concerns, a reason, and an explicit override.

    Of "Promote" and "Promote anyway", only the one that applies to the candidate is shown (`_actions`).
    """
    buttons = [
        dbc.Button("Cancel", id=ids.PROMOTE_CANCEL, color="secondary"),
        dbc.Button("Promote anyway (recorded)", id=ids.PROMOTE_FORCE, color="danger", outline=True, style=HIDDEN),
        dbc.Button("Promote", id=ids.PROMOTE_CONFIRM, color="primary"),
    ]
    reason = dbc.Textarea(id=ids.PROMOTE_REASON, placeholder="Reason for serving this model (recorded)", rows=2)
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Promote model")),
            dbc.ModalBody([html.Div(id=ids.PROMOTE_MODAL_TEXT), dbc.Label("Reason", className="mt-2"), reason]),
            dbc.ModalFooter(buttons),
        ],
        id=ids.PROMOTE_MODAL,
        is_open=False,
        size="lg",
    )


def layout() -> dbc.Tab:
    """The comparison table, the paired-test sentences and the champion controls."""
    promotion = dbc.Row(
        [
            dbc.Col(dcc.Dropdown(id=ids.PROMOTE_MODEL, placeholder="model to serve"), lg=4),
            dbc.Col(dbc.Button("Promote to champion…", id=ids.PROMOTE_BUTTON, color="primary"), width="auto"),
        ],
        className="g-2",
    )
    return dbc.Tab(
        [
            html.P(NOTE, className="text-muted small mt-2"),
            table(ids.COMPARISON_TABLE, sort_action="native"),
            html.H6("Are the differences real?", className="mt-3"),
            html.Ul(id=ids.SIGNIFICANCE_LIST),
            html.H6("Champion", className="mt-3"),
            promotion,
            html.Div(id=ids.PROMOTE_RESULT, className="mt-2"),
            _promote_modal(),
        ],
        label="Comparison",
        tab_id="comparison",
    )


def _columns(frame: pd.DataFrame) -> list[dict]:
    """DataTable columns: numbers sort as numbers, floats show three decimals."""
    return [
        {
            "name": c.replace("_", " "),
            "id": c,
            "type": "numeric" if frame[c].dtype.kind in "fi" else "text",
            "format": {"specifier": ".3f"} if frame[c].dtype.kind == "f" else None,
        }
        for c in frame.columns
    ]


def _significance(chosen: list[Entry], run_id: str) -> list[html.Li]:
    """The run's paired-test sentences about the models shown, or a line saying there are none."""
    shown = {e.model.name for e in chosen if e.run.run_id == run_id}
    sentences = [html.Li(c["text"]) for e in chosen[:1] for c in e.run.comparisons if {c["a"], c["b"]} <= shown]
    return sentences or [html.Li("No paired tests for this selection.")]


@callbacks(
    Output(ids.COMPARISON_TABLE, "data"),
    Output(ids.COMPARISON_TABLE, "columns"),
    Output(ids.COMPARISON_TABLE, "style_data_conditional"),
    Output(ids.SIGNIFICANCE_LIST, "children"),
    Output(ids.PROMOTE_MODEL, "options"),
    *SELECTION,
)
def comparison(run_id: str | None, models: list[str] | None, compare_id: str | None) -> tuple:
    """The comparison table with the best cells in green, the paired tests, and the promotable models."""
    chosen = entries(run_id, models, compare_id)
    weights = [starting_weights(artifacts_dir(), e.run.run_id, e.model.name) for e in chosen]
    frame = tables.comparison_table([(e.label, e.model) for e in chosen], weights)
    styles = [
        {"if": {"row_index": row, "column_id": column}, **GOOD}
        for column, rows in tables.best_cells(frame).items()
        for row in rows
    ]
    promotable = sorted({e.model.name for e in chosen if e.run.run_id == run_id})
    return (
        frame.to_dict("records"),
        _columns(frame),
        styles,
        _significance(chosen, run_id),
        [{"label": n, "value": n} for n in promotable],
    )


def _facts(run_id: str, model: str) -> dict[str, str] | None:
    """`tables.serving_facts` of a model at its operating point in force, or None when it cannot be served."""
    run = load_run(artifacts_dir(), run_id)
    result = run.models.get(model)
    if result is None or not result.report:
        return None
    try:
        point = operating_point_in_force(artifacts_dir(), serving_state(), run_id, model)
    except NotFound:  # not servable (no model file): the guardrails' concerns say why
        return None
    return tables.serving_facts(run, result, point)


def _candidate(run_id: str, model: str) -> tuple[list, list[str]]:
    """What the dialog shows (the candidate beside the current champion, the guardrails' concerns), and the concerns."""
    report = load_run(artifacts_dir(), run_id).models.get(model)
    concerns = promotion_concerns(report.report) if report is not None and report.report else ["it has no report"]
    lines = [html.P(f"Serve {model} of run {run_id} to clinicians from now on?")]
    candidate, current = _facts(run_id, model), champion(artifacts_dir(), serving_state())
    if candidate is not None:
        champion_facts = None if current is None else _facts(current["run_id"], current["model"])
        frame = tables.promotion_table(candidate, champion_facts)
        lines.append(dbc.Table.from_dataframe(frame, size="sm", bordered=True, className="small"))
    if concerns:
        lines.append(dbc.Alert([html.B("The guardrails refuse it: "), "; ".join(concerns) + "."], color="warning"))
    return lines, concerns


def _actions(concerns: list[str]) -> tuple[dict, dict]:
    """The styles of "Promote" and "Promote anyway": an override is offered only when there is a concern to override.

    A model the guardrails refuse cannot be promoted plainly (`registry.promote`
    refuses it), so only "Promote anyway" is shown for it, and only "Promote"
    for a model they accept.
    """
    return (HIDDEN, {}) if concerns else ({}, HIDDEN)


def _kept_open(run_id: str, model: str, note: str, concerns: list[str] | None = None) -> tuple:
    """The dialog kept open with `note` below the candidate; its buttons follow `concerns` (or the candidate's)."""
    lines, found = _candidate(run_id, model)
    actions = _actions(found if concerns is None else concerns)
    return True, [*lines, dbc.Alert(note, color="danger")], no_update, *actions


@callbacks(
    Output(ids.PROMOTE_MODAL, "is_open"),
    Output(ids.PROMOTE_MODAL_TEXT, "children"),
    Output(ids.PROMOTE_RESULT, "children"),
    Output(ids.PROMOTE_CONFIRM, "style"),
    Output(ids.PROMOTE_FORCE, "style"),
    Input(ids.PROMOTE_BUTTON, "n_clicks"),
    Input(ids.PROMOTE_CONFIRM, "n_clicks"),
    Input(ids.PROMOTE_FORCE, "n_clicks"),
    Input(ids.PROMOTE_CANCEL, "n_clicks"),
    State(ids.PROMOTE_MODEL, "value"),
    State(ids.RUN_SELECT, "value"),
    State(ids.PROMOTE_REASON, "value"),
    prevent_initial_call=True,
)
def promote_model(
    _open: int | None,
    _confirm: int | None,
    _force: int | None,
    _cancel: int | None,
    model: str | None,
    run_id: str,
    reason: str | None,
) -> tuple:
    """Show the candidate and its concerns, then promote it with a reason; a refused model needs "Promote anyway".

    Returns:
        Whether the dialog is open, its text, the result shown under the
        controls, and the styles of its "Promote" and "Promote anyway" buttons.
    """
    if ctx.triggered_id == ids.PROMOTE_CANCEL:
        return False, no_update, no_update, *KEEP
    if not model or not is_folder_name(run_id):  # a crafted run id ("RUN/../RUN") would be another key in the database
        return False, no_update, dbc.Alert("Choose the run and model to promote first.", color="secondary"), *KEEP
    if ctx.triggered_id == ids.PROMOTE_BUTTON:
        lines, concerns = _candidate(run_id, model)
        return True, lines, None, *_actions(concerns)
    force = ctx.triggered_id == ids.PROMOTE_FORCE
    try:
        require_analyst()  # 403 in words: only ANALYST_USERS may change what is served
        promoted = promote(
            artifacts_dir(), serving_state(), run_id, model, reason=reason or "", user=current_user(), force=force
        )
    except PromotionRefused as exc:  # the registry's concerns are the ones that may be overridden
        return _kept_open(run_id, model, REFUSED, exc.concerns)
    except CoreError as exc:
        return _kept_open(run_id, model, str(exc))
    forced = " The guardrails were overridden; that is recorded." if promoted["forced"] else ""
    message = f"{promoted['model']} of {promoted['run_id']} is now the champion.{forced}"
    return False, no_update, dbc.Alert(message, color="success"), *KEEP
