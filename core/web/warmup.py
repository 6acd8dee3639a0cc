"""Start-up priming of a Dash app's server, before real traffic reaches the worker."""

from __future__ import annotations

from flask import Flask

from core.web.login import PRIMING

DASH_LAYOUT = "/_dash-layout"


def prime(server: Flask, path: str = DASH_LAYOUT) -> None:
    """Answer one request before real traffic, so the app's lazy first-request set-up is done.

    Dash prepares its script registry (and, with Dash Pages, its page router)
    on the first request, and a second thread of the same worker can be
    served before that finishes (a missing library error). Gunicorn calls
    this once per worker, after it starts. The request is marked as priming
    so that login (which runs before Dash's own set-up hooks) lets it through;
    only code inside the worker can mark a request so.
    """
    server.test_client().get(path, environ_base={PRIMING: True})
