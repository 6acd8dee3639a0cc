"""Class examples: what each class looks like, as the first few test items of each class one model decided.

Beside the errors gallery, which shows only what a model got wrong, a reader
sees what each class looks like, right or wrong, with the same cards and the
same decision rules (`tables.decisions`). The items are those whose previews
training keeps (`core.training.steps.shown_items`), read from ARTIFACTS_DIR.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from app_train_dashboard import ids, tables
from app_train_dashboard.components import item_card, model_picker
from app_train_dashboard.selection import SELECTION, entry, offer_selected_models
from core.evaluation.decision import CLASS_SAMPLE
from core.web.callbacks import Callbacks

callbacks = Callbacks()
offer_selected_models(callbacks, ids.EXAMPLES_MODEL)

NOTE = (
    f"The first {CLASS_SAMPLE} test items of each class, as the chosen model called them "
    "(calibrated, at its operating threshold): right or wrong, the predicted class says which."
)


def layout() -> dbc.Tab:
    """The model picker above one row of cards per class."""
    picker = dbc.Row(dbc.Col(model_picker(ids.EXAMPLES_MODEL), lg=4), className="my-2")
    return dbc.Tab(
        [picker, html.P(NOTE, className="text-muted small"), dcc.Loading(html.Div(id=ids.EXAMPLES_GALLERY))],
        label="Class examples",
        tab_id="examples",
    )


@callbacks(Output(ids.EXAMPLES_GALLERY, "children"), Input(ids.EXAMPLES_MODEL, "value"), *SELECTION)
def class_examples(label: str | None, run_id: str | None, models: list[str] | None, compare_id: str | None) -> list:
    """Per class of the run, a heading and the cards of its first test items (a line when it has none)."""
    chosen = entry(label, run_id, models, compare_id)
    sections = []
    for name, rows in tables.class_examples(chosen.run, chosen.model).items():
        cards = [item_card(chosen, row, "example-card") for row in rows.itertuples()]
        shown = dbc.Row(cards, className="g-3") if cards else html.P("No test items of this class.", className="small")
        sections += [html.H6(name, className="mt-3 example-class"), shown]
    return sections
