"""The card of the selected result on the prediction page: verdict, pictures, probabilities and review controls.

Plain layout: the page's callbacks compute the figures and pass them in.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from app_predict import figures, ids
from app_predict.report import OOD_TEXT, UNCERTAIN_TEXT, called_at

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}


def _verdict(result: dict) -> dbc.Alert:
    """The called class; the referral notice inside the review band; no class for an input unlike the training data."""
    if result.get("out_of_distribution"):
        return dbc.Alert(
            [
                html.H4(OOD_TEXT, className="mb-1"),
                html.Div(
                    "The model can only judge inputs like those it was trained on, so no class is given. "
                    "Check that this is the kind of input this model reads, or refer it to a specialist."
                ),
                html.Div(f"Why: {result['ood_reason']}.", className="small mt-1"),
            ],
            color="secondary",
            className="verdict-ood",
        )
    if result["uncertain"]:
        return dbc.Alert(
            [
                html.H4(UNCERTAIN_TEXT, className="mb-1"),
                html.Div(f"Called {result['predicted']} {called_at(result)}, but {why_referred(result)}."),
            ],
            color="warning",
            className="verdict-uncertain",
        )
    return dbc.Alert(html.H4(result["predicted"], className="mb-0"), color="info", className="verdict")


def why_referred(result: dict) -> str:
    """Why an answered result is referred, in words: inside the review band, or the input could not be checked."""
    if result.get("out_of_distribution") is None:
        return (
            "this model cannot check that the input is like its training data (it was exported before the "
            "check existed), so it gives no confident answer: a specialist should decide"
        )
    return "inside the review band: a specialist should decide"


def _heat_controls(*, withheld: bool) -> html.Div:
    """The heatmap switch, its opacity slider and its one-line legend, right under the picture they act on.

    With the class withheld there is no result to explain: the switch is disabled.
    """
    label = "No heatmap: there is no result to explain" if withheld else "Show heatmap (what drove the result)"
    opacity = html.Div(
        [
            html.Span("Opacity", className="small text-muted me-2"),
            html.Div(
                dcc.Slider(id=ids.HEATMAP_OPACITY, min=0, max=1, step=0.05, value=0.6, marks=None),
                className="flex-grow-1",
            ),
        ],
        className="d-flex align-items-center",
    )
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(dbc.Switch(id=ids.HEATMAP_SWITCH, label=label, value=False, disabled=withheld), sm=7),
                    dbc.Col(opacity, sm=5),
                ],
                className="g-2 align-items-center",
            ),
            dcc.Loading(  # the heatmap takes seconds: say so while it is computed
                html.Div(id=ids.HEATMAP_NOTE, className="small text-muted heatmap-legend"),
                type="dot",
                custom_spinner=html.Div("Computing the heatmap…", className="small text-muted"),
            ),
        ],
        className="heat-controls",
    )


def _picture(result: dict, figure: go.Figure | None) -> list:
    """The input as the model sees it, with axes, the heatmap's controls under it; nothing when there is no picture."""
    if figure is None:
        return []
    caption = (
        "Log-mel spectrogram the model sees (time →, frequency ↑)"
        if result["modality"] == "sound"
        else "The image as the model sees it"
    )
    return [
        html.Div(caption, className="small text-muted"),
        dcc.Graph(id=ids.PICTURE_GRAPH, figure=figure, config=GRAPH_CONFIG, className="picture-graph"),
        _heat_controls(withheld=bool(result.get("out_of_distribution"))),
    ]


def _probabilities(result: dict) -> list:
    """The probability chart; for an input unlike the training data, a note instead (they are not a result)."""
    if result.get("out_of_distribution"):
        return [html.Div("Probabilities are not shown: they are not a result for this input.", className="small")]
    probabilities = figures.fig_probabilities(
        result["probabilities"], predicted=result["predicted"], uncertain=result["uncertain"]
    )
    return [html.H6("Calibrated probability per class"), dcc.Graph(figure=probabilities, config=GRAPH_CONFIG)]


