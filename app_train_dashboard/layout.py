"""The page: header, selectors, and the tabs. A function, so each page load starts fresh."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app_train_dashboard import ids, selection
from app_train_dashboard.tabs import GROUPS

INTENDED_USE = "Research and decision support only. Not a medical device."
GROUP_START = "tab-group-start"  # styled by assets/tabs.css


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


def tab_bar() -> dbc.Tabs:
    """The tabs of `GROUPS` in one row, a rule before each group after the first (`assets/tabs.css`).

    Twelve tabs wrapped onto two lines at 1440 px, and a second line of tabs
    reads as a row of content; the row scrolls sideways on a narrower screen
    instead.
    """
    tabs = []
    for number, group in enumerate(GROUPS):
        shown = [module.layout() for module in group]
        if number:
            shown[0].tab_class_name = GROUP_START
        tabs += shown
    return dbc.Tabs(tabs, id=ids.TABS, active_tab="curves")


def layout(refresh_seconds: float = 30.0) -> html.Div:
    """The whole page; the main content stays hidden while there is no run (the empty state shows instead).

    Args:
        refresh_seconds: How often the page re-reads the runs and the serving state (`DASHBOARD_REFRESH_SECONDS`).
    """
    main = html.Div(
        [selection.layout(), tab_bar()],
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
