"""REST API on the same server as the pages, through the same `PredictionService`.

    POST /api/predict               multipart `file`, optional `model` (run_id/model) and `case_ref`
    POST /api/feedback              JSON prediction_id, verdict (confirmed|overridden), correct_label, comment
    GET  /api/models                the servable models, champion flagged; `champion`: the promoted one, `damaged` if so
    GET  /api/predictions           audit-log rows, newest first, filtered (JSON, or CSV with ?format=csv);
                                    ?awaiting_review=true: the review worklist, oldest first;
                                    ?refused=true: the uploads refused for quality (never on the worklist)
    GET  /api/reviewed-manifest.csv ?modality=image|sound[&model=]: reviewed cases as a training manifest
    GET  /api/predictions/<id>/report  the recorded prediction's HTML report, with every review so far
    GET  /api/champion              the champion (`damaged` if so) and its history, newest first
    POST /api/champion              JSON run, model, reason, optional force: promote, with the guardrails
    POST /api/champion/rollback     JSON reason: serve the previous champion again
    GET  /api/operating-points      ?run=&model=: the version in force and every saved version
    POST /api/operating-points      JSON run, model, optional threshold, band [lo, hi], note: a new version
    GET  /healthz                   champion loadable and database writable (a write rolled back); 503 with the reasons

Changes of serving state (promote, roll back, save an operating point) record
the logged-in user, and answer 403 to a user ANALYST_USERS does not name
(`core.web.login.require_analyst`). Requests are checked by the pydantic
models of `app_predict.schemas`. Errors are JSON `{"error": "..."}`
with a 4xx/5xx status, passed through `core.web.redact` (never a traceback,
object repr or server path): an unknown `/api/` route 404, a wrong method 405,
a write that is not `Content-Type: application/json` (all but the multipart
`/api/predict`) 415, a body that is not a JSON object 400, a missing, unknown,
too long or wrong-typed field 422, a body over the upload limit 413. The
status comes from the error's type (`core.errors`), never from its text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dash.exceptions import DependencyException
from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import Map, Rule

from app_predict.report import report_html
from app_predict.schemas import (
    FeedbackBody,
    ManifestQuery,
    OperatingPointBody,
    PredictForm,
    PredictionsQuery,
    PromoteBody,
    RollbackBody,
    parse,
)
from core.errors import CoreError, InvalidInput, NotFound
from core.serving.service import Outcome, PredictionService, model_key
from core.store import registry
from core.store.database import unavailable_on_error
from core.web.login import current_user, require_analyst
from core.web.redact import redact
from core.web.security import WRITE_METHODS
from core.web.server import no_such_asset, service

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)

# The names API clients were given (README) for two fields of `Prediction.to_dict()`.
API_NAMES = {"predicted": "class", "run_id": "run"}
_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}
JSON_EXEMPT = ("api.predict",)  # a multipart upload; cross-site uploads are still refused by their Origin


def _error(message: str, status: int) -> Response:
    response = jsonify(error=redact(message))
    response.status_code = status
    return response


@api.before_request
def _writes_take_json():
    """415 for a write that is not JSON: a cross-site HTML form cannot send `application/json`."""
    if request.method in WRITE_METHODS and request.endpoint not in JSON_EXEMPT and not request.is_json:
        return _error("send the body as JSON, with Content-Type: application/json", 415)
    return None


@api.errorhandler(CoreError)
def _core_error(exc: CoreError):
    return _error(str(exc), exc.status)


def _single_values(values: MultiDict) -> dict[str, str]:
    """A query or form as a dict; a name given twice is refused rather than one of its values picked."""
    repeated = sorted(name for name, items in values.lists() if len(items) > 1)
    if repeated:
        raise InvalidInput(f"give {', '.join(repeated)} once")
    return values.to_dict()


def _predictions() -> PredictionService:
    return service("predictions")


def prediction_json(outcome: Outcome) -> dict:
    """`Outcome.to_dict()`, the one serialisation of a prediction, under the API's documented field names."""
    return {API_NAMES.get(name, name): value for name, value in outcome.to_dict().items()}


