"""Widgets every tab builds the same way: graphs, tables and model pickers with one look."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc

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
