"""The review worklist: the cases a specialist must look at, oldest first, each opened, heard or seen, and signed off.

A case awaits review while it has no review and the model could not answer
it alone: an uncertain result, or an input unlike the training data (class
withheld) (`AuditLog` `awaiting_review`). An upload refused for quality is
not a case: the model gave no answer to judge, the person who sent it was
told why and to send a better one, and no label on it could become training
data; the audit log lists refusals (its "refused for quality" filter), and
one opened here by its id is shown with its reason and no sign-off. Signing
off goes through the same rule as the prediction page and the API
(`AuditLog.add_feedback`); reviews are only added, so a case keeps its
history. Reviewed cases with kept inputs export as a training manifest.
"""

from __future__ import annotations

from pathlib import Path

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app_predict import ids
from app_predict.pages.audit import ANY, select, table
from app_predict.pages.audit import page_of as audit_page_of
from app_predict.report import called_at, percent
from app_predict.result_card import operating_point
from app_predict.schemas import FeedbackBody, parse
from core.errors import Conflict, CoreError
from core.inputs.preprocess import Preprocessing, preprocessing_from_dict
from core.inputs.previews import previews
from core.serving.service import PredictionService
from core.store import remote
from core.store.artifacts import read_json_cached
from core.store.audit_log import Filters
from core.store.layout import ArtifactsLayout
from core.web.callbacks import Callbacks
from core.web.data_uri import bytes_data_uri
from core.web.login import current_user
from core.web.server import service
from core.web.times import local_time

PATH = "/worklist"
NAME = "Review worklist"
callbacks = Callbacks()

FILTERS = [(ids.WORKLIST_MODALITY, "value"), (ids.WORKLIST_MODEL, "value"), (ids.WORKLIST_REASON, "value")]
COLUMNS = (
    ("waiting since", "created_at"),
    ("case", "case_ref"),
    ("file", "filename"),
    ("modality", "modality"),
    ("model", "model"),
    ("why", "why"),
)
REASONS = {
    "uncertain": "uncertain",
    "out_of_distribution": "class withheld: unlike the training data",
}
NOT_KEPT = (
    "Uploads are not kept on this server (STORE_INPUTS is off): the worklist lists the uncertain and withheld cases, "
    "but their files cannot be shown here and reviewed cases cannot be exported as a training set."
)
REFUSALS_ELSEWHERE = (
    "Uploads refused for quality (blank, silent, too short, unreadable) are not listed: the model gave no answer "
    "to review. The audit log lists them (certainty: refused for quality)."
)


def _predictions() -> PredictionService:
    return service("predictions")


def _filters() -> dbc.Row:
    modalities = [(ANY, "images and sounds"), ("image", "images"), ("sound", "sounds")]
    reasons = [(ANY, "every reason"), *REASONS.items()]
    return dbc.Row(
        [
            dbc.Col(select(ids.WORKLIST_MODALITY, modalities, "modality"), md=3),
            dbc.Col(dbc.Input(id=ids.WORKLIST_MODEL, placeholder="model name contains", debounce=True), md=3),
            dbc.Col(select(ids.WORKLIST_REASON, reasons, "reason"), md=4),
            dbc.Col(dbc.Button("Refresh", id=ids.WORKLIST_REFRESH, color="secondary", outline=True), md=2),
        ],
        className="g-2 mb-3",
    )


def _export(store_inputs: bool) -> html.Div:
    """The manifest download, offered only when inputs are kept: without the files there is nothing to train on."""
    if not store_inputs:
        return dbc.Alert(NOT_KEPT, color="secondary", className="small")
    note = (
        "Reviewed cases of one modality (choose it above) as a path,label,group CSV. Save it in ARTIFACTS_DIR, "
        "beside the inputs folder (its paths are relative to that folder), then train with "
        "python -m core train --data ARTIFACTS_DIR/reviewed-image.csv. One case reference stays on one side of a split."
    )
    return html.Div(
        [
            dbc.Button("Download reviewed cases (training manifest)", id=ids.WORKLIST_EXPORT, color="secondary"),
            html.Div(note, className="small text-muted mt-1"),
            html.Div(id=ids.WORKLIST_EXPORT_NOTE, className="small mt-1"),
            dcc.Download(id=ids.WORKLIST_DOWNLOAD),
        ],
        className="mt-4",
    )


