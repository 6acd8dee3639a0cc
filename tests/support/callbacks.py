"""Calling a Dash app's callbacks directly, as Dash would, without a browser."""

from __future__ import annotations

from contextvars import copy_context

from dash import Dash
from dash._callback_context import context_value
from dash._utils import AttributeDict


def callback_functions(app: Dash) -> dict:
    """The app's callbacks by function name, unwrapped from Dash's decorator."""
    return {entry["callback"].__wrapped__.__name__: entry["callback"].__wrapped__ for entry in app.callback_map.values()}


def call(function, *args, triggered=None, prop: str = "n_clicks"):
    """Run a callback with `triggered` (a component id, or a pattern-matching id dict) as the input that fired."""

    def run():
        if isinstance(triggered, dict):
            import json

            component = json.dumps(triggered, separators=(",", ":"), sort_keys=True)
        else:
            component = triggered
        prop_id = f"{component}.{prop}" if triggered else "."
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return function(*args)

    return copy_context().run(run)
