"""REST API on the same server as the pages, through the same `PredictionService`.

    POST /api/predict               multipart `file`, optional `model` (run_id/model) and `case_ref`
    POST /api/feedback              JSON or form: prediction_id, verdict (confirmed|overridden), correct_label, comment
    GET  /api/models                the servable models, champion flagged; `champion`: the promoted one, `damaged` if so
    GET  /api/predictions           recent audit-log rows (JSON, or CSV with ?format=csv)
    GET  /api/champion              the champion (`damaged` if so) and its history, newest first
    POST /api/champion              JSON run, model, reason, optional force: promote, with the guardrails
    POST /api/champion/rollback     JSON reason: serve the previous champion again
    GET  /api/operating-points      ?run=&model=: the version in force and every saved version
    POST /api/operating-points      JSON run, model, optional threshold, band [lo, hi], note: a new version
    GET  /healthz                   champion loadable and database writable (a write rolled back); 503 with the reasons

Changes of serving state record the logged-in user. Errors are JSON
`{"error": "..."}` with a 4xx/5xx status; never a traceback: a body that is
not a JSON object answers 400, a missing field or one of the wrong type 422.
The status comes from the error's type (`core.errors`), never from its text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Request, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

from core.errors import CoreError, InvalidInput
from core.serving.service import Outcome, PredictionService, model_key
from core.store import registry
from core.store.database import unavailable_on_error
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


def _answer(action: Callable[[], Any]) -> Response:
    """`action()`'s result as JSON, or its `CoreError` as JSON with the error's status; a database failure is 503."""
    try:
        with unavailable_on_error("the serving state was not read or changed"):
            return jsonify(action())
    except CoreError as exc:
        return _error(str(exc), exc.status)


def _json_object() -> dict:
    """The request's JSON body, which must be an object.

    Raises:
        BadRequest: no JSON, or JSON that is not an object (answered 400 as JSON).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object, e.g. {"reason": "..."}, with Content-Type: application/json')
    return body


def _field(body: dict, name: str, kind: type, *, required: bool = True) -> Any:
    """`body[name]` checked to be a `kind` (str, bool or float: an int is a float, a bool is not).

    Raises:
        InvalidInput: the field is missing but required, or of another type; the message names it.
    """
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"give the field {name!r}")
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number if kind is float else isinstance(value, kind)):
        raise InvalidInput(f"the field {name!r} must be a {kind.__name__}, got {value!r}")
    if kind is str and not value.strip():
        raise InvalidInput(f"the field {name!r} is empty")
    return float(value) if kind is float else value


def _band(body: dict) -> tuple[float, float] | None:
    """The optional `band` field: [low, high] numbers."""
    band = body.get("band")
    if band is None:
        return None
    if not (isinstance(band, list) and len(band) == 2):
        raise InvalidInput(f"the field 'band' must be [low, high], got {band!r}")
    return _field({"low": band[0]}, "low", float), _field({"high": band[1]}, "high", float)


@api.get("/api/champion")
def champion_history():
    predictions_service = _predictions()
    return _answer(
        lambda: {"champion": predictions_service.champion(), "history": predictions_service.state.champion_history()}
    )


@api.post("/api/champion")
def promote():
    body, predictions_service = _json_object(), _predictions()
    return _answer(
        lambda: registry.promote(
            predictions_service.settings.artifacts_dir,
            predictions_service.state,
            _field(body, "run", str),
            _field(body, "model", str),
            reason=_field(body, "reason", str),
            user=current_user(),
            force=bool(_field(body, "force", bool, required=False)),
        )
    )


@api.post("/api/champion/rollback")
def rollback():
    body, predictions_service = _json_object(), _predictions()
    return _answer(
        lambda: registry.rollback(
            predictions_service.settings.artifacts_dir,
            predictions_service.state,
            reason=_field(body, "reason", str),
            user=current_user(),
        )
    )


@api.get("/api/operating-points")
def operating_points():
    run, model, predictions_service = request.args.get("run"), request.args.get("model"), _predictions()
    if not (run and model):
        return _error("give the model as ?run=RUN_ID&model=MODEL", 400)
    return _answer(
        lambda: {
            "in_force": registry.operating_point_in_force(
                predictions_service.settings.artifacts_dir, predictions_service.state, run, model
            ),
            "versions": predictions_service.state.operating_point_history(run, model),
        }
    )


@api.post("/api/operating-points")
def save_operating_point():
    body, predictions_service = _json_object(), _predictions()
    return _answer(lambda: _save_operating_point(predictions_service, body))


def _save_operating_point(predictions_service: PredictionService, body: dict) -> dict:
    """A new version from `body`; a threshold or band left out keeps the one in force (as the CLI does)."""
    artifacts_dir, state = predictions_service.settings.artifacts_dir, predictions_service.state
    run, model = _field(body, "run", str), _field(body, "model", str)
    threshold, band = _field(body, "threshold", float, required=False), _band(body)
    note = _field(body, "note", str, required=False)
    current = registry.operating_point_in_force(artifacts_dir, state, run, model)
    return registry.save_operating_point(
        artifacts_dir,
        state,
        run,
        model,
        threshold=current["threshold"] if threshold is None else threshold,
        review_band=band or tuple(current["review_band"]),
        user=current_user(),
        note=note,
    )


@api.get("/healthz")
def healthz():
    """200 when the champion loads and the database accepts a write (rolled back); else 503 with every reason."""
    predictions_service, problems = _predictions(), []
    try:
        predictor = predictions_service.predictor()
        model = model_key(predictor.run_id, predictor.model_name)
    except CoreError as exc:
        model = None
        problems.append(str(exc))
    database_problem = predictions_service.audit_log.write_problem()
    if database_problem:
        problems.append(database_problem)
    body = {"status": "unavailable" if problems else "ok", "model": model, "database": database_problem is None}
    if problems:
        body["error"] = "; ".join(problems)
    return jsonify(body), 503 if problems else 200


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
