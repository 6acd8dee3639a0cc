"""Flask-level pieces both web apps share: the server with login and the request log, warm-up, data URIs.

Modules: `server` (builds the Flask server under each Dash app, reads its
services), `login`, `request_log`, `warmup`, `callbacks` (Dash callbacks
declared per module, attached per app), `data_uri`, `security` (same-origin
writes, security headers), `redact` (error text without reprs or paths),
`buffered_worker` (the gunicorn worker that hands a thread only whole requests).

The only part of `core` that may import Flask. May import `core.settings`, `core.serving`, `core.store`
and `core.inputs` (pictures for data URIs).
Nothing in `core` imports Dash; the apps build their Dash apps on the Flask server made here.
"""
