"""Flask-level pieces both web apps share: login, the request log, start-up warm-up and data URIs.

The only part of `core` that may import Flask. May import `core.serving` and `core.store`.
Nothing in `core` imports Dash; the apps build their Dash apps on the Flask server made here.
"""
