"""ANALYST_USERS in the dashboard: promote, serve again and save an operating point refuse anyone else, in words."""

from werkzeug.security import generate_password_hash

from app_train_dashboard import ids
from app_train_dashboard.factory import create_app
from core.settings import Settings
from tests.support.callbacks import call, callback_functions


def test_a_user_who_is_not_an_analyst_changes_nothing_from_the_dashboard(dashboard_root, run_ids):
    hashed = generate_password_hash("pw", method="pbkdf2:sha256:1000")
    settings = Settings(artifacts_dir=dashboard_root, users=f"nurse:{hashed},ana:{hashed}", analysts="ana")
    callbacks = callback_functions(create_app(settings))  # each runs in a request where no analyst is logged in
    run = run_ids["sound"]
    before = create_app(settings).server.extensions["serving_state"].champion_history()
    promote = callbacks["promote_model"]
    _, text, *_ = call(promote, 1, 1, 1, None, "custom_cnn", run, "why", triggered=ids.PROMOTE_FORCE)
    assert "ANALYST_USERS" in str(text)
    served_again, *_ = callbacks["serve_again"](1, [before[-1]["id"]], "why")
    assert "ANALYST_USERS" in str(served_again.children)
    saved, _ = callbacks["save_point"](1, "custom_cnn", 0.42, [0.3, 0.55], "pilot", None, run, ["custom_cnn"], None)
    assert "ANALYST_USERS" in str(saved.children)
    assert create_app(settings).server.extensions["serving_state"].champion_history() == before
