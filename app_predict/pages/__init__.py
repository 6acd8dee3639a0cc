"""The prediction app's pages, one module each, routed by Dash Pages.

A page module holds its `PATH`, `NAME`, `layout` and its `callbacks`
(`core.web.callbacks.Callbacks`). `register(app)` enters every page in Dash
Pages' registry and attaches its callbacks to `app`.

Why the pages are registered here and not by `dash.register_page(__name__)`
at import: `register_page` writes Dash's process-global `page_registry`,
refuses to run before a `Dash(...)` exists, and reads the most recently built
app's settings; this process builds the prediction app once per factory call
(several times in the tests) beside the dashboard. Registering from the
factory, right after `Dash(use_pages=True, pages_folder="")`, always runs
after the app exists and writes the same entries each time. Routing compares
each app's own path (prefix stripped) with the registry's `path`, so an app
under a prefix routes correctly; links are built with the app's own
`get_relative_path`, never from the registry's `relative_path` (which follows
whichever app was built last). Only this app may use Dash Pages in the
process: the registry is shared.
"""

from __future__ import annotations

import dash
from dash import Dash

from app_predict.pages import audit, predict, worklist

PAGES = (predict, worklist, audit)


def register(app: Dash) -> list[tuple[str, str]]:
    """Register every page for `app` and attach its callbacks.

    Returns:
        (name, href under the app's prefix) per page, for the navigation bar.
    """
    for page in PAGES:
        dash.register_page(
            page.__name__, path=page.PATH, name=page.NAME, title=f"{page.NAME} · {app.title}", layout=page.layout
        )
        page.callbacks.attach(app)
    return [(page.NAME, app.get_relative_path(page.PATH)) for page in PAGES]
