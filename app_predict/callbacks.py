"""Callbacks of the prediction page and the audit page: read inputs, call `core`, return."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from app_predict import figures, ids
from app_predict.layout import GRAPH_CONFIG, audit_page, detail_controls, example_buttons, predict_page
from app_predict.report import report_html
from core.web.access import current_user
from core.web.data_uri import file_data_uri
from core.errors import CoreError
from core.store.examples import list_examples
from core.inputs.preprocess import read_audio
from core.serving.service import PredictionService

UNCERTAIN_TEXT = "Uncertain: refer for specialist review"


def _decode_upload(contents: str) -> bytes:
    """The bytes of a `dcc.Upload` data URI."""
    _, _, payload = contents.partition(",")
    return base64.b64decode(payload)


def _row(result: dict) -> dict:
    """One line of the batch table."""
    if result.get("error"):
        return {"filename": result["filename"], "result": f"Error: {result['error']}", "probability": "", "warnings": "", "status": "error"}
    share = result["probabilities"][result["predicted"]]
    verdict = f"{UNCERTAIN_TEXT} ({result['predicted']}?)" if result["uncertain"] else result["predicted"]
    return {"filename": result["filename"], "result": verdict, "probability": f"{share:.0%}",
            "warnings": "; ".join(result["warnings"]), "status": "uncertain" if result["uncertain"] else "ok"}


def register_callbacks(app: Dash, service: PredictionService) -> None:
    settings = service.settings

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"))
    def route(pathname):
        if pathname and pathname.rstrip("/").endswith("/audit"):
            return audit_page()
        return predict_page(settings.max_upload_mb)

    @app.callback(Output(ids.EXAMPLES, "children"), Input(ids.MODEL_SELECT, "value"))
    def examples(model_key):
        modality = next((m["modality"] for m in service.models() if m["key"] == model_key), None)
        return example_buttons(list_examples(settings.artifacts_dir, modality) if modality else [])

    @app.callback(Output(ids.MODEL_SELECT, "options"), Output(ids.MODEL_SELECT, "value"), Input(ids.URL, "pathname"))
    def models(_pathname):
        listed = service.models()
        if not listed:
            return [], None
        options = [{"label": f"{'★ ' if m['champion'] else ''}{m['model']} · {m['dataset']} ({m['modality']}) · {m['run_id']}",
                    "value": m["key"]} for m in listed]
        best = next((m["key"] for m in listed if m["champion"]), listed[0]["key"])
        return options, best

    @app.callback(
        Output(ids.INPUTS, "data"), Output(ids.RESULTS, "data"), Output(ids.BATCH_STATUS, "children"),
        Output(ids.RESULTS_TABLE, "data"), Output(ids.RESULTS_TABLE, "selected_rows"),
        Input(ids.UPLOAD, "contents"), Input({"type": ids.EXAMPLE_BUTTON, "index": ALL}, "n_clicks"),
        State(ids.UPLOAD, "filename"), State(ids.MODEL_SELECT, "value"), State(ids.CASE_REF, "value"),
        prevent_initial_call=True,
    )
    def run_batch(contents, _examples, filenames, model, case_ref):
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):
            bundled = {example["path"] for example in list_examples(settings.artifacts_dir)}
            if not any(_examples) or trigger["index"] not in bundled:  # never read a path the client made up
                raise PreventUpdate
            inputs = [{"filename": Path(trigger["index"]).name, "contents": file_data_uri(trigger["index"])}]
        elif contents:
            inputs = [{"filename": name, "contents": content} for name, content in zip(filenames, contents)]
        else:
            raise PreventUpdate
        results = []
        for item in inputs:
            try:
                outcome = service.predict(_decode_upload(item["contents"]), filename=item["filename"], model=model, case_ref=case_ref)
            except CoreError as exc:
                results.append({"filename": item["filename"], "error": str(exc)})
                continue
            p = outcome.prediction
            results.append({
                "id": outcome.prediction_id, "filename": item["filename"], "predicted": p.predicted,
                "probabilities": p.probabilities, "uncertain": p.uncertain, "warnings": p.warnings, "model": p.model,
                "run_id": p.run_id, "modality": p.modality, "class_names": p.class_names,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "picture": figures.display_png(p.display), "model_key": f"{p.run_id}/{p.model}",
            })
        failed = sum(1 for r in results if r.get("error"))
        status = dbc.Alert(f"{len(results) - failed} of {len(results)} files analysed" + (f"; {failed} could not be read (see the table)" if failed else "."),
                           color="warning" if failed else "light", className="py-2")
        first_ok = next((i for i, r in enumerate(results) if not r.get("error")), None)
        return inputs, results, status, [_row(r) for r in results], [] if first_ok is None else [first_ok]

    @app.callback(Output(ids.DETAIL, "children"), Output(ids.SELECTED, "data"),
                  Input(ids.RESULTS_TABLE, "selected_rows"), State(ids.RESULTS, "data"), State(ids.INPUTS, "data"))
    def show_detail(selected, results, inputs):
        if not selected or not results:
            return None, None
        index = selected[0]
        result = results[index]
        if result.get("error"):
            return dbc.Alert(f"{result['filename']}: {result['error']}", color="danger"), None
        return _detail(result, inputs[index]["contents"]), index

    @app.callback(Output(ids.HEATMAP_IMAGE, "src"), Output(ids.HEATMAP_NOTE, "children"),
                  Input(ids.HEATMAP_SWITCH, "value"), State(ids.SELECTED, "data"), State(ids.RESULTS, "data"), State(ids.INPUTS, "data"))
    def heatmap(show, index, results, inputs):
        if not show or index is None:
            return None, ""
        result = results[index]
        try:
            explained = service.explain(_decode_upload(inputs[index]["contents"]), model=result["model_key"])
        except CoreError as exc:
            return None, f"No heatmap: {exc}"
        followed = max(explained.probabilities, key=explained.probabilities.get)
        note = f"Brighter regions are those whose blanking lowered the probability of '{followed}' the most."
        return figures.heatmap_png(explained.heatmap, spectrogram=explained.modality == "sound"), note

    @app.callback(Output(ids.HEATMAP_IMAGE, "style"), Input(ids.HEATMAP_OPACITY, "value"))
    def opacity(value):
        return {"position": "absolute", "left": 0, "top": 0, "width": "100%", "height": "100%", "opacity": value, "pointerEvents": "none"}

    @app.callback(
        Output(ids.FEEDBACK_RESULT, "children"), Input(ids.CONFIRM_BUTTON, "n_clicks"), Input(ids.OVERRIDE_BUTTON, "n_clicks"),
        State(ids.OVERRIDE_LABEL, "value"), State(ids.FEEDBACK_COMMENT, "value"), State(ids.SELECTED, "data"), State(ids.RESULTS, "data"),
        prevent_initial_call=True,
    )
    def feedback(_confirm, _override, label, comment, index, results):
        if index is None:
            raise PreventUpdate
        verdict = "confirmed" if ctx.triggered_id == ids.CONFIRM_BUTTON else "overridden"
        try:
            saved = service.audit_log.add_feedback(results[index]["id"], verdict=verdict, correct_label=label, comment=comment, user=current_user())
        except CoreError as exc:
            return dbc.Alert(str(exc), color="danger", className="py-2")
        text = "Confirmed" if verdict == "confirmed" else f"Overridden: recorded as {saved['correct_label']}"
        return dbc.Alert(f"{text}. Thank you; this is in the audit log.", color="success", className="py-2")

    @app.callback(Output(ids.REPORT_DOWNLOAD, "data"), Input(ids.REPORT_BUTTON, "n_clicks"),
                  State(ids.SELECTED, "data"), State(ids.RESULTS, "data"), State(ids.HEATMAP_IMAGE, "src"), prevent_initial_call=True)
    def download_report(_clicks, index, results, heatmap_src):
        if index is None:
            raise PreventUpdate
        result = results[index]
        html_text = report_html(result, picture=result["picture"], heatmap=heatmap_src,
                                generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        return {"content": html_text, "filename": f"prediction_{result['id']}.html", "type": "text/html"}

    @app.callback(
        Output(ids.AUDIT_TABLE, "data"),
        Input(ids.AUDIT_MODEL, "value"), Input(ids.AUDIT_CASE, "value"), Input(ids.AUDIT_UNCERTAIN, "value"),
        Input(ids.AUDIT_FEEDBACK, "value"), Input(ids.AUDIT_REFRESH, "n_clicks"),
    )
    def audit_rows(model, case_ref, uncertain, verdict, _refresh):
        rows = _audit_query(service, model, case_ref, uncertain, verdict)
        return [{**r, "probabilities": ", ".join(f"{k} {v:.2f}" for k, v in r["probabilities"].items()),
                 "uncertain": "yes" if r["uncertain"] else "no", "warnings": "; ".join(r["warnings"])} for r in rows]

    @app.callback(
        Output(ids.AUDIT_DOWNLOAD, "data"), Input(ids.AUDIT_EXPORT, "n_clicks"),
        State(ids.AUDIT_MODEL, "value"), State(ids.AUDIT_CASE, "value"), State(ids.AUDIT_UNCERTAIN, "value"), State(ids.AUDIT_FEEDBACK, "value"),
        prevent_initial_call=True,
    )
    def audit_export(_clicks, model, case_ref, uncertain, verdict):
        rows = _audit_query(service, model, case_ref, uncertain, verdict, limit=100_000)
        return {"content": service.audit_log.to_csv(rows), "filename": "predictions.csv", "type": "text/csv"}


def _audit_query(service: PredictionService, model, case_ref, uncertain, verdict, *, limit: int = 500) -> list[dict]:
    return service.audit_log.recent(
        limit=limit, model=model or None, case_ref=case_ref or None,
        uncertain=None if not uncertain else uncertain == "true", feedback=verdict or None,
    )


def _detail(result: dict, contents: str) -> dbc.Card:
    """The selected result: verdict, probabilities, model, warnings, preview, heatmap and feedback."""
    if result["uncertain"]:
        verdict = dbc.Alert([html.H4(UNCERTAIN_TEXT, className="mb-1"),
                             html.Div(f"Most likely {result['predicted']}, but inside the review band: a specialist should decide.")],
                            color="warning", className="verdict-uncertain")
    else:
        verdict = dbc.Alert(html.H4(result["predicted"], className="mb-0"), color="info", className="verdict")
    warnings = [dbc.Alert([html.B("Input quality: "), w], color="warning", className="py-1 mb-1 small") for w in result["warnings"]]
    preview = [
        html.Div(
            [html.Img(src=result["picture"], alt="input as the model sees it", style={"width": "100%", "display": "block"}),
             html.Img(id=ids.HEATMAP_IMAGE, alt="")],
            style={"position": "relative", "width": "100%", "maxWidth": "420px"},
        )
    ]
    if result["modality"] == "sound":
        signal, rate = read_audio(_decode_upload(contents))
        preview = [
            dcc.Graph(figure=figures.fig_waveform(signal, rate), config=GRAPH_CONFIG),
            html.Div("Log-mel spectrogram the model sees (time →, frequency ↑)", className="small text-muted"),
            *preview,
            html.Audio(src=contents, controls=True, className="w-100 mt-2"),
        ]
    return dbc.Card(
        dbc.CardBody(
            [
                verdict,
                dbc.Row(
                    [
                        dbc.Col([*preview], md=6),
                        dbc.Col(
                            [
                                html.H6("Calibrated probability per class"),
                                dcc.Graph(figure=figures.fig_probabilities(result["probabilities"], predicted=result["predicted"],
                                                                           uncertain=result["uncertain"]), config=GRAPH_CONFIG),
                                html.Div(f"Model {result['model']} · run {result['run_id']}", className="small text-muted"),
                                html.Div(f"Prediction id {result['id']}", className="small text-muted"),
                                *warnings,
                            ],
                            md=6,
                        ),
                    ]
                ),
                *detail_controls(result["class_names"]),
            ]
        ),
        className="result-card",
    )
