"""REST API on the same server as the page, through the same `PredictionService`.

    POST /api/predict     multipart `file`, optional `model` (run_id/model) and `case_ref`
    POST /api/feedback    JSON or form: prediction_id, verdict (confirmed|overridden), correct_label, comment
    GET  /api/models      the servable models, champion flagged
    GET  /api/predictions recent audit-log rows (JSON, or CSV with ?format=csv)
    GET  /healthz         model loadable and database reachable

Errors are JSON `{"error": "..."}` with a 4xx/5xx status; never a traceback.
"""

from __future__ import annotations

import io
import logging

from flask import Blueprint, Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from core.web.access import current_user
from core.errors import CoreError, InputRejected, ModelUnavailable
from core.serving.service import PredictionService

log = logging.getLogger(__name__)


def _error(message: str, status: int):
    response = jsonify(error=message)
    response.status_code = status
    return response


def prediction_json(outcome) -> dict:
    prediction = outcome.prediction
    return {
        "id": outcome.prediction_id,
        "class": prediction.predicted,
        "probabilities": prediction.probabilities,
        "uncertain": prediction.uncertain,
        "warnings": prediction.warnings,
        "model": prediction.model,
        "run": prediction.run_id,
        "modality": prediction.modality,
        "threshold": prediction.threshold,
        "review_band": prediction.review_band,
        "filename": outcome.filename,
    }


def status_of(exc: CoreError) -> int:
    """HTTP status for a refused request: the error's own, else 422 (content could not be read)."""
    return exc.status if isinstance(exc, (InputRejected, ModelUnavailable)) else 422


def blueprint(service: PredictionService) -> Blueprint:
    api = Blueprint("api", __name__)

    @api.post("/api/predict")
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return _error("send the file as multipart form field 'file'", 400)
        try:
            outcome = service.predict(
                upload.read(), filename=upload.filename, model=request.form.get("model") or None,
                case_ref=request.form.get("case_ref"),
            )
        except CoreError as exc:
            return _error(f"{upload.filename or 'file'}: {exc}", status_of(exc))
        request.environ["prediction_id"] = outcome.prediction_id
        return jsonify(prediction_json(outcome))

    @api.post("/api/feedback")
    def feedback():
        body = request.get_json(silent=True) or request.form
        prediction_id = body.get("prediction_id")
        if not prediction_id:
            return _error("give the prediction_id returned by /api/predict", 400)
        try:
            result = service.audit_log.add_feedback(
                prediction_id, verdict=body.get("verdict", ""), correct_label=body.get("correct_label"),
                comment=body.get("comment"), user=current_user(),
            )
        except CoreError as exc:
            return _error(str(exc), 404 if "no prediction" in str(exc) else 400)
        return jsonify(result)

    @api.get("/api/models")
    def models():
        return jsonify(models=service.models())

    @api.get("/api/predictions")
    def predictions():
        uncertain = request.args.get("uncertain")
        rows = service.audit_log.recent(
            limit=min(int(request.args.get("limit", 200)), 5000), model=request.args.get("model") or None,
            case_ref=request.args.get("case_ref") or None,
            uncertain=None if uncertain in (None, "") else uncertain.lower() in ("1", "true", "yes"),
            feedback=request.args.get("feedback") or None,
        )
        if request.args.get("format") == "csv":
            return Response(service.audit_log.to_csv(rows), mimetype="text/csv",
                            headers={"Content-Disposition": "attachment; filename=predictions.csv"})
        return jsonify(predictions=rows)

    @api.get("/healthz")
    def healthz():
        database = service.audit_log.ping()
        try:
            predictor = service.predictor()
            model = f"{predictor.run_id}/{predictor.model_name}"
        except CoreError as exc:
            model, problem = None, str(exc)
        else:
            problem = None if database else "the audit database does not answer"
        body = {"status": "ok" if model and database else "unavailable", "model": model, "database": database}
        if problem:
            body["error"] = problem
        return jsonify(body), 200 if model and database else 503

    return api


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would spool those over 500 KB to a temporary file.

    Uploads must not touch the disk unless input storage is switched on;
    MAX_CONTENT_LENGTH bounds what a request can hold.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def install(server: Flask, service: PredictionService) -> None:
    """Mount the API, keep uploads in memory, and answer every HTTP error under /api/ as JSON."""
    server.request_class = InMemoryRequest
    server.register_blueprint(blueprint(service))
    server.config["MAX_CONTENT_LENGTH"] = service.max_upload_bytes * 10 + 1_000_000

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/") or request.path == "/healthz":
            message = exc.description if exc.code != 413 else f"request too large: at most {service.settings.max_upload_mb:g} MB per file"
            return _error(message, exc.code or 500)
        return exc

    @server.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        if request.path.startswith("/api/"):
            return _error("internal error; the request was not recorded. See the server log.", 500)
        return Response("Internal error. See the server log.", 500, mimetype="text/plain")
