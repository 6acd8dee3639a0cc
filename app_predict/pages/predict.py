"""The prediction page: choose a model, upload files (or try an example), read each result, explain, review, report.

Callbacks read their inputs, call `PredictionService` (the same code path as
the REST API) or `figures`, and return.
"""

from __future__ import annotations

import base64
import io
import wave
from datetime import UTC, datetime
from pathlib import Path

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import ALL, Input, Output, Patch, State, ctx, dash_table, dcc, html
from dash.exceptions import PreventUpdate

from app_predict import figures, ids
from app_predict.report import OOD_TEXT, UNCERTAIN_TEXT, percent, report_html
from app_predict.result_card import result_card
from app_predict.schemas import FeedbackBody, parse, without_direction_controls
from core.errors import CoreError, InvalidInput
from core.inputs.formats import ACCEPTED
from core.inputs.preprocess import SoundPreprocessing, read_audio
from core.inputs.previews import band_frequencies, icon_png, playable_wav
from core.serving.predictor import Prediction
from core.serving.service import PredictionService, model_key
from core.store.examples import find_example, list_examples
from core.store.registry import starting_weights
from core.store.serving_state import OperatingPoint
from core.web.callbacks import Callbacks
from core.web.data_uri import bytes_data_uri, file_data_uri
from core.web.login import current_user
from core.web.server import service

PATH = "/"
NAME = "Predict"
CHAMPION = "champion"  # the picker's value for "the champion in force"; a model's key always holds a "/"
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
    """The recording's waveform figure, a player source every browser plays, and a note when the player
    plays only its beginning; (None, None, None) if refused.

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
        return None, None, None
    wav = playable_wav(signal, rate)
    return figures.fig_waveform(signal, rate), bytes_data_uri(wav, "audio/wav"), _played_note(wav, len(signal) / rate)


def _played_note(wav: bytes, seconds: float) -> str | None:
    """What the player leaves out, or None: `playable_wav` keeps a long recording's beginning only, which a
    person listening must know (the model, the waveform and the spectrogram have the whole recording)."""
    with wave.open(io.BytesIO(wav)) as played:
        kept = played.getnframes() / played.getframerate()
    if kept >= seconds - 0.5:
        return None
    return (
        f"The player plays the first {_clock(kept)} of this {_clock(seconds)} recording (the page's size limit); "
        "the model, the waveform and the spectrogram have all of it."
    )


def _model_label(model: dict, artifacts_dir: Path) -> str:
    """The champion starred; a transfer model says what it started from (random weights, if ImageNet's were not had)."""
    label = f"{'★ ' if model['champion'] else ''}{model['model']} · {model['dataset']} ({model['modality']})"
    weights = starting_weights(artifacts_dir, model["run_id"], model["model"])
    return f"{label} · {model['run_id']}" + (f" · {weights}" if weights else "")


def _model_picker(models: list[dict], artifacts_dir: Path) -> dcc.Dropdown:
    """The champion in force first and chosen, then every servable model; with no champion, none is chosen.

    The champion is chosen by name, not by its key at page load: after a promotion or a rollback (one
    withdrawn as unsafe, say), a page left open predicts with the new champion, as every worker does.
    """
    options = [{"label": _model_label(m, artifacts_dir), "value": m["key"]} for m in models]
    best = next((m for m in models if m["champion"]), None)
    if best is not None:
        now = f"when this page was opened: {best['model']} of {best['dataset']}"
        options.insert(0, {"label": f"★ The champion in force ({now})", "value": CHAMPION})
    placeholder = "No champion promoted yet: choose a model" if models else "No trained model"
    return dcc.Dropdown(
        id=ids.MODEL_SELECT, options=options, value=best and CHAMPION, clearable=False, placeholder=placeholder
    )


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
    )


