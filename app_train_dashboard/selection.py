"""The run and model selection every tab reads, the run list that feeds it, and the CSV exports.

`SELECTION` (as inputs) and `SELECTION_STATE` (as states) are the one
declaration of the selection: a tab's callback lists one of them and gets
`run_id, models, compare_id` as its last three arguments, which it hands to
`entries` or `entry`.
"""

from __future__ import annotations

from pathlib import Path

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app_train_dashboard import data, ids, tables
from app_train_dashboard.data import Entry
from core.errors import NotFound
from core.settings import Settings
from core.store.registry import champion, operating_point_in_force
from core.store.runs import load_run, run_choices, training_metrics
from core.store.serving_state import ServingState
from core.web.callbacks import Callbacks
from core.web.server import service

callbacks = Callbacks()

SELECTION = [Input(ids.RUN_SELECT, "value"), Input(ids.MODEL_CHECKLIST, "value"), Input(ids.COMPARE_SELECT, "value")]
SELECTION_STATE = [State(i.component_id, i.component_property) for i in SELECTION]
EMPTY_COMMAND = (
    "make run    # or: python -m core demo, or python -m core train --data PATH --models custom_cnn,mobilenet_v2"
)


def artifacts_dir() -> Path:
    """ARTIFACTS_DIR of the app answering the current request."""
    settings: Settings = service("settings")
    return settings.artifacts_dir


def serving_state() -> ServingState:
    """The champion and operating points, in the database of the app answering the current request."""
    return service("serving_state")


def entries(run_id: str | None, models: list[str] | None, compare_id: str | None) -> list[Entry]:
    """The selected models of the selected run (and of the comparison run).

    Raises:
        PreventUpdate: no run is selected yet.
    """
    if not run_id:
        raise PreventUpdate
    return data.selected(artifacts_dir(), run_id, models, compare_id)


def entry(label: str | None, run_id: str | None, models: list[str] | None, compare_id: str | None) -> Entry:
    """The selected model called `label` (the first one when `label` is not among them).

    Raises:
        PreventUpdate: no run or no model is selected.
    """
    chosen = entries(run_id, models, compare_id)
    if not chosen:
        raise PreventUpdate
    return next((e for e in chosen if e.label == label), chosen[0])


def model_options(
    run_id: str | None, models: list[str] | None, compare_id: str | None, current: str | None
) -> tuple[list[dict], str | None]:
    """Dropdown options naming each selected model; the user's choice stays while it is offered, else the first.

    An unchanged choice is not sent again, so the callbacks that read the
    picker (a tab's threshold, say) keep what the user set.
    """
    options = [{"label": e.label, "value": e.label} for e in entries(run_id, models, compare_id)]
    if current in {o["value"] for o in options}:
        return options, no_update
    return options, options[0]["value"] if options else None


def offer_selected_models(tab_callbacks: Callbacks, picker: str) -> None:
    """Declare on a tab's callbacks that its dropdown `picker` offers the selected models (`model_options`)."""
    tab_callbacks(Output(picker, "options"), Output(picker, "value"), *SELECTION, State(picker, "value"))(model_options)


def empty_state() -> dbc.Alert:
    """What the page shows instead of figures while ARTIFACTS_DIR holds no run."""
    return dbc.Alert(
        [
            html.H5("No training runs yet"),
            html.P("Nothing has been trained into ARTIFACTS_DIR. Create runs with:"),
            html.Pre(EMPTY_COMMAND, className="mb-0"),
        ],
        color="info",
    )


def _button(label: str, component_id: str) -> dbc.Button:
    return dbc.Button(label, id=component_id, color="secondary", outline=True, size="sm")


def layout() -> dbc.Card:
    """The run, comparison run and model selectors, with refresh and export buttons."""
    buttons = dbc.ButtonGroup(
        [
            _button("Refresh runs", ids.REFRESH_BUTTON),
            _button("Comparison CSV", ids.EXPORT_COMPARISON_BUTTON),
            _button("Training metrics CSV", ids.EXPORT_METRICS_BUTTON),
        ],
        className="mt-2",
    )
    run = [dbc.Label("Run", html_for=ids.RUN_SELECT), dcc.Dropdown(id=ids.RUN_SELECT, clearable=False)]
    compare = [
        dbc.Label("Compare with run (optional)", html_for=ids.COMPARE_SELECT),
        dcc.Dropdown(id=ids.COMPARE_SELECT, placeholder="same models of another run"),
    ]
    models = [dbc.Label("Models"), dbc.Checklist(id=ids.MODEL_CHECKLIST, inline=True)]
    row = dbc.Row(
        [dbc.Col(run, lg=5), dbc.Col(compare, lg=4), dbc.Col(models, lg=3), dbc.Col(buttons, width=12)], className="g-3"
    )
    return dbc.Card(dbc.CardBody(row), className="mb-3")


def _run_options(choices: list[dict]) -> list[dict]:
    return [
        {"label": ("⚠ " if not c["usable"] else "") + c["label"], "value": c["run_id"], "disabled": not c["usable"]}
        for c in choices
    ]


