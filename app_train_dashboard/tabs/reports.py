"""Reports & confusion: one model's classification report, and every selected model's confusion matrix."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output

from app_train_dashboard import figures, ids, tables
from app_train_dashboard.components import graph, model_picker, table
from app_train_dashboard.data import Entry
from app_train_dashboard.selection import SELECTION, entries, entry, offer_selected_models
from core.web.callbacks import Callbacks

callbacks = Callbacks()
offer_selected_models(callbacks, ids.REPORT_MODEL)

NORMALIZE_OPTIONS = [{"label": "counts", "value": "counts"}, {"label": "row-normalised", "value": "rows"}]


def layout() -> dbc.Tab:
    """The report's model picker and the counts / row-normalised switch, above the report and the matrices."""
    controls = dbc.Row(
        [
            dbc.Col(model_picker(ids.REPORT_MODEL, "Classification report of"), lg=4),
            dbc.Col(
                dbc.RadioItems(id=ids.CONFUSION_NORMALIZE, options=NORMALIZE_OPTIONS, value="counts", inline=True),
                className="align-self-end",
            ),
        ],
        className="my-2",
    )
    return dbc.Tab(
        [controls, table(ids.REPORT_TABLE), dbc.Row(id=ids.CONFUSION_MATRICES, className="mt-3")],
        label="Reports & confusion",
        tab_id="reports",
    )


@callbacks(
    Output(ids.REPORT_TABLE, "data"), Output(ids.REPORT_TABLE, "columns"), Input(ids.REPORT_MODEL, "value"), *SELECTION
)
def classification_report(
    label: str | None, run_id: str | None, models: list[str] | None, compare_id: str | None
) -> tuple[list[dict], list[dict]]:
    """scikit-learn's classification report of the chosen model, three decimals."""
    chosen = entry(label, run_id, models, compare_id)
    report = tables.classification_report_table(chosen.model.headline.get("classification_report", {}))
    numeric = {"type": "numeric", "format": {"specifier": ".3f"}}
    columns = [{"name": c, "id": c, **({} if c == "class" else numeric)} for c in report.columns]
    return report.to_dict("records"), columns


def matrix_card(chosen: Entry, *, normalize: bool) -> dbc.Col:
    """One model's confusion matrix, titled with its label."""
    matrix = chosen.model.headline["confusion_matrix"]
    figure = figures.fig_confusion_matrix(matrix, chosen.run.class_names, normalize=normalize, title=chosen.label)
    return dbc.Col(graph(figure=figure), lg=4, md=6)


@callbacks(Output(ids.CONFUSION_MATRICES, "children"), *SELECTION, Input(ids.CONFUSION_NORMALIZE, "value"))
def confusion_matrices(
    run_id: str | None, models: list[str] | None, compare_id: str | None, normalize: str
) -> list[dbc.Col]:
    """One confusion matrix per selected model, as counts or row-normalised."""
    chosen = entries(run_id, models, compare_id)
    return [matrix_card(e, normalize=normalize == "rows") for e in chosen if "confusion_matrix" in e.model.headline]