def _results_table() -> dash_table.DataTable:
    """One line per file of the batch; uncertain lines amber, refused files red; scrolls sideways in its own box."""
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
        style_table={"overflowX": "auto", "maxWidth": "100%"},
        style_cell={
            "fontFamily": "inherit",
            "fontSize": 14,
            "textAlign": "left",
            "whiteSpace": "normal",
            "height": "auto",
            "minWidth": "6rem",
            "maxWidth": "24rem",
            "overflowWrap": "anywhere",
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
    picker = _model_picker(predictions.models(), predictions.settings.artifacts_dir)
    choices = dbc.Row(
        [
            dbc.Col([dbc.Label("Model", html_for=ids.MODEL_SELECT), picker], md=7),
            dbc.Col(
                [
                    dbc.Label("Case reference (optional)", html_for=ids.CASE_REF),
                    dbc.Input(id=ids.CASE_REF, placeholder="e.g. clinic case number", maxLength=200),
                ],
                md=5,
            ),
        ],
        className="mb-3 g-3 no-print",
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
            dcc.Store(id=ids.UPLOAD_ORDER),
            dcc.Store(id=ids.EXAMPLE_PICK),
            dcc.Store(id=ids.INPUTS),
            dcc.Store(id=ids.RESULTS),
            dcc.Store(id=ids.SELECTED),
            dcc.Store(id=ids.HEATMAP_OVERLAY),
            results,
            html.Div(id=ids.DETAIL, className="mt-4"),
            dcc.Download(id=ids.REPORT_DOWNLOAD),
        ]
    )


