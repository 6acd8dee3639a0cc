"""Dash callback requests checked before Dash reads them: a malformed one is a 400 in words, never a 500.

Dash's dispatcher trusts its own renderer. A body that is not a JSON object,
one without `output`, one naming a callback the app does not have (a page
left open across a deploy, a script, a probe) or one sending other inputs
than the callback declares raises `KeyError`, `AttributeError` or
`TypeError` deep inside Dash: a 500 and a traceback in the log for what is
the client's mistake. `install` refuses such a request before Dash runs,
checking it against the table Dash dispatches with (`Dash.callback_map`,
kept on the server by `core.web.callbacks.Callbacks.attach`), so a request
that passes is one the app's own page could have sent.

The values a request carries are each callback's to judge; only the
request's shape and the callback it names are checked here.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.web.security import refusal

DASH_CALLBACK_PATH = "/_dash-update-component"
CALLBACK_TABLE = "core.web.dash_callback_map"  # the server extension holding the Dash app's `callback_map`
MALFORMED = "Not a request this page sends. Reload the page and try again."
UNKNOWN = "This page is out of date: the app has no such update. Reload the page and try again."


class _Dependency(BaseModel):
    """One component property a request names: its id (a dict for pattern-matching ids) and property."""

    model_config = ConfigDict(extra="allow")
    id: str | dict[str, Any]
    property: str


Dependencies = list[_Dependency | list[_Dependency]]  # a list: the components a pattern-matching ALL stands for


class CallbackRequest(BaseModel):
    """The body Dash's renderer posts to run a callback (other fields Dash adds are let through)."""

    model_config = ConfigDict(extra="allow")
    output: str
    outputs: _Dependency | Dependencies = []
    inputs: Dependencies
    state: Dependencies = []
    changed: list[str] = Field(default=[], alias="changedPropIds")


def _same(sent: list, declared: list[dict]) -> bool:
    """Whether `sent` names the components `declared` does (an id holding wildcards matches any id)."""

    def one(item: Any, spec: dict) -> bool:
        if isinstance(item, list):
            return all(part.property == spec["property"] for part in item)
        wildcard = spec["id"].startswith("{")
        return item.property == spec["property"] and (wildcard or item.id == spec["id"])

    return len(sent) == len(declared) and all(one(item, spec) for item, spec in zip(sent, declared, strict=True))


def _output_count(key: str) -> int:
    """How many outputs the callback `key` declares: Dash writes several as "..a.x...b.y.."."""
    return len(key[2:-2].split("...")) if key.startswith("..") else 1


def problem(body: Any, table: dict[str, dict] | None) -> str | None:
    """Why `body` is not a callback request the app can run (None: it is one).

    Args:
        body: The request's parsed JSON (None when it is not JSON).
        table: The Dash app's `callback_map`; None checks the body's shape only.
    """
    try:
        sent = CallbackRequest.model_validate(body)
    except ValidationError:
        return MALFORMED
    if table is None:
        return None
    callback = table.get(sent.output)
    if callback is None or "callback" not in callback:  # unknown, or run in the browser (clientside)
        return UNKNOWN
    outputs = sent.outputs if isinstance(sent.outputs, list) else [sent.outputs]
    matching = _same(sent.inputs, callback["inputs"]) and _same(sent.state, callback["state"])
    if not matching or (outputs and len(outputs) != _output_count(sent.output)):
        return UNKNOWN
    return None


def _check() -> Response | None:
    """400 with a plain sentence for a malformed callback request; None lets Dash run it."""
    if request.path != DASH_CALLBACK_PATH or request.method != "POST":
        return None
    reason = problem(request.get_json(silent=True), current_app.extensions.get(CALLBACK_TABLE))
    return None if reason is None else refusal(reason, 400)


def install(server: Flask) -> None:
    """Refuse malformed Dash callback requests to `server` with 400 before Dash reads them."""
    server.before_request(_check)
