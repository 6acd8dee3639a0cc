"""The prediction page: choose a model, upload files (or try an example), read each result, explain, review, report.

Callbacks read their inputs, call `PredictionService` (the same code path as
the REST API) or `figures`, and return.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dash_table, dcc, html
from dash.exceptions import PreventUpdate

from app_predict import figures, ids
from app_predict.report import OOD_TEXT, UNCERTAIN_TEXT, report_html
from app_predict.result_card import result_card
from core.errors import CoreError, InvalidInput
from core.inputs.formats import ACCEPTED
from core.inputs.preprocess import read_audio
from core.inputs.previews import playable_wav
from core.serving.service import PredictionService, model_key
from core.store.examples import list_examples
from core.web.callbacks import Callbacks
from core.web.data_uri import bytes_data_uri, file_data_uri
from core.web.login import current_user
from core.web.server import service

PATH = "/"
NAME = "Predict"
callbacks = Callbacks()


def _predictions() -> PredictionService:
    return service("predictions")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _decode_upload(contents: str) -> bytes:
    """The bytes of a `dcc.Upload` data URI; the client sends it, so anything else is refused, never a 500.

    Raises:
        InvalidInput: not a base64 data URI.
    """
    if not isinstance(contents, str):
        raise InvalidInput("the upload is not a file")
    _, _, payload = contents.partition(",")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        raise InvalidInput("the upload is not a readable file (its data is not base64)") from None


def _recording(contents: str, model: str) -> tuple:
    """The recording's waveform figure and a player source every browser plays; (None, None) if refused.

    The page's callbacks receive the upload back from the browser, so the
    recording is checked again here (size, type, length) exactly as
    `PredictionService` checks it for a prediction, never decoded unbounded.
    The player gets a WAV at 8 kHz or more (`playable_wav`): Chromium will not
    play the 2-4 kHz recordings heart sounds usually are.
    """
    predictions = _predictions()
    try:
        data = _decode_upload(contents)
        predictions.check(data, predictions.predictor(model))
        signal, rate = read_audio(data, max_seconds=predictions.settings.max_audio_seconds)
    except CoreError:
        return None, None
    return figures.fig_waveform(signal, rate), bytes_data_uri(playable_wav(signal, rate), "audio/wav")


def _model_picker(models: list[dict]) -> dcc.Dropdown:
    """Every servable model, the champion starred and chosen; with no champion, none is chosen for the user."""
    options = [
        {
            "label": f"{'★ ' if m['champion'] else ''}{m['model']} · {m['dataset']} ({m['modality']}) · {m['run_id']}",
            "value": m["key"],
        }
        for m in models
    ]
    best = next((m["key"] for m in models if m["champion"]), None)
    placeholder = "No champion promoted yet: choose a model" if models else "No trained model"
    return dcc.Dropdown(id=ids.MODEL_SELECT, options=options, value=best, clearable=False, placeholder=placeholder)


def _upload_zone(max_upload_mb: float) -> dcc.Upload:
    return dcc.Upload(
        id=ids.UPLOAD,
        multiple=True,
        children=html.Div(
            [
                html.Div("Drag and drop files here, or click to choose", className="fw-semibold"),
                html.Div(
                    f"Images or recordings: {ACCEPTED}. Up to {max_upload_mb:g} MB per file; "
                    "several files make a batch.",
                    className="small text-muted",
                ),
            ]
        ),
        className="upload-zone",
        style={
            "border": "2px dashed #adb5bd",
            "borderRadius": "8px",
            "padding": "1.5rem",
            "textAlign": "center",
            "cursor": "pointer",
        },
    )


def _results_table() -> dash_table.DataTable:
    """One line per file of the batch; uncertain lines amber, refused files red."""
    return dash_table.DataTable(
        id=ids.RESULTS_TABLE,
        columns=[
            {"name": n, "id": c}
            for n, c in (
                ("file", "filename"),
                ("result", "result"),
                ("probability", "probability"),
                ("warnings", "warnings"),
            )
        ],
        row_selectable="single",
        style_cell={
            "fontFamily": "inherit",
            "fontSize": 14,
            "textAlign": "left",
            "whiteSpace": "normal",
            "height": "auto",
        },
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
        style_data_conditional=[
            {"if": {"filter_query": "{status} = 'uncertain'"}, "backgroundColor": "#fff3cd"},
            {"if": {"filter_query": "{status} = 'error'"}, "backgroundColor": "#f8d7da"},
        ],
    )


def layout(**_query: str) -> html.Div:
    """The page, built on every visit so that the model list is read from ARTIFACTS_DIR when it opens."""
    predictions = _predictions()
    choices = dbc.Row(
        [
            dbc.Col([dbc.Label("Model", html_for=ids.MODEL_SELECT), _model_picker(predictions.models())], md=7),
            dbc.Col(
                [
                    dbc.Label("Case reference (optional)", html_for=ids.CASE_REF),
                    dbc.Input(id=ids.CASE_REF, placeholder="e.g. clinic case number", maxLength=200),
                ],
                md=5,
            ),
        ],
        className="mb-3 g-3",
    )
    results = dcc.Loading(
        html.Div([html.Div(id=ids.BATCH_STATUS, className="mt-3"), _results_table()]),
        type="default",
        overlay_style={"visibility": "visible", "opacity": 0.5},
        custom_spinner=html.Div([dbc.Spinner(), html.Div("Analysing…", className="mt-2")]),
    )
    return html.Div(
        [
            choices,
            _upload_zone(predictions.settings.max_upload_mb),
            html.Div(id=ids.EXAMPLES, className="mt-2"),
            dcc.Store(id=ids.INPUTS),
            dcc.Store(id=ids.RESULTS),
            dcc.Store(id=ids.SELECTED),
            results,
            html.Div(id=ids.DETAIL, className="mt-4"),
            dcc.Download(id=ids.REPORT_DOWNLOAD),
        ]
    )


def _example_buttons(examples: list[dict]) -> list:
    """One button per bundled example, or a hint when there are none for this model."""
    if not examples:
        return [
            html.Span(
                "No bundled examples for this model; `make run` creates some for the demo models.",
                className="small text-muted",
            )
        ]
    return [html.Span("Try an example: ", className="small text-muted me-2")] + [
        dbc.Button(
            example["label"],
            id={"type": ids.EXAMPLE_BUTTON, "index": example["path"]},
            color="secondary",
            outline=True,
            size="sm",
            className="me-2 mb-2",
        )
        for example in examples
    ]


@callbacks(Output(ids.EXAMPLES, "children"), Input(ids.MODEL_SELECT, "value"))
def examples(key):
    predictions = _predictions()
    modality = next((m["modality"] for m in predictions.models() if m["key"] == key), None)
    return _example_buttons(list_examples(predictions.settings.artifacts_dir, modality) if modality else [])


def _batch_inputs(trigger, contents: list[str] | None, example_clicks: list, filenames: list[str] | None) -> list[dict]:
    """The files to analyse, as {filename, contents}: the clicked bundled example, or the uploads."""
    if isinstance(trigger, dict):
        bundled = {example["path"] for example in list_examples(_predictions().settings.artifacts_dir)}
        if not any(example_clicks) or trigger["index"] not in bundled:  # never read a path the client made up
            raise PreventUpdate
        return [{"filename": Path(trigger["index"]).name, "contents": file_data_uri(trigger["index"])}]
    if contents:
        return [{"filename": name, "contents": content} for name, content in zip(filenames, contents, strict=True)]
    raise PreventUpdate


def _analyse(item: dict, *, model: str | None, case_ref: str | None) -> dict:
    """One file's result as the page keeps it: `Outcome.to_dict()` with its picture and time, or its error."""
    try:
        outcome = _predictions().predict(
            _decode_upload(item["contents"]),
            filename=item["filename"],
            model=model,
            case_ref=case_ref,
            user=current_user(),
        )
    except CoreError as exc:
        return {"filename": item["filename"], "error": str(exc)}
    return {**outcome.to_dict(), "picture": figures.display_png(outcome.prediction.display), "created_at": _now()}