def operating_point(result: dict) -> str:
    """The operating point that decided, in words: its version, who set it, the threshold and the review band.

    What was served must be exactly what an analyst approved, so the card names it: version 0 is the
    run's fitted point, a later version one saved by an analyst.
    """
    version, threshold, band = result.get("operating_point_version"), result.get("threshold"), result.get("review_band")
    if version is None or not band:
        return "Operating point not recorded (a prediction made before operating points were versioned)"
    source = "fitted at training" if version == 0 else "saved by an analyst"
    rule = "the most probable class" if threshold is None else f"threshold {threshold:.3g}"
    return f"Operating point version {version} ({source}): {rule}, review band {band[0]:.3g}-{band[1]:.3g}"


def _facts(result: dict) -> list:
    """Probabilities per class, the model and operating point, the training-data check, the id and the warnings."""
    check, weights = result.get("ood_reason"), result.get("model_weights")
    return [
        *_probabilities(result),
        *([html.Div(f"Case {result['case_ref']}", className="small fw-semibold")] if result.get("case_ref") else []),
        html.Div(f"Model {result['model']} · run {result['run_id']}", className="small text-muted"),
        html.Div(operating_point(result), className="small text-muted operating-point"),
        *([html.Div(f"Backbone {weights}", className="small text-muted model-weights")] if weights else []),
        *([html.Div(f"Training-data check: {check}", className="small text-muted ood-check")] if check else []),
        html.Div(f"Prediction id {result['id']}", className="small text-muted"),
        *[
            dbc.Alert([html.B("Input quality: "), w], color="warning", className="py-1 mb-1 small")
            for w in result["warnings"]
        ],
    ]


def _review_controls(class_names: list[str], *, withheld: bool = False, uncertain: bool = False) -> list:
    """Confirm or override with a comment, and the report download, under a result.

    With the class withheld there is no result to confirm: the confirm
    button is disabled; an override records what the input is.
    An uncertain result has no decided class: the reviewer chooses the class to confirm.
    """
    return [
        html.H6("Your review", className="mt-3"),
        dbc.Row(
            [
                dbc.Col(
                    dbc.Button(
                        "Confirm the chosen class" if uncertain else "Confirm result",
                        id=ids.CONFIRM_BUTTON,
                        color="success",
                        disabled=withheld,
                    ),
                    width="auto",
                ),
                dbc.Col(
                    dcc.Dropdown(
                        id=ids.OVERRIDE_LABEL,
                        options=class_names,
                        placeholder="class (to confirm or correct)" if uncertain else "correct label",
                    ),
                    md=3,
                ),
                dbc.Col(dbc.Button("Override", id=ids.OVERRIDE_BUTTON, color="warning"), width="auto"),
                dbc.Col(dbc.Input(id=ids.FEEDBACK_COMMENT, placeholder="comment (optional)", maxLength=2000), md=4),
            ],
            className="g-2 align-items-center",
        ),
        html.Div(id=ids.FEEDBACK_RESULT, className="mt-2"),
        dbc.Button("Download report (HTML)", id=ids.REPORT_BUTTON, color="secondary", outline=True, className="mt-3"),
    ]


def result_card(
    result: dict,
    *,
    picture: go.Figure | None = None,
    waveform: go.Figure | None = None,
    audio_src: str | None = None,
    audio_note: str | None = None,
) -> dbc.Card:
    """The selected result.

    An image sits beside its facts; a recording's waveform, spectrogram and
    player take the full width (a long recording needs it), facts below.

    Args:
        result: One entry of the page's results (`Outcome.to_dict()` plus `picture`).
        picture: The input as the model sees it (`figures.fig_image` or `fig_spectrogram`).
        waveform: The recording's envelope, for sounds.
        audio_src: The recording as a data URI, for the player.
        audio_note: What the player leaves out of the recording, if anything.
    """
    if waveform is None:
        middle = [dbc.Row([dbc.Col(_picture(result, picture), md=6), dbc.Col(_facts(result), md=6)])]
    else:
        middle = [
            dcc.Graph(figure=waveform, config=GRAPH_CONFIG),
            *_picture(result, picture),
            html.Audio(src=audio_src, controls=True, className="w-100 mt-2 no-print"),
            *([html.Div(audio_note, className="small text-muted no-print player-note")] if audio_note else []),
            html.Div(_facts(result), className="mt-3"),
        ]
    body = [
        _verdict(result),
        *middle,
        html.Div(
            _review_controls(
                result["class_names"], withheld=bool(result.get("out_of_distribution")), uncertain=result["uncertain"]
            ),
            className="no-print",
        ),
    ]
    return dbc.Card(dbc.CardBody(body), className="result-card")
