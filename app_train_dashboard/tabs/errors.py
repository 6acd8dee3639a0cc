"""Errors: the worst misclassified test items of one model, with the pictures and recordings the run stored.

Everything shown comes from ARTIFACTS_DIR (`RunLayout.preview`), never from
the dataset files the predictions name: the data may have moved since.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc

from app_train_dashboard import ids, tables
from app_train_dashboard.components import item_card, model_picker
from app_train_dashboard.selection import SELECTION, entry, offer_selected_models
from core.web.callbacks import Callbacks

callbacks = Callbacks()
offer_selected_models(callbacks, ids.ERRORS_MODEL)

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


@callbacks(
    Output(ids.ERRORS_TRUE, "options"),
    Output(ids.ERRORS_PREDICTED, "options"),
    Output(ids.ERRORS_GALLERY, "children"),
    Input(ids.ERRORS_MODEL, "value"),
    Input(ids.ERRORS_TRUE, "value"),
    Input(ids.ERRORS_PREDICTED, "value"),
    *SELECTION,
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
    cards = [item_card(chosen, row, "error-card") for row in worst.itertuples()]
    return chosen.run.class_names, chosen.run.class_names, cards or [NO_ERRORS]