def _row(result: dict) -> dict:
    """One line of the batch table."""
    if result.get("error"):
        return {
            "filename": result["filename"],
            "result": f"Error: {result['error']}",
            "probability": "",
            "warnings": "",
            "status": "error",
        }
    if result.get("out_of_distribution"):
        return {
            "filename": result["filename"],
            "result": OOD_TEXT,
            "probability": "",
            "warnings": "; ".join(result["warnings"]),
            "status": "uncertain",
        }
    share = result["probabilities"][result["predicted"]]
    verdict = f"{UNCERTAIN_TEXT} ({result['predicted']}?)" if result["uncertain"] else result["predicted"]
    return {
        "filename": result["filename"],
        "result": verdict,
        "probability": f"{share:.0%}",
        "warnings": "; ".join(result["warnings"]),
        "status": "uncertain" if result["uncertain"] else "ok",
    }


def _batch_status(results: list[dict]) -> dbc.Alert:
    failed = sum(1 for r in results if r.get("error"))
    text = f"{len(results) - failed} of {len(results)} files analysed" + (
        f"; {failed} could not be read (see the table)" if failed else "."
    )
    return dbc.Alert(text, color="warning" if failed else "light", className="py-2")


@callbacks(
    Output(ids.INPUTS, "data"),
    Output(ids.RESULTS, "data"),
    Output(ids.BATCH_STATUS, "children"),
    Output(ids.RESULTS_TABLE, "data"),
    Output(ids.RESULTS_TABLE, "selected_rows"),
    Input(ids.UPLOAD, "contents"),
    Input({"type": ids.EXAMPLE_BUTTON, "index": ALL}, "n_clicks"),
    State(ids.UPLOAD, "filename"),
    State(ids.MODEL_SELECT, "value"),
    State(ids.CASE_REF, "value"),
    prevent_initial_call=True,
)
def run_batch(contents, example_clicks, filenames, model, case_ref):
    inputs = _batch_inputs(ctx.triggered_id, contents, example_clicks, filenames)
    results = [_analyse(item, model=model, case_ref=case_ref) for item in inputs]
    first_ok = next((i for i, r in enumerate(results) if not r.get("error")), None)
    return inputs, results, _batch_status(results), [_row(r) for r in results], [] if first_ok is None else [first_ok]