def _run_alerts(choices: list[dict]) -> list[dbc.Alert]:
    return [
        dbc.Alert(
            f"Run {c['run_id']} is listed but skipped in the figures: {c['warning']}.",
            color="warning",
            className="py-2 mb-2",
        )
        for c in choices
        if not c["usable"]
    ]


def _champion_badge(root: Path) -> str:
    """The champion and the operating point it is served with, as the database holds them now."""
    best = champion(root, serving_state())
    if best is None:
        return "No champion: nothing is served until a model is promoted (Comparison tab)"
    served = f"Champion: {best['model']} of {best['run_id']}"
    if best["damaged"]:  # its run is damaged, or its files are not those it was promoted with
        return f"{served} (DAMAGED: {best['damaged']}; nothing is served)"
    try:
        point = operating_point_in_force(root, serving_state(), best["run_id"], best["model"])
    except NotFound as exc:  # damaged between the two reads
        return f"{served} (DAMAGED: {exc}; nothing is served)"
    unpinned = "" if best["files_sha256"] else " · its files are not pinned (promoted before pins): promote it again"
    return f"{served} · operating point {tables.point_words(point)}{unpinned}"


@callbacks(
    Output(ids.RUN_SELECT, "options"),
    Output(ids.RUN_SELECT, "value"),
    Output(ids.RUN_ALERTS, "children"),
    Output(ids.EMPTY_STATE, "children"),
    Output(ids.MAIN_CONTENT, "style"),
    Output(ids.CHAMPION_BADGE, "children"),
    Input(ids.REFRESH_BUTTON, "n_clicks"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    Input(ids.PROMOTE_RESULT, "children"),
    Input(ids.ROLLBACK_RESULT, "children"),
    State(ids.RUN_SELECT, "value"),
)
def refresh_runs(
    _clicks: int | None, _ticks: int | None, _promoted: object, _rolled_back: object, current: str | None
) -> tuple:
    """List the runs (damaged ones disabled, with a warning) and the champion; the selected run stays if usable.

    A kept run is not sent again: re-sending it would re-run every callback
    below it and reset the models, pickers and threshold the analyst chose.
    """
    root = artifacts_dir()
    choices = run_choices(root)
    if not choices:
        return [], None, [], empty_state(), {"display": "none"}, ""
    usable = [c["run_id"] for c in choices if c["usable"]]
    value = no_update if current in usable else (usable[0] if usable else None)
    return _run_options(choices), value, _run_alerts(choices), None, {}, _champion_badge(root)


@callbacks(Output(ids.COMPARE_SELECT, "options"), Input(ids.RUN_SELECT, "value"), Input(ids.RUN_SELECT, "options"))
def compare_choices(run_id: str | None, _runs: list[dict] | None) -> list[dict]:
    """Runs the selected one can be compared with: usable, not itself, same modality, same classes.

    Figures of models that tell different classes apart (or read different
    inputs) are not comparable, even when the models share a name.
    """
    root = artifacts_dir()
    choices = run_choices(root)
    modality = next((c["modality"] for c in choices if c["run_id"] == run_id), None)
    candidates = [c for c in choices if c["usable"] and c["run_id"] != run_id and c["modality"] == modality]
    if not candidates:
        return []
    classes = _classes(root, run_id)
    return [{"label": c["label"], "value": c["run_id"]} for c in candidates if _classes(root, c["run_id"]) == classes]


def _classes(root: Path, run_id: str) -> tuple[list[str], str | None]:
    """A run's classes (in any order) and its positive class: sensitivity means nothing across different ones."""
    run = load_run(root, run_id)
    return sorted(run.class_names), run.positive_class


@callbacks(Output(ids.MODEL_CHECKLIST, "options"), Output(ids.MODEL_CHECKLIST, "value"), Input(ids.RUN_SELECT, "value"))
def list_models(run_id: str | None) -> tuple[list[dict], list[str]]:
    """Offer, and tick, every readable model of the selected run."""
    if not run_id:
        raise PreventUpdate
    names = list(load_run(artifacts_dir(), run_id).models)
    return [{"label": n, "value": n} for n in names], names


@callbacks(
    Output(ids.DOWNLOAD, "data"),
    Input(ids.EXPORT_COMPARISON_BUTTON, "n_clicks"),
    Input(ids.EXPORT_METRICS_BUTTON, "n_clicks"),
    *SELECTION_STATE,
    prevent_initial_call=True,
)
def export_csv(
    _comparison: int | None, _metrics: int | None, run_id: str | None, models: list[str] | None, compare_id: str | None
) -> dict:
    """Download training_metrics.csv, or the comparison of the selection (`tables.comparison_export`)."""
    if ctx.triggered_id == ids.EXPORT_METRICS_BUTTON:
        return dcc.send_data_frame(training_metrics(artifacts_dir()).to_csv, "training_metrics.csv", index=False)
    table = tables.comparison_export([(e.run, e.model) for e in entries(run_id, models, compare_id)])
    return dcc.send_data_frame(table.to_csv, f"comparison_{run_id}.csv", index=False)