@api.post("/api/predict")
def predict() -> Response:
    uploads = request.files.getlist("file")
    if not uploads:
        return _error("send the file as multipart form field 'file'", 400)
    if len(uploads) > 1:
        return _error(f"send one file per request; got {len(uploads)} in the field 'file'", 422)
    upload = uploads[0]
    form = parse(PredictForm, {**_single_values(request.form), "filename": upload.filename or ""})
    try:
        outcome = _predictions().predict(
            upload.read(), filename=form.filename, model=form.model, case_ref=form.case_ref, user=current_user()
        )
    except CoreError as exc:
        return _error(f"{form.filename or 'file'}: {exc}", exc.status)
    request.environ["prediction_id"] = outcome.prediction_id
    return jsonify(prediction_json(outcome))


@api.post("/api/feedback")
def feedback() -> Response:
    return jsonify(parse(FeedbackBody, _json_object()).record(_predictions().audit_log, current_user()))


@api.get("/api/models")
def models() -> Response:
    predictions_service = _predictions()
    return jsonify(models=predictions_service.models(), champion=predictions_service.champion())


@api.get("/api/predictions")
def predictions() -> Response:
    query, audit_log = parse(PredictionsQuery, _single_values(request.args)), _predictions().audit_log
    rows = audit_log.recent(where=query.filters(), limit=query.limit, offset=query.offset)
    if query.format == "csv":
        return Response(
            audit_log.to_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=predictions.csv"},
        )
    return jsonify(predictions=rows)


@api.get("/api/predictions/<prediction_id>/report")
def prediction_report(prediction_id: str) -> Response:
    """The report as recorded now, every review included; without pictures, as the input itself is not kept."""
    predictions_service = _predictions()
    record = predictions_service.audit_log.get(prediction_id)
    if record is None:
        raise NotFound(f"no prediction with id {prediction_id[:64]!r}")
    text = report_html(
        record,
        picture=None,
        heatmap=None,
        generated_at=datetime.now(UTC),
        zone=predictions_service.settings.display_timezone,
    )
    disposition = f"inline; filename=prediction_{record['id']}.html"
    return Response(text, mimetype="text/html", headers={"Content-Disposition": disposition})


@api.get("/api/reviewed-manifest.csv")
def reviewed_manifest() -> Response:
    """Save it in ARTIFACTS_DIR: its paths are relative to that folder, as `python -m core train --data` reads them."""
    query = parse(ManifestQuery, _single_values(request.args))
    text = _predictions().reviewed_manifest(modality=query.modality, model=query.model)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=reviewed-{query.modality}.csv"},
    )


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
        received = "no valid JSON" if body is None else f"a JSON {_JSON_KINDS.get(type(body), 'value')}"
        raise BadRequest(f"the body must be a JSON object {{...}} of named fields; got {received}")
    return body


@api.get("/api/champion")
def champion_history() -> Response:
    predictions_service = _predictions()
    return _answer(
        lambda: {"champion": predictions_service.champion(), "history": predictions_service.state.champion_history()}
    )


@api.post("/api/champion")
def promote() -> Response:
    require_analyst()
    body, predictions_service = parse(PromoteBody, _json_object()), _predictions()
    return _answer(
        lambda: registry.promote(
            predictions_service.settings.artifacts_dir,
            predictions_service.state,
            body.run,
            body.model,
            reason=body.reason,
            user=current_user(),
            force=body.force,
        )
    )


@api.post("/api/champion/rollback")
def rollback() -> Response:
    require_analyst()
    body, predictions_service = parse(RollbackBody, _json_object()), _predictions()
    return _answer(
        lambda: registry.rollback(
            predictions_service.settings.artifacts_dir,
            predictions_service.state,
            reason=body.reason,
            user=current_user(),
            to=body.to,
        )
    )


@api.get("/api/operating-points")
def operating_points() -> Response:
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
def save_operating_point() -> Response:
    require_analyst()
    body, predictions_service = parse(OperatingPointBody, _json_object()), _predictions()
    return _answer(lambda: _save_operating_point(predictions_service, body))


