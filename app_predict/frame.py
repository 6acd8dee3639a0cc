"""The frame around every page: the navigation bar, the intended-use notice and Dash Pages' container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from app_predict.report import INTENDED_USE


def _header(title: str, access: str, links: list[tuple[str, str]]) -> dbc.Navbar:
    """The navigation bar: the app's title, one link per page as (name, href), and whether login is required."""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(title, href=links[0][1], className="fw-semibold"),
                dbc.Nav([dbc.NavLink(name, href=href, active="exact") for name, href in links], navbar=True),
                dbc.Badge(access, color="light", text_color="dark", className="ms-auto"),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def frame(title: str, access: str, links: list[tuple[str, str]]) -> html.Div:
    """The app's layout; Dash Pages puts the current page into `dash.page_container`.

    Args:
        title: The app's name, in the navigation bar.
        access: The login mode, shown in the header ("Open access: ..." or "Login required ...").
        links: (page name, href with the app's path prefix) per page, the home page first.
    """
    return html.Div(
        [
            _header(title, access, links),
            dbc.Container(
                [dbc.Alert(INTENDED_USE, color="secondary", className="small py-2"), dash.page_container], fluid="lg"
            ),
        ]
    )
