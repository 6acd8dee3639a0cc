"""Dash callbacks declared beside the layout they serve, and attached to each app that is built.

Why not `dash.callback`: its global registry hands every callback to whichever
Dash app answers its first request, and this process serves two Dash apps
(`wsgi.py`) while the tests build several. A page or tab module declares

    callbacks = Callbacks()

    @callbacks(Output(ids.RESULT, "children"), Input(ids.UPLOAD, "contents"))
    def show_result(contents): ...

and its app factory calls `callbacks.attach(app)`. No Dash import is needed
here: attaching calls the app's own `app.callback`, and keeps the app's
callback table on its server, where `core.web.callback_requests` checks each
callback request against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.web.callback_requests import CALLBACK_TABLE


class Callbacks:
    """Callback declarations of one module, attachable to any number of Dash apps."""

    def __init__(self) -> None:
        self._declared: list[tuple[tuple, dict, Callable]] = []

    def __call__(self, *dependencies: Any, **options: Any) -> Callable[[Callable], Callable]:
        """Declare a callback with `app.callback`'s arguments; the function is returned unchanged."""

        def declare(function: Callable) -> Callable:
            self._declared.append((dependencies, options, function))
            return function

        return declare

    def attach(self, app: Any) -> None:
        """Register every declared callback on `app` (a `dash.Dash`); its server checks requests against them."""
        for dependencies, options, function in self._declared:
            app.callback(*dependencies, **options)(function)
        app.server.extensions[CALLBACK_TABLE] = app.callback_map