def _save_operating_point(predictions_service: PredictionService, body: OperatingPointBody) -> dict:
    """A new version from `body`; a threshold or band left out keeps the one in force (as the CLI does)."""
    artifacts_dir, state = predictions_service.settings.artifacts_dir, predictions_service.state
    current = registry.operating_point_in_force(artifacts_dir, state, body.run, body.model)
    return registry.save_operating_point(
        artifacts_dir,
        state,
        body.run,
        body.model,
        threshold=current["threshold"] if body.threshold is None else body.threshold,
        review_band=body.band or tuple(current["review_band"]),
        user=current_user(),
        note=body.note,
    )


@api.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the champion loads and the database accepts a write (rolled back); else 503 with every reason."""
    predictions_service, problems = _predictions(), []
    try:
        predictor = predictions_service.predictor()
        model = model_key(predictor.run_id, predictor.model_name)
        predictions_service.operating_point(predictor)  # a champion with no valid operating point serves nothing
    except CoreError as exc:
        model = None
        problems.append(str(exc))
    database_problem = predictions_service.audit_log.write_problem()
    if database_problem:
        problems.append(database_problem)
    body = {"status": "unavailable" if problems else "ok", "model": model, "database": database_problem is None}
    if problems:
        body["error"] = redact("; ".join(problems))
    return jsonify(body), 503 if problems else 200


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would spool those over 500 KB to a temporary file.

    Uploads must not touch the disk unless input storage is switched on;
    MAX_CONTENT_LENGTH bounds what a request can hold.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def _http_message(exc: HTTPException) -> str:
    """What a client can do about an HTTP error raised by Flask or Werkzeug."""
    if exc.code == 404:
        routes = {r.rule for r in current_app.url_map.iter_rules() if r.endpoint.startswith(f"{api.name}.")}
        return f"no API route {request.path}; the API has {', '.join(sorted(r for r in routes if r != '/healthz'))}"
    if exc.code == 405:
        allowed = ", ".join(sorted(set(getattr(exc, "valid_methods", None) or ()) - {"HEAD", "OPTIONS"}))
        return f"{request.method} is not allowed on {request.path}; use {allowed}"
    if exc.code == 413:
        return f"request too large: at most {_predictions().settings.max_upload_mb:g} MB per file"
    return exc.description or exc.name


def _http_error(exc: HTTPException):
    """HTTP errors under /api/ and /healthz as JSON (with their headers, e.g. `Allow`); the pages keep Werkzeug's."""
    if exc.response is not None:  # already answered, e.g. the 429 of a login rate limit
        return exc.response
    if not (request.path.startswith("/api/") or request.path == "/healthz"):
        return exc
    response = _error(_http_message(exc), exc.code or 500)
    response.headers.extend((name, value) for name, value in exc.get_headers() if name.lower() != "content-type")
    return response


def _api_routes_only(routes: Map) -> Callable[[], None]:
    """A hook that raises 404/405 for an /api/ path the API does not serve, instead of Dash's page."""

    def only_api_routes() -> None:
        if request.path.startswith("/api/") and request.blueprint != api.name:
            routes.bind("api").match(request.path, method=request.method)  # raises NotFound or MethodNotAllowed

    return only_api_routes


def _unexpected(exc: Exception):
    """A bug: logged with its traceback, answered with one line that points to the log."""
    log.exception("unexpected error on %s", request.path)
    if request.path.startswith("/api/"):
        return _error("internal error; the request was not recorded. See the server log.", 500)
    return Response("Internal error. See the server log.", 500, mimetype="text/plain")


def install(server: Flask) -> None:
    """Mount the API on `server` (built with a "predictions" service), keep uploads in memory, answer errors as JSON.

    Request bodies are limited by `core.web.server.build_server`.
    """
    server.request_class = InMemoryRequest
    server.register_blueprint(api)
    rules = [rule for rule in server.url_map.iter_rules() if rule.endpoint.startswith(f"{api.name}.")]
    server.before_request(_api_routes_only(Map([Rule(r.rule, methods=r.methods, endpoint=r.endpoint) for r in rules])))
    server.register_error_handler(HTTPException, _http_error)
    server.register_error_handler(DependencyException, no_such_asset)
    server.register_error_handler(Exception, _unexpected)