def layout(case: str | None = None, **_query: str) -> html.Div:
    """The filters, the waiting cases, the opened case (`?case=<id>` opens one) and the export."""
    intro = (
        "Cases waiting for a specialist, oldest first: uncertain results and inputs unlike the training data "
        f"(no class was given). Open one to review it. {REFUSALS_ELSEWHERE}"
    )
    return html.Div(
        [
            html.H4("Review worklist"),
            html.P(intro, className="small"),
            _filters(),
            html.Div(id=ids.WORKLIST_COUNT, className="small text-muted mb-2"),
            table(ids.WORKLIST_TABLE, COLUMNS, style_data={"cursor": "pointer"}),
            dcc.Store(id=ids.CASE_ID, data=case),
            dcc.Store(id=ids.CASE_SIGNED),
            html.Div(id=ids.CASE_VIEW, className="mt-3"),
            html.Div(id=ids.CASE_HISTORY, className="mt-2"),
            _export(_predictions().settings.store_inputs),
        ]
    )


def _chosen(modality: str | None, model: str | None, reason: str | None) -> Filters:
    """The worklist's filters as `AuditLog.recent` takes them."""
    return Filters(
        awaiting_review=True,
        modality=None if modality in (None, "", ANY) else modality,
        model=(model or "").strip() or None,
        reason=None if reason in (None, "", ANY) else reason,
    )


@callbacks(
    Output(ids.WORKLIST_TABLE, "data"),
    Output(ids.WORKLIST_TABLE, "page_count"),
    Output(ids.WORKLIST_TABLE, "page_current"),
    Output(ids.WORKLIST_COUNT, "children"),
    Output(ids.WORKLIST_TABLE, "active_cell"),
    *[Input(*f) for f in FILTERS],
    Input(ids.WORKLIST_TABLE, "page_current"),
    Input(ids.WORKLIST_REFRESH, "n_clicks"),
    Input(ids.CASE_SIGNED, "data"),
)
def worklist_rows(
    modality: str | None,
    model: str | None,
    reason: str | None,
    page: int | None,
    _refresh: int | None,
    _signed: str | None,
) -> tuple[list[dict], int, int, str, None]:
    """A page of waiting cases; the highlighted cell is cleared, as the row under it may now be another case."""
    filters = _chosen(modality, model, reason)
    rows, pages, page, total = audit_page_of(filters, page, ctx.triggered_id, tuple(f[0] for f in FILTERS))
    rows = [
        {
            **{key: row[key] for key in ("id", *dict(COLUMNS).values()) if key in row},
            "why": REASONS.get(row["review_reason"], ""),
        }
        for row in rows
    ]
    waiting = f"{total} case{'s' if total != 1 else ''} awaiting review"
    return rows, pages, page, f"{waiting}, oldest first; page {page + 1} of {pages}", None


@callbacks(
    Output(ids.CASE_ID, "data"),
    Input(ids.WORKLIST_TABLE, "active_cell"),
    State(ids.WORKLIST_TABLE, "data"),
    prevent_initial_call=True,
)
def choose_case(active_cell: dict | None, rows: list[dict] | None) -> str:
    """The case of the clicked row (its id, not its position: the list changes as others sign off)."""
    if not active_cell or not rows or active_cell.get("row", -1) >= len(rows):
        raise PreventUpdate
    return active_cell.get("row_id") or rows[active_cell["row"]]["id"]


def _why(row: dict) -> str:
    """Why the case is here, in words: never the withheld class."""
    if row["out_of_distribution"]:
        return "Unlike the model's training data, so no class was given."
    scores = ", ".join(f"{name} {percent(p)}" for name, p in row["probabilities"].items())
    band = row["review_band"]
    inside = f"the probability fell inside the review band {band[0]:g}-{band[1]:g}" if band else "referred"
    if row["out_of_distribution"] is None:  # a model without a training-data reference always refers
        inside = f"not checked against the training data (the model has no reference), or {inside}"
    return f"Uncertain: {inside}; called {row['predicted']} {called_at(row)} ({scores})."


