"""The page: header, selectors, and the tabs. A function, so each page load starts fresh."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app_train_dashboard import ids, selection
from app_train_dashboard.tabs import TABS

INTENDED_USE = "Research and decision support only. Not a medical device."


def header() -> dbc.Navbar:
    """The title, the current champion and the intended-use notice."""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Model analytics", className="fw-semibold"),
                html.Span(id=ids.CHAMPION_BADGE, className="text-light small"),
                dbc.Badge(INTENDED_USE, color="warning", text_color="dark", className="ms-auto"),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def layout(refresh_seconds: float = 30.0) -> html.Div:
    """The whole page; the main content stays hidden while there is no run (the empty state shows instead).

    Args:
        refresh_seconds: How often the page re-reads the runs and the serving state (`DASHBOARD_REFRESH_SECONDS`).
    """
    main = html.Div(
        [selection.layout(), dbc.Tabs([tab.layout() for tab in TABS], id=ids.TABS, active_tab="curves")],
        id=ids.MAIN_CONTENT,
    )
    return html.Div(
        [
            header(),
            dbc.Container(
                [
                    dcc.Interval(id=ids.REFRESH_INTERVAL, interval=int(refresh_seconds * 1000)),
                    dcc.Download(id=ids.DOWNLOAD),
                    html.Div(id=ids.EMPTY_STATE),
                    html.Div(id=ids.RUN_ALERTS),
                    main,
                    html.Footer(INTENDED_USE, className="text-muted small my-4"),
                ],
                fluid=True,
            ),
        ]
    )
