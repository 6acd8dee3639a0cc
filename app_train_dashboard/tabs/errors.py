"""Errors: the worst misclassified test items of one model, with the pictures and recordings the run stored.

Everything shown comes from ARTIFACTS_DIR (`RunLayout.preview`), never from
the dataset files the predictions name: the data may have moved since.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from app_train_dashboard import data, ids, tables
from app_train_dashboard.components import model_picker
from app_train_dashboard.data import Entry
from app_train_dashboard.selection import SELECTION_STATE, entry, offer_selected_models
from core.web.callbacks import Callbacks

callbacks = Callbacks()
offer_selected_models(callbacks, ids.ERRORS_MODEL)

NO_PREVIEW = "no preview stored with this run"
NO_PREVIEW_NOTE = html.Div(NO_PREVIEW, className="text-muted small mb-2")
NO_ERRORS = dbc.Col(dbc.Alert("No misclassified test items for this filter.", color="success"))


def layout() -> dbc.Tab:
    """Model, true-class and predicted-class filters above the gallery of cards."""
    filters = dbc.Row(
        [
            dbc.Col(model_picker(ids.ERRORS_MODEL), lg=4),
            dbc.Col([dbc.Label("True class"), dcc.Dropdown(id=ids.ERRORS_TRUE, placeholder="any")], lg=4),
            dbc.Col([dbc.Label("Predicted class"), dcc.Dropdown(id=ids.ERRORS_PREDICTED, placeholder="any")], lg=4),
        ],
        className="my-2",
    )
    return dbc.Tab(
        [filters, dcc.Loading(dbc.Row(id=ids.ERRORS_GALLERY, className="g-3"))], label="Errors", tab_id="errors"
    )


def error_card(chosen: Entry, row: Any) -> dbc.Col:
    """One misclassified item: its stored picture (and recording), true and predicted class, evidence and loss.

    Args:
        chosen: The model whose error it is.
        row: A row of `tables.worst_errors`, as `itertuples()` gives it.
    """
    picture = data.picture_uri(chosen.run, row.sha256)
    shown = html.Img(src=picture, className="img-fluid mb-2", alt="preview") if picture else NO_PREVIEW_NOTE
    body = [
        shown,
        html.Div([html.B("true: "), row.true]),
        html.Div([html.B("predicted: "), row.predicted]),
        html.Div(row.evidence, className="small"),
        html.Div(f"loss {row.loss:.2f}", className="text-muted small"),
        html.Div(str(row.path).rsplit("/", 1)[-1], className="text-muted small text-truncate"),
    ]
    recording = data.recording_uri(chosen.run, row.sha256) if chosen.run.modality == "sound" else None
    if recording:
        body.append(html.Audio(src=recording, controls=True, className="w-100 mt-1"))
    return dbc.Col(dbc.Card(dbc.CardBody(body), className="h-100 error-card"), lg=3, md=4, sm=6)


@callbacks(
    Output(ids.ERRORS_TRUE, "options"),
    Output(ids.ERRORS_PREDICTED, "options"),
    Output(ids.ERRORS_GALLERY, "children"),
    Input(ids.ERRORS_MODEL, "value"),
    Input(ids.ERRORS_TRUE, "value"),
    Input(ids.ERRORS_PREDICTED, "value"),
    *SELECTION_STATE,
)
def errors_gallery(
    label: str | None,
    true: str | None,
    predicted: str | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> tuple:
    """The worst errors of the chosen model, filtered by true and predicted class, as cards."""
    chosen = entry(label, run_id, models, compare_id)
    worst = tables.worst_errors(chosen.run, chosen.model, true=true, predicted=predicted)
    cards = [error_card(chosen, row) for row in worst.itertuples()]
    return chosen.run.class_names, chosen.run.class_names, cards or [NO_ERRORS]
