"""Layouts of the prediction page and the audit-log page."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from app_predict import ids
from app_predict.report import INTENDED_USE
from core.inputs.formats import ACCEPTED

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}


def header(access: str) -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Clinical classifier", href="/", className="fw-semibold"),
                dbc.Nav([dbc.NavLink("Predict", href="/"), dbc.NavLink("Audit log", href="/audit")], navbar=True),
                dbc.Badge(access, color="light", text_color="dark", className="ms-auto"),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def frame(access: str) -> html.Div:
    """The page frame; `dcc.Location` picks the page."""
    return html.Div(
        [
            dcc.Location(id=ids.URL),
            header(access),
            dbc.Container(
                [
                    dbc.Alert(INTENDED_USE, color="secondary", className="small py-2"),
                    html.Div(id=ids.PAGE),
                ],
                fluid="lg",
            ),
        ]
    )


def example_buttons(examples: list[dict]) -> list:
    """One button per bundled example, or a hint when there are none for this model."""
    if not examples:
        return [html.Span("No bundled examples for this model; `make run` creates some for the demo models.", className="small text-muted")]
    return [html.Span("Try an example: ", className="small text-muted me-2")] + [
        dbc.Button(example["label"], id={"type": ids.EXAMPLE_BUTTON, "index": example["path"]}, color="secondary",
                   outline=True, size="sm", className="me-2 mb-2")
        for example in examples
    ]


def predict_page(max_upload_mb: float) -> html.Div:
    upload = dcc.Upload(
        id=ids.UPLOAD,
        multiple=True,
        children=html.Div(
            [
                html.Div("Drag and drop files here, or click to choose", className="fw-semibold"),
                html.Div(f"Images or recordings: {ACCEPTED}. Up to {max_upload_mb:g} MB per file; several files make a batch.",
                         className="small text-muted"),
            ]
        ),
        className="upload-zone",
        style={"border": "2px dashed #adb5bd", "borderRadius": "8px", "padding": "1.5rem", "textAlign": "center", "cursor": "pointer"},
    )
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Model", html_for=ids.MODEL_SELECT), dcc.Dropdown(id=ids.MODEL_SELECT, clearable=False)], md=7),
                    dbc.Col([dbc.Label("Case reference (optional)", html_for=ids.CASE_REF),
                             dbc.Input(id=ids.CASE_REF, placeholder="e.g. clinic case number", maxLength=200)], md=5),
                ],
                className="mb-3 g-3",
            ),
            upload,
            html.Div(id=ids.EXAMPLES, className="mt-2"),
            dcc.Store(id=ids.INPUTS),
            dcc.Store(id=ids.RESULTS),
            dcc.Store(id=ids.SELECTED),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id=ids.BATCH_STATUS, className="mt-3"),
                        dash_table.DataTable(
                            id=ids.RESULTS_TABLE,
                            columns=[{"name": n, "id": c} for n, c in (("file", "filename"), ("result", "result"),
                                                                         ("probability", "probability"), ("warnings", "warnings"))],
                            row_selectable="single",
                            style_cell={"fontFamily": "inherit", "fontSize": 14, "textAlign": "left", "whiteSpace": "normal", "height": "auto"},
                            style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
                            style_data_conditional=[
                                {"if": {"filter_query": "{status} = 'uncertain'"}, "backgroundColor": "#fff3cd"},
                                {"if": {"filter_query": "{status} = 'error'"}, "backgroundColor": "#f8d7da"},
                            ],
                        ),
                    ]
                ),
                type="default",
                overlay_style={"visibility": "visible", "opacity": 0.5},
                custom_spinner=html.Div([dbc.Spinner(), html.Div("Analysing…", className="mt-2")]),
            ),
            html.Div(id=ids.DETAIL, className="mt-4"),
            dcc.Download(id=ids.REPORT_DOWNLOAD),
        ]
    )


def detail_controls(class_names: list[str]) -> list:
    """Heatmap toggle, feedback and report controls under a result."""
    return [
        dbc.Row(
            [
                dbc.Col(dbc.Switch(id=ids.HEATMAP_SWITCH, label="Show heatmap (what drove the result)", value=False), md=6),
                dbc.Col([dbc.Label("Heatmap opacity", className="small"),
                         dcc.Slider(id=ids.HEATMAP_OPACITY, min=0, max=1, step=0.05, value=0.5, marks={0: "0", 1: "1"})], md=6),
            ],
            className="mt-2",
        ),
        html.Div(id=ids.HEATMAP_NOTE, className="small text-muted"),
        html.H6("Your review", className="mt-3"),
        dbc.Row(
            [
                dbc.Col(dbc.Button("Confirm result", id=ids.CONFIRM_BUTTON, color="success"), width="auto"),
                dbc.Col(dcc.Dropdown(id=ids.OVERRIDE_LABEL, options=class_names, placeholder="correct label"), md=3),
                dbc.Col(dbc.Button("Override", id=ids.OVERRIDE_BUTTON, color="warning"), width="auto"),
                dbc.Col(dbc.Input(id=ids.FEEDBACK_COMMENT, placeholder="comment (optional)", maxLength=2000), md=4),
            ],
            className="g-2 align-items-center",
        ),
        html.Div(id=ids.FEEDBACK_RESULT, className="mt-2"),
        dbc.Button("Download report (HTML)", id=ids.REPORT_BUTTON, color="secondary", outline=True, className="mt-3"),
    ]


def audit_page() -> html.Div:
    return html.Div(
        [
            html.H4("Audit log"),
            dbc.Row(
                [
                    dbc.Col(dbc.Input(id=ids.AUDIT_MODEL, placeholder="model", debounce=True), md=3),
                    dbc.Col(dbc.Input(id=ids.AUDIT_CASE, placeholder="case reference contains", debounce=True), md=3),
                    dbc.Col(dbc.Select(id=ids.AUDIT_UNCERTAIN, options=[{"label": "any certainty", "value": ""},
                                                                       {"label": "uncertain only", "value": "true"},
                                                                       {"label": "confident only", "value": "false"}], value=""), md=2),
                    dbc.Col(dbc.Select(id=ids.AUDIT_FEEDBACK, options=[{"label": "any feedback", "value": ""},
                                                                      {"label": "confirmed", "value": "confirmed"},
                                                                      {"label": "overridden", "value": "overridden"},
                                                                      {"label": "no feedback", "value": "none"}], value=""), md=2),
                    dbc.Col(dbc.ButtonGroup([dbc.Button("Refresh", id=ids.AUDIT_REFRESH, color="secondary", outline=True),
                                             dbc.Button("Export CSV", id=ids.AUDIT_EXPORT, color="secondary", outline=True)]), md=2),
                ],
                className="g-2 mb-3",
            ),
            dash_table.DataTable(
                id=ids.AUDIT_TABLE,
                columns=[{"name": n, "id": c} for n, c in (("time", "created_at"), ("case", "case_ref"), ("file", "filename"),
                                                             ("model", "model"), ("predicted", "predicted"), ("probabilities", "probabilities"),
                                                             ("uncertain", "uncertain"), ("warnings", "warnings"), ("feedback", "feedback"),
                                                             ("correct label", "correct_label"), ("comment", "feedback_comment"))],
                page_size=25,
                sort_action="native",
                style_cell={"fontFamily": "inherit", "fontSize": 13, "textAlign": "left", "whiteSpace": "normal", "height": "auto"},
                style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
            ),
            dcc.Download(id=ids.AUDIT_DOWNLOAD),
        ]
    )
