"""The dashboard's layout: a function, so each page load starts fresh."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from app_train_dashboard import ids

GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
EMPTY_COMMAND = "make run    # or: python -m core demo, or python -m core train --data PATH --models custom_cnn,mobilenet_v2"
INTENDED_USE = "Research and decision support only. Not a medical device."


def _graph(component_id: str, **kwargs) -> dcc.Graph:
    return dcc.Graph(id=component_id, config=GRAPH_CONFIG, **kwargs)


def _table(component_id: str, **kwargs) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=component_id,
        style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "inherit", "fontSize": 14, "padding": "6px", "textAlign": "left"},
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
        **kwargs,
    )


def _header() -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Model analytics", className="fw-semibold"),
                html.Span(id=ids.CHAMPION_BADGE, className="text-light small"),
                dbc.Badge(INTENDED_USE, color="warning", text_color="dark", className="ms-auto"),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def _selectors() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Run", html_for=ids.RUN_SELECT), dcc.Dropdown(id=ids.RUN_SELECT, clearable=False)], lg=5),
                    dbc.Col(
                        [
                            dbc.Label("Compare with run (optional)", html_for=ids.COMPARE_SELECT),
                            dcc.Dropdown(id=ids.COMPARE_SELECT, placeholder="same models of another run"),
                        ],
                        lg=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Models"),
                            dbc.Checklist(id=ids.MODEL_CHECKLIST, inline=True),
                        ],
                        lg=3,
                    ),
                    dbc.Col(
                        dbc.ButtonGroup(
                            [
                                dbc.Button("Refresh runs", id=ids.REFRESH_BUTTON, color="secondary", outline=True, size="sm"),
                                dbc.Button("Comparison CSV", id=ids.EXPORT_COMPARISON_BUTTON, color="secondary", outline=True, size="sm"),
                                dbc.Button("Training metrics CSV", id=ids.EXPORT_METRICS_BUTTON, color="secondary", outline=True, size="sm"),
                            ],
                            className="mt-2",
                        ),
                        width=12,
                    ),
                ],
                className="g-3",
            )
        ),
        className="mb-3",
    )


def _curves_tab() -> dbc.Tab:
    return dbc.Tab(
        [
            dbc.Row(
                [
                    dbc.Col(dbc.RadioItems(id=ids.CURVE_METRIC, options=["accuracy", "loss"], value="accuracy", inline=True), width="auto"),
                    dbc.Col(dbc.Checklist(id=ids.CURVE_LOG, options=[{"label": "log scale", "value": "log"}], value=[], inline=True, switch=True), width="auto"),
                ],
                className="my-2",
            ),
            dcc.Loading(_graph(ids.LEARNING_CURVE_GRAPH)),
        ],
        label="Learning curves",
        tab_id="curves",
    )


def _comparison_tab() -> dbc.Tab:
    return dbc.Tab(
        [
            html.P("Test figures at the operating threshold, after calibration; best value per column in green. "
                   "Sounds: per recording.", className="text-muted small mt-2"),
            _table(ids.COMPARISON_TABLE, sort_action="native"),
            html.H6("Are the differences real?", className="mt-3"),
            html.Ul(id=ids.SIGNIFICANCE_LIST),
            html.H6("Champion", className="mt-3"),
            dbc.Row(
                [
                    dbc.Col(dcc.Dropdown(id=ids.PROMOTE_MODEL, placeholder="model to serve"), lg=4),
                    dbc.Col(dbc.Button("Promote to champion…", id=ids.PROMOTE_BUTTON, color="primary"), width="auto"),
                ],
                className="g-2",
            ),
            html.Div(id=ids.PROMOTE_RESULT, className="mt-2"),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Promote model")),
                    dbc.ModalBody(id=ids.PROMOTE_MODAL_TEXT),
                    dbc.ModalFooter(
                        [
                            dbc.Button("Cancel", id=ids.PROMOTE_CANCEL, color="secondary"),
                            dbc.Button("Promote", id=ids.PROMOTE_CONFIRM, color="danger"),
                        ]
                    ),
                ],
                id=ids.PROMOTE_MODAL,
                is_open=False,
            ),
        ],
        label="Comparison",
        tab_id="comparison",
    )


def _per_model_tab() -> dbc.Tab:
    return dbc.Tab(
        [
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Classification report of"), dcc.Dropdown(id=ids.REPORT_MODEL, clearable=False)], lg=4),
                    dbc.Col(
                        dbc.RadioItems(
                            id=ids.CONFUSION_NORMALIZE,
                            options=[{"label": "counts", "value": "counts"}, {"label": "row-normalised", "value": "rows"}],
                            value="counts",
                            inline=True,
                        ),
                        className="align-self-end",
                    ),
                ],
                className="my-2",
            ),
            _table(ids.REPORT_TABLE),
            dbc.Row(id=ids.CONFUSION_MATRICES, className="mt-3"),
        ],
        label="Reports & confusion",
        tab_id="reports",
    )


def _curves_roc_tab() -> dbc.Tab:
    return dbc.Tab(
        dbc.Row([dbc.Col(_graph(ids.ROC_GRAPH), lg=6), dbc.Col(_graph(ids.PR_GRAPH), lg=6)], className="mt-2"),
        label="ROC & PR",
        tab_id="roc",
    )


def _calibration_tab() -> dbc.Tab:
    return dbc.Tab(dbc.Row(id=ids.CALIBRATION_GRAPHS, className="mt-2"), label="Calibration", tab_id="calibration")


def _operating_tab() -> dbc.Tab:
    controls = dbc.Card(
        dbc.CardBody(
            [
                dbc.Label("Model"),
                dcc.Dropdown(id=ids.OP_MODEL, clearable=False),
                dbc.Label("Threshold on the positive-class probability", className="mt-3"),
                dcc.Slider(id=ids.OP_THRESHOLD, min=0, max=1, step=0.01, value=0.5, marks={0: "0", 0.5: "0.5", 1: "1"},
                           tooltip={"placement": "bottom", "always_visible": True}),
                dbc.InputGroup(
                    [
                        dbc.Select(id=ids.OP_TARGET_KIND, options=[{"label": "target sensitivity", "value": "sensitivity"},
                                                                   {"label": "target specificity", "value": "specificity"}], value="sensitivity"),
                        dbc.Input(id=ids.OP_TARGET_VALUE, type="number", min=0, max=1, step=0.01, value=0.9),
                        dbc.Button("Apply", id=ids.OP_TARGET_BUTTON, color="secondary"),
                    ],
                    className="mt-3",
                    size="sm",
                ),
                dbc.Label("Review band (uncertain: refer)", className="mt-3"),
                dcc.RangeSlider(id=ids.OP_BAND, min=0, max=1, step=0.01, value=[0.35, 0.65], marks={0: "0", 1: "1"},
                                tooltip={"placement": "bottom", "always_visible": True}),
                dbc.Label("Prevalence in the target population", className="mt-3"),
                dbc.Input(id=ids.OP_PREVALENCE, type="number", min=0.001, max=0.999, step=0.001, placeholder="test-set prevalence"),
                dbc.Button("Save as operating point", id=ids.OP_SAVE_BUTTON, color="primary", className="mt-3"),
                html.Div(id=ids.OP_SAVE_RESULT, className="mt-2"),
            ]
        )
    )
    return dbc.Tab(
        html.Div(
            dbc.Row(
                [
                    dbc.Col(controls, lg=4),
                    dbc.Col([html.Div(id=ids.OP_STATS), _graph(ids.OP_MATRIX), _graph(ids.OP_CURVE)], lg=8),
                ],
                className="mt-2 g-3",
            ),
            id=ids.OP_PANEL,
        ),
        label="Operating point",
        tab_id="operating",
    )


def _errors_tab() -> dbc.Tab:
    return dbc.Tab(
        [
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Model"), dcc.Dropdown(id=ids.ERRORS_MODEL, clearable=False)], lg=4),
                    dbc.Col([dbc.Label("True class"), dcc.Dropdown(id=ids.ERRORS_TRUE, placeholder="any")], lg=4),
                    dbc.Col([dbc.Label("Predicted class"), dcc.Dropdown(id=ids.ERRORS_PREDICTED, placeholder="any")], lg=4),
                ],
                className="my-2",
            ),
            dcc.Loading(dbc.Row(id=ids.ERRORS_GALLERY, className="g-3")),
        ],
        label="Errors",
        tab_id="errors",
    )


def _dataset_tab() -> dbc.Tab:
    return dbc.Tab(
        [
            html.Div(id=ids.AUDIT_SUMMARY, className="mt-2"),
            dbc.Row([dbc.Col(_graph(ids.BALANCE_GRAPH), lg=7), dbc.Col([html.H6("Groups per split"), _table(ids.GROUPS_TABLE)], lg=5)]),
            html.H6("Audit findings", className="mt-3"),
            _table(ids.AUDIT_TABLE, page_size=15),
        ],
        label="Dataset",
        tab_id="dataset",
    )


def empty_state() -> dbc.Alert:
    return dbc.Alert(
        [
            html.H5("No training runs yet"),
            html.P("Nothing has been trained into ARTIFACTS_DIR. Create runs with:"),
            html.Pre(EMPTY_COMMAND, className="mb-0"),
        ],
        color="info",
    )


def layout() -> html.Div:
    return html.Div(
        [
            _header(),
            dbc.Container(
                [
                    dcc.Interval(id=ids.REFRESH_INTERVAL, interval=30_000),
                    dcc.Download(id=ids.DOWNLOAD),
                    html.Div(id=ids.EMPTY_STATE),
                    html.Div(id=ids.RUN_ALERTS),
                    html.Div(
                        [
                            _selectors(),
                            dbc.Tabs(
                                [_curves_tab(), _comparison_tab(), _per_model_tab(), _curves_roc_tab(), _calibration_tab(),
                                 _operating_tab(), _errors_tab(), _dataset_tab()],
                                active_tab="curves",
                            ),
                        ],
                        id=ids.MAIN_CONTENT,
                    ),
                    html.Footer(INTENDED_USE, className="text-muted small my-4"),
                ],
                fluid=True,
            ),
        ]
    )
