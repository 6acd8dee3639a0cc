"""Browser-facing protections both apps share: same-origin writes and the security headers of every answer.

- **Cross-site writes.** A browser sends `Origin` with every POST; a write
  whose `Origin` is another site (a form on `evil.example` posting to
  `/api/feedback` with the clinician's cached login) is refused with 403
  before login or the view runs. Requests without `Origin` (curl, scripts,
  the tests) are not browsers and pass.
- **Headers.** Every answer carries a Content-Security-Policy, `nosniff`,
  `Referrer-Policy: no-referrer` (URLs can hold case references) and refuses
  framing; every answer but Dash's versioned static files is `no-store`,
  since pages, callbacks, reports and the API carry patient data.

Dash's page is a shell with one inline script (the renderer start-up); the
layout and all data arrive later as JSON that React renders and never runs
as script. The policy allows exactly the inline scripts of the shell page
it is sent with, by their SHA-256 (what `Dash.csp_hashes()` computes, found
here from the page so that `core` needs no Dash import); any other inline
script, `eval` and every other origin are refused. Styles allow inline
`<style>` because plotly.js and Dash's dropdowns inject their own.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Dash's content-hashed component bundles and the apps' assets: cacheable, no patient data.
STATIC_PATHS = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
POLICY = {
    "default-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SCRIPT_TYPES = ("", "text/javascript", "application/javascript", "module")


class _InlineScripts(HTMLParser):
    """Collects the text of a page's inline, executable `<script>` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and (attributes.get("type") or "") in SCRIPT_TYPES:
            self._open = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append("".join(self._open))
            self._open = None


def script_hashes(page: str) -> list[str]:
    """The CSP sources (`'sha256-...'`) of `page`'s inline scripts, as `Dash.csp_hashes()` writes them."""
    parser = _InlineScripts()
    parser.feed(page)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in parser.scripts]


def content_security_policy(hashes: list[str]) -> str:
    """The policy, allowing the inline scripts with these hashes (none: no inline script runs)."""
    directives = {**POLICY, "script-src": " ".join(["'self'", *hashes])}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _cross_site() -> Response | None:
    """403 for a write whose browser `Origin` is not this server's host; None to go on."""
    origin = request.headers.get("Origin")
    if request.method not in WRITE_METHODS or origin is None or urlsplit(origin).netloc == request.host:
        return None
    return refusal("cross-site request refused: the Origin header does not match this server", 403)


def refusal(message: str, status: int) -> Response:
    """A refused request's answer: JSON `{"error": ...}` under /api/, plain text for the pages."""
    if request.path.startswith("/api/"):
        response = jsonify(error=message)
        response.status_code = status
        return response
    return Response(message, status, mimetype="text/plain")


def _secure(response: Response) -> Response:
    """Add the security headers; allow the inline scripts of an HTML page by their hashes."""
    page = response.mimetype == "text/html" and not response.direct_passthrough
    hashes = script_hashes(response.get_data(as_text=True)) if page else []
    response.headers["Content-Security-Policy"] = content_security_policy(hashes)
    response.headers.update(HEADERS)
    if not any(marker in request.path for marker in STATIC_PATHS):
        response.headers["Cache-Control"] = "no-store"
    return response


def install(server: Flask) -> None:
    """Refuse cross-site writes and send the security headers on every answer of `server`."""
    server.before_request(_cross_site)
    server.after_request(_secure)
