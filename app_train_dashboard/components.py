"""Widgets every tab builds the same way: graphs, tables, model pickers and test-item cards with one look."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from app_train_dashboard import data
from app_train_dashboard.data import Entry

NO_PREVIEW = "no preview stored with this run"
NO_PREVIEW_NOTE = html.Div(NO_PREVIEW, className="text-muted small mb-2")
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def graph(component_id: str | None = None, **kwargs) -> dcc.Graph:
    """A Plotly graph whose toolbar saves a 2x PNG; `component_id` None for graphs made inside a callback."""
    if component_id is not None:
        kwargs["id"] = component_id
    return dcc.Graph(config=GRAPH_CONFIG, **kwargs)


def table(component_id: str, **kwargs) -> dash_table.DataTable:
    """A DataTable in the page's font, scrolling sideways when wide."""
    return dash_table.DataTable(
        id=component_id,
        style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "inherit", "fontSize": 14, "padding": "6px", "textAlign": "left"},
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
        **kwargs,
    )


def model_picker(component_id: str, label: str = "Model") -> list:
    """A label and a dropdown of the selected models, filled by the tab's own callback."""
    return [dbc.Label(label), dcc.Dropdown(id=component_id, clearable=False)]


def item_card(chosen: Entry, row: Any, kind: str) -> dbc.Col:
    """One test item as a model decided it: its stored picture (and recording), true and predicted class, evidence.

    The errors gallery and the examples per class both show items this way.
    Everything comes from ARTIFACTS_DIR (`data.picture_uri`), never from the
    dataset files the predictions name: the data may have moved since.

    Args:
        chosen: The model that decided the item.
        row: A row of `tables.decisions` (or of a selection of it), as `itertuples()` gives it.
        kind: The card's CSS class ("error-card", "example-card"), by which a page or a test finds it.
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
    return dbc.Col(dbc.Card(dbc.CardBody(body), className=f"h-100 {kind}"), lg=3, md=4, sm=6)