@callbacks(
    Output(ids.DETAIL, "children"),
    Output(ids.SELECTED, "data"),
    Input(ids.RESULTS_TABLE, "selected_rows"),
    State(ids.RESULTS, "data"),
    State(ids.INPUTS, "data"),
)
def show_detail(selected, results, inputs):
    if not selected or not results:
        return None, None
    index = selected[0]
    result, contents = results[index], inputs[index]["contents"]
    if result.get("error"):
        return dbc.Alert(f"{result['filename']}: {result['error']}", color="danger"), None
    if result["modality"] != "sound":
        return result_card(result), index
    waveform, audio_src = _recording(contents, model_key(result["run_id"], result["model"]))
    return result_card(result, waveform=waveform, audio_src=audio_src), index


@callbacks(
    Output(ids.HEATMAP_IMAGE, "src"),
    Output(ids.HEATMAP_NOTE, "children"),
    Input(ids.HEATMAP_SWITCH, "value"),
    State(ids.SELECTED, "data"),
    State(ids.RESULTS, "data"),
    State(ids.INPUTS, "data"),
)
def heatmap(show, index, results, inputs):
    if not show or index is None:
        return None, ""
    result = results[index]
    try:
        explained = _predictions().explain(
            _decode_upload(inputs[index]["contents"]), model=model_key(result["run_id"], result["model"])
        )
    except CoreError as exc:
        return None, f"No heatmap: {exc}"
    followed = max(explained.probabilities, key=explained.probabilities.get)
    note = f"Brighter regions are those whose blanking lowered the probability of '{followed}' the most."
    return figures.heatmap_png(explained.heatmap, spectrogram=explained.modality == "sound"), note


@callbacks(Output(ids.HEATMAP_IMAGE, "style"), Input(ids.HEATMAP_OPACITY, "value"))
def opacity(value):
    return {
        "position": "absolute",
        "left": 0,
        "top": 0,
        "width": "100%",
        "height": "100%",
        "opacity": value,
        "pointerEvents": "none",
    }


@callbacks(
    Output(ids.FEEDBACK_RESULT, "children"),
    Input(ids.CONFIRM_BUTTON, "n_clicks"),
    Input(ids.OVERRIDE_BUTTON, "n_clicks"),
    State(ids.OVERRIDE_LABEL, "value"),
    State(ids.FEEDBACK_COMMENT, "value"),
    State(ids.SELECTED, "data"),
    State(ids.RESULTS, "data"),
    prevent_initial_call=True,
)
def feedback(_confirm, _override, label, comment, index, results):
    if index is None:
        raise PreventUpdate
    verdict = "confirmed" if ctx.triggered_id == ids.CONFIRM_BUTTON else "overridden"
    try:
        saved = _predictions().audit_log.add_feedback(
            results[index]["id"], verdict=verdict, correct_label=label, comment=comment, user=current_user()
        )
    except CoreError as exc:
        return dbc.Alert(str(exc), color="danger", className="py-2")
    text = "Confirmed" if verdict == "confirmed" else f"Overridden: recorded as {saved['correct_label']}"
    return dbc.Alert(f"{text}. Thank you; this is in the audit log.", color="success", className="py-2")


@callbacks(
    Output(ids.REPORT_DOWNLOAD, "data"),
    Input(ids.REPORT_BUTTON, "n_clicks"),
    State(ids.SELECTED, "data"),
    State(ids.RESULTS, "data"),
    State(ids.HEATMAP_IMAGE, "src"),
    prevent_initial_call=True,
)
def download_report(_clicks, index, results, heatmap_src):
    if index is None:
        raise PreventUpdate
    result = results[index]
    html_text = report_html(result, picture=result["picture"], heatmap=heatmap_src, generated_at=_now())
    return {"content": html_text, "filename": f"prediction_{result['id']}.html", "type": "text/html"}
