"""REST API on the same server as the pages, through the same `PredictionService`.

    POST /api/predict     multipart `file`, optional `model` (run_id/model) and `case_ref`
    POST /api/feedback    JSON or form: prediction_id, verdict (confirmed|overridden), correct_label, comment
    GET  /api/models      the servable models, champion flagged; `champion`: the promoted one, `damaged` if so
    GET  /api/predictions recent audit-log rows (JSON, or CSV with ?format=csv)
    GET  /healthz         model loadable and database reachable

Errors are JSON `{"error": "..."}` with a 4xx/5xx status; never a traceback.
The status comes from the error's type (`core.errors`), never from its text.
"""

from __future__ import annotations

import io
import logging

from flask import Blueprint, Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from core.errors import CoreError
from core.serving.service import Outcome, PredictionService, model_key
from core.web.login import current_user
from core.web.server import service

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)

# The names API clients were given (README) for two fields of `Prediction.to_dict()`.
API_NAMES = {"predicted": "class", "run_id": "run"}


def _error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _predictions() -> PredictionService:
    return service("predictions")


def prediction_json(outcome: Outcome) -> dict:
    """`Outcome.to_dict()`, the one serialisation of a prediction, under the API's documented field names."""
    return {API_NAMES.get(name, name): value for name, value in outcome.to_dict().items()}


@api.post("/api/predict")
def predict():
    upload = request.files.get("file")
    if upload is None:
        return _error("send the file as multipart form field 'file'", 400)
    try:
        outcome = _predictions().predict(
            upload.read(),
            filename=upload.filename,
            model=request.form.get("model") or None,
            case_ref=request.form.get("case_ref"),
            user=current_user(),
        )
    except CoreError as exc:
        return _error(f"{upload.filename or 'file'}: {exc}", exc.status)
    request.environ["prediction_id"] = outcome.prediction_id
    return jsonify(prediction_json(outcome))


@api.post("/api/feedback")
def feedback():
    body = request.get_json(silent=True) or request.form
    prediction_id = body.get("prediction_id")
    if not prediction_id:
        return _error("give the prediction_id returned by /api/predict", 400)
    try:
        result = _predictions().audit_log.add_feedback(
            prediction_id,
            verdict=body.get("verdict", ""),
            correct_label=body.get("correct_label"),
            comment=body.get("comment"),
            user=current_user(),
        )
    except CoreError as exc:
        return _error(str(exc), exc.status)
    return jsonify(result)


@api.get("/api/models")
def models():
    predictions_service = _predictions()
    return jsonify(models=predictions_service.models(), champion=predictions_service.champion())


@api.get("/api/predictions")
def predictions():
    audit_log, uncertain = _predictions().audit_log, request.args.get("uncertain")
    rows = audit_log.recent(
        limit=min(request.args.get("limit", 200, type=int), 5000),
        model=request.args.get("model") or None,
        case_ref=request.args.get("case_ref") or None,
        uncertain=None if uncertain in (None, "") else uncertain.lower() in ("1", "true", "yes"),
        feedback=request.args.get("feedback") or None,
    )
    if request.args.get("format") == "csv":
        return Response(
            audit_log.to_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=predictions.csv"},
        )
    return jsonify(predictions=rows)


@api.get("/healthz")
def healthz():
    predictions_service = _predictions()
    database = predictions_service.audit_log.ping()
    try:
        predictor = predictions_service.predictor()
        model, problem = model_key(predictor.run_id, predictor.model_name), None
    except CoreError as exc:
        model, problem = None, str(exc)
    if model and not database:
        problem = "the audit database does not answer"
    body = {"status": "ok" if problem is None else "unavailable", "model": model, "database": database}
    if problem:
        body["error"] = problem
    return jsonify(body), 200 if problem is None else 503


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would spool those over 500 KB to a temporary file.

    Uploads must not touch the disk unless input storage is switched on;
    MAX_CONTENT_LENGTH bounds what a request can hold.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def _http_error(exc: HTTPException):
    """HTTP errors under /api/ and /healthz as JSON; the pages keep Werkzeug's."""
    if not (request.path.startswith("/api/") or request.path == "/healthz"):
        return exc
    if exc.code == 413:
        return _error(f"request too large: at most {_predictions().settings.max_upload_mb:g} MB per file", 413)
    return _error(exc.description, exc.code or 500)


def _unexpected(exc: Exception):
    """A bug: logged with its traceback, answered with one line that points to the log."""
    log.exception("unexpected error on %s", request.path)
    if request.path.startswith("/api/"):
        return _error("internal error; the request was not recorded. See the server log.", 500)
    return Response("Internal error. See the server log.", 500, mimetype="text/plain")


def install(server: Flask) -> None:
    """Mount the API on `server` (built with a "predictions" service), keep uploads in memory, answer errors as JSON."""
    server.request_class = InMemoryRequest
    server.register_blueprint(api)
    server.config["MAX_CONTENT_LENGTH"] = server.extensions["predictions"].max_upload_bytes * 10 + 1_000_000
    server.register_error_handler(HTTPException, _http_error)
    server.register_error_handler(Exception, _unexpected)