def _example_button(example: dict) -> html.Button:
    """A thumbnail (image) or waveform (sound) with "class number"; named by its key, never by a server path."""
    try:
        icon = html.Img(
            src=bytes_data_uri(icon_png(example["path"], example["modality"]), "image/png"),
            alt="",
            className="example-icon",
        )
    except (CoreError, OSError):
        icon = html.Span("?", className="example-icon")
    title = f"{example['label']} {example['number']}"
    return html.Button(
        [icon, html.Span(title, className="example-label")],
        id={"type": ids.EXAMPLE_BUTTON, "index": example["key"]},
        className="btn btn-outline-secondary btn-sm example-button",
        title=f"Try the example {example['dataset']}: {title}",
        **{"aria-label": f"{example['dataset']}: {title}"},
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
    return [
        html.Div("Try an example:", className="small text-muted mb-1"),
        html.Div([_example_button(example) for example in examples], className="example-buttons"),
    ]


def _chosen(key: str | None) -> dict | None:
    """The servable model named `key` (the champion in force for `CHAMPION`) as `PredictionService.models` lists it."""
    found = _predictions().models()
    return next((m for m in found if (m["champion"] if key == CHAMPION else m["key"] == key)), None) if key else None


@callbacks(Output(ids.EXAMPLES, "children"), Input(ids.MODEL_SELECT, "value"))
def examples(key: str | None) -> list:
    """The examples of the chosen model's own dataset: another dataset's files are not what it reads."""
    model = _chosen(key)
    if model is None:
        return _example_buttons([])
    artifacts_dir = _predictions().settings.artifacts_dir
    return _example_buttons(list_examples(artifacts_dir, model["modality"], dataset=model["dataset"]))


def in_chosen_order(filenames: list[str], contents: list[str], chosen: list[str] | None) -> list[dict]:
    """The uploads as {filename, contents}, in the order the person chose them.

    `dcc.Upload` reads files in parallel and lists them in the order they
    finish loading; `assets/upload_order.js` records the chosen order. Names
    it did not record keep their place after the others; equal names keep
    their load order.
    """
    rank = {name: place for place, name in reversed(list(enumerate(chosen or [])))}
    pairs = sorted(enumerate(zip(filenames, contents, strict=True)), key=lambda p: (rank.get(p[1][0], len(rank)), p[0]))
    return [{"filename": name, "contents": content} for _, (name, content) in pairs]


@callbacks(
    Output(ids.EXAMPLE_PICK, "data"),
    Input({"type": ids.EXAMPLE_BUTTON, "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def pick_example(_clicks: list[int | None]) -> str:
    """The clicked example's key, for `run_batch`.

    A separate step: were the buttons (redrawn by `examples` whenever the
    model changes) inputs of `run_batch`, Dash would hold an upload made
    while they are redrawn and then lose it.
    """
    if not ctx.triggered or not ctx.triggered[0]["value"]:  # buttons just drawn, not clicked
        raise PreventUpdate
    return ctx.triggered_id["index"]


def _batch_inputs(contents: list | None, pick: str | None, filenames: list | None, chosen: list | None) -> list[dict]:
    """The files to analyse, as {filename, contents}: the uploads, or the picked bundled example."""
    if contents:
        return in_chosen_order(filenames, contents, chosen)
    example = find_example(_predictions().settings.artifacts_dir, pick) if pick else None
    if example is None:  # nothing new, or a key the client made up
        raise PreventUpdate
    return [{"filename": Path(example["path"]).name, "contents": file_data_uri(example["path"])}]


def _analyse(item: dict, *, model: str | None, case_ref: str | None) -> dict:
    """One file's result as the page keeps it: `Outcome.to_dict()` with its picture and time, or its error."""
    try:
        outcome = _predictions().predict(
            _decode_upload(item["contents"]),
            filename=without_direction_controls(item["filename"]),
            model=model,
            case_ref=without_direction_controls(case_ref),
            user=current_user(),
        )
    except CoreError as exc:
        return {"filename": item["filename"], "error": str(exc)}
    display, served = outcome.prediction.display, outcome.prediction
    return {
        **outcome.to_dict(),
        "model_weights": starting_weights(_predictions().settings.artifacts_dir, served.run_id, served.model),
        "picture": figures.display_png(display),
        "display_shape": list(display.shape),
        "created_at": _now(),
    }


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
        "probability": percent(share),
        "warnings": "; ".join(result["warnings"]),
        "status": "uncertain" if result["uncertain"] else "ok",
    }


def _batch_status(results: list[dict]) -> dbc.Alert:
    failed = sum(1 for r in results if r.get("error"))
    text = f"{len(results) - failed} of {len(results)} files analysed" + (
        f"; {failed} refused: unreadable, the wrong kind for this model, or nothing to judge (see the table)"
        if failed
        else "."
    )
    return dbc.Alert(text, color="warning" if failed else "light", className="py-2")


EMPTY_BATCH = (None, None, None, [], [], None, None)


@callbacks(
    Output(ids.INPUTS, "data"),
    Output(ids.RESULTS, "data"),
    Output(ids.BATCH_STATUS, "children"),
    Output(ids.RESULTS_TABLE, "data"),
    Output(ids.RESULTS_TABLE, "selected_rows"),
    Output(ids.UPLOAD, "contents"),
    Output(ids.EXAMPLE_PICK, "data"),
    Input(ids.UPLOAD, "contents"),
    Input(ids.EXAMPLE_PICK, "data"),
    Input(ids.MODEL_SELECT, "value"),
    State(ids.UPLOAD, "filename"),
    State(ids.UPLOAD_ORDER, "data"),
    State(ids.CASE_REF, "value"),
    prevent_initial_call=True,
)
def run_batch(
    contents: list[str] | None,
    pick: str | None,
    model: str | None,
    filenames: list[str] | None,
    chosen: list[str] | None,
    case_ref: str | None,
) -> tuple:
    """Analyse the uploads or the picked example; a new model clears the results, which were another model's.

    The upload's `contents` and the picked example are emptied once read:
    Dash fires only on a change, so choosing the same file or example again
    must find them empty.
    """
    if not (contents or pick):
        if ctx.triggered_id == ids.MODEL_SELECT:
            return EMPTY_BATCH
        raise PreventUpdate
    inputs = _batch_inputs(contents, pick, filenames, chosen)
    served = None if model == CHAMPION else model  # the champion when each file is predicted, not at page load
    results = [_analyse(item, model=served, case_ref=case_ref) for item in inputs]
    first_ok = next((i for i, r in enumerate(results) if not r.get("error")), None)
    rows = [_row(r) for r in results]
    return inputs, results, _batch_status(results), rows, [] if first_ok is None else [first_ok], None, None


def _spectrogram_axes(result: dict) -> tuple[float, list[float]]:
    """(seconds per spectrogram frame, band centre frequencies in Hz) of the run that made `result`."""
    params = _predictions().predictor(model_key(result["run_id"], result["model"])).params
    if not isinstance(params, SoundPreprocessing):
        raise InvalidInput("this model does not read sounds")
    return params.hop_length / params.sample_rate, band_frequencies(params).tolist()


def _picture(result: dict) -> go.Figure:
    """The input as the model sees it, with axes: the image in pixels, or the spectrogram in seconds and Hz."""
    if result["modality"] != "sound":
        return figures.fig_image(result["picture"], side=result["display_shape"][0])
    seconds_per_frame, band_hz = _spectrogram_axes(result)
    return figures.fig_spectrogram(
        result["picture"], frames=result["display_shape"][1], seconds_per_frame=seconds_per_frame, band_hz=band_hz
    )


@callbacks(
    Output(ids.DETAIL, "children"),
    Output(ids.SELECTED, "data"),
    Input(ids.RESULTS_TABLE, "selected_rows"),
    Input(ids.RESULTS, "data"),
    State(ids.INPUTS, "data"),
)
def show_detail(selected: list[int] | None, results: list[dict] | None, inputs: list[dict] | None) -> tuple:
    """The selected row's card; also redrawn when the results change, so a new batch never shows an old card."""
    if not selected or not results:
        return None, None
    index = selected[0]
    result, contents = results[index], inputs[index]["contents"]
    if result.get("error"):
        return dbc.Alert(f"{result['filename']}: {result['error']}", color="danger"), None
    if result["modality"] != "sound":
        return result_card(result, picture=_picture(result)), index
    waveform, audio_src, played = _recording(contents, model_key(result["run_id"], result["model"]))
    card = result_card(result, picture=_picture(result), waveform=waveform, audio_src=audio_src, audio_note=played)
    return card, index


def _legend(explained: Prediction) -> str:
    """What hot means, in one line (see `core.serving.heatmap.occlusion_map`), and what of a recording was explained."""
    legend = (
        f"Hot (yellow) areas: hiding them lowered the probability of '{explained.predicted}' the most; "
        "colours are relative to the largest drop, and cold areas are left clear."
    )
    spans = explained.explained_windows
    if spans is None or len(spans) == explained.n_windows:
        return legend
    times = ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in spans)
    return (
        f"{legend} Explained: the {len(spans)} of {explained.n_windows} windows that gave '{explained.predicted}' "
        f"its highest probabilities ({times}); the rest of the recording was not explained (no heat there), "
        "so that a long recording's heatmap comes back in seconds."
    )


def _clock(seconds: float) -> str:
    """Seconds as m:ss, as the recording's player shows them."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def _recorded_point(result: dict) -> OperatingPoint:
    """The operating point the result was decided with, as the audit log recorded it (not as the browser sent it).

    The heat must follow the class on the card: an analyst may have saved a
    new operating point since, which could call another class.

    Raises:
        InvalidInput: the result's operating point is not recorded.
    """
    row = _predictions().audit_log.get(str(result.get("id")))
    if row is None or row["operating_point_version"] is None or not row["review_band"]:
        raise InvalidInput("this result's operating point is not recorded; analyse the file again")
    low, high = row["review_band"]
    return OperatingPoint(row["operating_point_version"], row["threshold"], (low, high))


@callbacks(
    Output(ids.PICTURE_GRAPH, "figure"),
    Output(ids.HEATMAP_NOTE, "children"),
    Output(ids.HEATMAP_OVERLAY, "data"),
    Input(ids.HEATMAP_SWITCH, "value"),
    State(ids.HEATMAP_OPACITY, "value"),
    State(ids.SELECTED, "data"),
    State(ids.RESULTS, "data"),
    State(ids.INPUTS, "data"),
    prevent_initial_call=True,
)
def heatmap(
    show: list[str] | None, opacity: float, index: int | None, results: list[dict], inputs: list[dict]
) -> tuple[Patch, str, dict | None]:
    """Draw (or hide) the occlusion heatmap over the picture; keep its PNG, with the prediction's id, for the report."""
    figure = Patch()
    if not show or index is None:
        figure["data"][0]["visible"] = False
        return figure, "", None
    result = results[index]
    try:
        explained = _predictions().explain(
            _decode_upload(inputs[index]["contents"]),
            model=model_key(result["run_id"], result["model"]),
            operating_point=_recorded_point(result),
        )
        seconds_per_frame = _spectrogram_axes(result)[0] if explained.modality == "sound" else None
    except CoreError as exc:
        figure["data"][0]["visible"] = False
        return figure, f"No heatmap: {exc}", None
    if explained.shown_class != result.get("predicted"):  # withheld, or not the card's class: never explained
        figure["data"][0]["visible"] = False
        return figure, "No heatmap: there is no shown result for it to explain.", None
    trace = figures.heat_trace(explained.heatmap, seconds_per_frame=seconds_per_frame, opacity=opacity)
    figure["data"][0] = trace.to_plotly_json()
    overlay = figures.heatmap_png(explained.heatmap, spectrogram=explained.modality == "sound")
    return figure, _legend(explained), {"id": result["id"], "png": overlay}


@callbacks(
    Output(ids.PICTURE_GRAPH, "figure", allow_duplicate=True),
    Input(ids.HEATMAP_OPACITY, "value"),
    prevent_initial_call=True,
)
def opacity(value: float) -> Patch:
    """Fade the heat alone: a patch of one trace property, not the whole figure."""
    figure = Patch()
    figure["data"][0]["opacity"] = value
    return figure


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
def feedback(
    _confirm: int | None,
    _override: int | None,
    label: str | None,
    comment: str | None,
    index: int | None,
    results: list[dict],
) -> dbc.Alert:
    if index is None:
        raise PreventUpdate
    verdict = "confirmed" if ctx.triggered_id == ids.CONFIRM_BUTTON else "overridden"
    try:
        review = {"prediction_id": results[index]["id"], "verdict": verdict, "correct_label": label, "comment": comment}
        saved = parse(FeedbackBody, review).record(_predictions().audit_log, current_user())
    except CoreError as exc:
        return dbc.Alert(str(exc), color="danger", className="py-2")
    text = "Confirmed" if verdict == "confirmed" else f"Overridden: recorded as {saved['correct_label']}"
    return dbc.Alert(f"{text}. Thank you; this is in the audit log.", color="success", className="py-2")


@callbacks(
    Output(ids.REPORT_DOWNLOAD, "data"),
    Input(ids.REPORT_BUTTON, "n_clicks"),
    State(ids.SELECTED, "data"),
    State(ids.RESULTS, "data"),
    State(ids.HEATMAP_OVERLAY, "data"),
    prevent_initial_call=True,
)
def download_report(_clicks: int | None, index: int | None, results: list[dict], overlay: dict | None) -> dict:
    """The report of the selected prediction as recorded now (with every review so far), with its pictures.

    The heatmap is kept with the id of the prediction it explains, so
    another row's heatmap never lands in this report.
    """
    if index is None:
        raise PreventUpdate
    result, predictions = results[index], _predictions()
    recorded = predictions.audit_log.get(result["id"]) or {}
    html_text = report_html(
        {**result, **recorded},
        picture=result["picture"],
        heatmap=overlay["png"] if overlay and overlay.get("id") == result["id"] else None,
        generated_at=datetime.now(UTC),
        zone=predictions.settings.display_timezone,
    )
    return {"content": html_text, "filename": f"prediction_{result['id']}.html", "type": "text/html"}
