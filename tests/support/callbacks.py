"""Calling a Dash app's callbacks directly, as Dash would, without a browser."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from contextvars import copy_context

from dash import Dash
from dash._callback_context import context_value
from dash._utils import AttributeDict


def _in_request_of(app: Dash, function: Callable) -> Callable:
    """`function` run inside a request to `app`'s server, where `core.web.server.service(...)` finds the services."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        with app.server.test_request_context("/_dash-update-component", method="POST"):
            return function(*args, **kwargs)

    return run


def callback_functions(app: Dash) -> dict[str, Callable]:
    """The app's callbacks by function name, unwrapped from Dash's decorator, each run inside a request to the app."""
    functions = (entry["callback"].__wrapped__ for entry in app.callback_map.values())
    return {function.__name__: _in_request_of(app, function) for function in functions}


def call(function, *args, triggered=None, prop: str = "n_clicks"):
    """Run a callback with `triggered` (a component id, or a pattern-matching id dict) as the input that fired."""

    def run():
        component = (
            json.dumps(triggered, separators=(",", ":"), sort_keys=True) if isinstance(triggered, dict) else triggered
        )
        prop_id = f"{component}.{prop}" if triggered else "."
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return function(*args)

    return copy_context().run(run)
