"""Dataset: the selected run's audit, class balance per split, and groups per split."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, html
from dash.exceptions import PreventUpdate

from app_train_dashboard import figures, ids, tables
from app_train_dashboard.components import graph, table
from app_train_dashboard.selection import artifacts_dir
from core.store.layout import RunLayout
from core.store.runs import load_run
from core.web.callbacks import Callbacks

callbacks = Callbacks()


def layout() -> dbc.Tab:
    """The audit summary, the balance graph beside the groups table, and the audit findings."""
    return dbc.Tab(
        [
            html.Div(id=ids.AUDIT_SUMMARY, className="mt-2"),
            dbc.Row(
                [
                    dbc.Col(graph(ids.BALANCE_GRAPH), lg=7),
                    dbc.Col([html.H6("Groups per split"), table(ids.GROUPS_TABLE)], lg=5),
                ]
            ),
            html.H6("Audit findings", className="mt-3"),
            table(ids.AUDIT_TABLE, page_size=15),
        ],
        label="Dataset",
        tab_id="dataset",
    )


def audit_summary(audit: dict) -> dbc.Alert:
    """One line: files, unreadable files, duplicate sets, label conflicts and the imbalance ratio."""
    return dbc.Alert(
        f"{audit.get('n_files', '?')} files; {len(audit.get('unreadable', []))} unreadable, "
        f"{len(audit.get('duplicates', []))} duplicate sets, {len(audit.get('conflicts', []))} label conflicts; "
        f"imbalance ratio {audit.get('imbalance_ratio', 1):.1f}" + (" (imbalanced)" if audit.get("imbalanced") else ""),
        color="light",
    )


@callbacks(
    Output(ids.AUDIT_SUMMARY, "children"),
    Output(ids.BALANCE_GRAPH, "figure"),
    Output(ids.GROUPS_TABLE, "data"),
    Output(ids.AUDIT_TABLE, "data"),
    Input(ids.RUN_SELECT, "value"),
)
def dataset(run_id: str | None) -> tuple:
    """What the audit found in the selected run's data, and how its split is balanced."""
    if not run_id:
        raise PreventUpdate
    run = load_run(artifacts_dir(), run_id)
    if run.split is None:
        missing = f"This run has no readable {RunLayout(run.path).split.name}."
        return dbc.Alert(missing, color="warning"), figures.empty_figure("No split"), [], []
    groups, findings = tables.group_counts(run.split), tables.audit_findings(run.audit)
    return (
        audit_summary(run.audit),
        figures.fig_class_balance(run.split),
        groups.to_dict("records"),
        findings.to_dict("records"),
    )