def _params(artifacts_dir: Path, row: dict) -> Preprocessing:
    """The preprocessing of the case's run, read from its `preprocessing.json` (`cached_read`: bounded, and fresh
    while the file is unchanged), not from a loaded model: a reviewer opening cases of many models must not load an
    interpreter per model into every worker just to draw a picture.
    """
    remote.fetch(artifacts_dir, row["run_id"], full=False)  # what serving reads of the run, when it lives in a store
    return preprocessing_from_dict(read_json_cached(ArtifactsLayout(artifacts_dir).run(row["run_id"]).preprocessing))


def _media(row: dict) -> list:
    """The kept input: the image, or the recording's player and spectrogram; else why it cannot be shown."""
    if not row["input_path"]:
        return [
            dbc.Alert("The input was not kept (STORE_INPUTS is off): review it from the original file.", color="light")
        ]
    artifacts_dir = _predictions().settings.artifacts_dir
    try:
        pictures = previews(ArtifactsLayout(artifacts_dir).root / row["input_path"], _params(artifacts_dir, row))
    except (CoreError, OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        return [dbc.Alert(f"The kept input cannot be shown ({reason}).", color="warning")]
    picture = html.Img(src=bytes_data_uri(pictures[".png"], "image/png"), alt="the input", style={"maxWidth": "100%"})
    if ".wav" not in pictures:
        return [picture]
    player = html.Audio(src=bytes_data_uri(pictures[".wav"], "audio/wav"), controls=True, className="d-block mb-2")
    return [player, picture]


def _verdict_and_review(row: dict) -> list:
    """Why the case is here and the sign-off form; for a refused upload, its reason and why it takes no review."""
    if not row["refused_reason"]:
        return [html.P(_why(row)), html.P(operating_point(row), className="small text-muted"), _sign_off_form(row)]
    refused = f"Refused for quality: {row['refused_reason']}. The model gave no answer, so there is nothing to review"
    advice = "; the person who uploaded it was asked for a better input, which gets a prediction of its own."
    return [dbc.Alert(refused + advice, color="secondary", className="case-refused")]


def _sign_off_form(row: dict) -> html.Div:
    classes = [{"label": name, "value": name} for name in row["classes"]]
    reviewer = current_user()
    return html.Div(
        [
            dbc.Label("Label", html_for=ids.CASE_LABEL),
            dcc.Dropdown(id=ids.CASE_LABEL, options=classes, clearable=False, placeholder="choose the class"),
            dbc.Label("Comment", html_for=ids.CASE_COMMENT, className="mt-2"),
            dbc.Textarea(id=ids.CASE_COMMENT, maxLength=2000, placeholder="what you saw or heard"),
            dbc.Button("Sign off", id=ids.CASE_SIGN, color="primary", className="mt-2"),
            html.Span(f" as {reviewer}" if reviewer else "", className="small text-muted"),
            html.Div(id=ids.CASE_RESULT, className="mt-2"),
            dcc.Store(id=ids.CASE_SEEN, data=len(row["reviews"])),  # a review added meanwhile must be read first
        ]
    )


@callbacks(Output(ids.CASE_VIEW, "children"), Input(ids.CASE_ID, "data"))
def open_case(case_id: str | None) -> dbc.Card | dbc.Alert | None:
    if not case_id:
        return None
    row = _predictions().audit_log.get(case_id)
    if row is None:
        return dbc.Alert(f"No recorded prediction with id {case_id[:64]!r}.", color="warning")
    zone = _predictions().settings.display_timezone
    facts = (
        f"Case {row['case_ref'] or '(no reference)'} · {row['filename'] or 'unnamed file'} · {row['modality']} · "
        f"recorded {local_time(row['created_at'], zone)} · model {row['model']} (run {row['run_id']})"
    )
    body = dbc.Row([dbc.Col(_media(row), md=6, className="mb-3"), dbc.Col(_verdict_and_review(row), md=6)])
    report = html.A(
        "Report, with every review so far",
        href=f"api/predictions/{row['id']}/report",  # relative to this page: right under any path prefix
        target="_blank",
        className="small",
    )
    return dbc.Card(dbc.CardBody([html.H5("Case"), html.P(facts, className="small text-muted"), report, body]))


@callbacks(
    Output(ids.CASE_RESULT, "children"),
    Output(ids.CASE_SIGNED, "data"),
    Output(ids.CASE_SEEN, "data"),
    Input(ids.CASE_SIGN, "n_clicks"),
    State(ids.CASE_ID, "data"),
    State(ids.CASE_LABEL, "value"),
    State(ids.CASE_COMMENT, "value"),
    State(ids.CASE_SEEN, "data"),
    prevent_initial_call=True,
)
def sign_off(
    _clicks: int | None, case_id: str | None, label: str | None, comment: str | None, seen: int | None
) -> tuple:
    """Record the specialist's label: a confirmation when it is the class the model called, else an override.

    A review added by someone else since the case was opened is shown first, not overwritten unread.
    """
    if not case_id:
        raise PreventUpdate
    if not label:
        return dbc.Alert("Choose the label you sign off with.", color="warning"), no_update, no_update
    audit_log = _predictions().audit_log
    row = audit_log.get(case_id)
    verdict = "confirmed" if row is not None and label == row["predicted"] else "overridden"
    review = {"prediction_id": case_id, "verdict": verdict, "correct_label": label, "comment": comment}
    try:
        saved = parse(FeedbackBody, review).record(audit_log, current_user(), reviews_seen=seen)
    except Conflict as exc:
        now = len(audit_log.get(case_id)["reviews"])
        return dbc.Alert(str(exc), color="warning"), f"{case_id}:{now}", now  # the history now shows their review
    except CoreError as exc:
        return dbc.Alert(str(exc), color="danger"), no_update, no_update
    now = len(row["reviews"]) + 1
    return dbc.Alert(f"Signed off as {saved['correct_label']}.", color="success"), f"{case_id}:{now}", now


@callbacks(Output(ids.CASE_HISTORY, "children"), Input(ids.CASE_ID, "data"), Input(ids.CASE_SIGNED, "data"))
def case_history(case_id: str | None, _signed: str | None) -> html.Div | None:
    """Every review of the case, oldest first: reviews are only ever added."""
    row = _predictions().audit_log.get(case_id) if case_id else None
    if row is None:
        return None
    zone = _predictions().settings.display_timezone
    items = [
        html.Li(
            f"{local_time(review['created_at'], zone)} · {review['user'] or 'open access'} · {review['verdict']} as "
            f"{review['correct_label']}" + (f": {review['comment']}" if review["comment"] else "")
        )
        for review in row["reviews"]
    ]
    return html.Div(
        [html.H6("Review history"), html.Ul(items) if items else html.P("No review yet.", className="small")]
    )


@callbacks(
    Output(ids.WORKLIST_DOWNLOAD, "data"),
    Output(ids.WORKLIST_EXPORT_NOTE, "children"),
    Input(ids.WORKLIST_EXPORT, "n_clicks"),
    State(ids.WORKLIST_MODALITY, "value"),
    State(ids.WORKLIST_MODEL, "value"),
    prevent_initial_call=True,
)
def export_manifest(_clicks: int | None, modality: str | None, model: str | None) -> tuple[dict | None, str]:
    if modality in (None, "", ANY):
        return None, "Choose images or sounds first: a training set is all one or the other."
    try:
        text = _predictions().reviewed_manifest(modality=modality, model=(model or "").strip() or None)
    except CoreError as exc:
        return None, str(exc)
    cases = text.count("\n") - 1
    download = {"content": text, "filename": f"reviewed-{modality}.csv", "type": "text/csv"}
    exported = f"{cases} reviewed {modality} case{'s' if cases != 1 else ''} exported"
    return download, f"{exported} (uploads refused for quality are left out: no model ever judges them)."
