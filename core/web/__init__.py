"""Flask-level pieces both web apps share: the server with login and the request log, warm-up, data URIs.

Modules: `server` (builds the Flask server under each Dash app, reads its
services), `login`, `request_log`, `warmup`, `callbacks` (Dash callbacks
declared per module, attached per app), `data_uri`, `security` (same-origin
writes, security headers), `redact` (error text without reprs or paths),
`callback_requests` (a Dash callback request the page could not have sent: 400),
`probabilities` (a probability shown to a person, never as certainty),
`buffered_worker` (the gunicorn worker that hands a thread only whole requests).

The only part of `core` that may import Flask. May import `core.settings`, `core.serving`, `core.store`
and `core.inputs` (pictures for data URIs).
Nothing in `core` imports Dash; the apps build their Dash apps on the Flask server made here.
"""
