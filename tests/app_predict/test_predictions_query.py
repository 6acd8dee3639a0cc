"""`GET /api/predictions`: filters and paging run in SQL, `case_ref` matches literally, CSV cells are spreadsheet-safe.

Rows are recorded straight into a fresh audit database (no model is
needed), then read through the API with Flask's test client.
"""

import csv
import io

import pytest
from sqlalchemy import event

from app_predict.factory import create_app
from core.settings import Settings
from tests.core.store.test_audit_log import FIELDS

ROW = {**FIELDS, "warnings": []}


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(artifacts_dir=tmp_path))
    audit = app.server.extensions["predictions"].audit_log
    ids = {
        ref: audit.record(**ROW, case_ref=ref)
        for ref in ("A%B", "AB", "A_B", '=HYPERLINK("http://evil.example")', "C-1", "C-2")
    }
    audit.add_feedback(ids["AB"], verdict="confirmed")
    audit.add_feedback(ids["C-1"], verdict="confirmed")
    audit.add_feedback(ids["C-1"], verdict="overridden", correct_label="well")
    return app, ids


def _refs(client, **query) -> list[str]:
    response = client.get("/api/predictions", query_string=query)
    assert response.status_code == 200, response.get_json()
    return [row["case_ref"] for row in response.get_json()["predictions"]]


def test_case_ref_wildcards_match_literally(app):
    client = app[0].server.test_client()
    assert _refs(client, case_ref="%") == ["A%B"]
    assert _refs(client, case_ref="_") == ["A_B"]
    assert sorted(_refs(client, case_ref="B")) == ["A%B", "AB", "A_B"]


def test_the_latest_verdict_filter_and_paging_run_in_sql(app):
    flask_app, ids = app
    client = flask_app.server.test_client()
    statements = []
    engine = flask_app.server.extensions["predictions"].audit_log.engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert _refs(client, feedback="none", limit=2) == ["C-2", '=HYPERLINK("http://evil.example")']
    assert _refs(client, feedback="none", limit=2, offset=2) == ["A_B", "A%B"]
    assert _refs(client, feedback="overridden") == ["C-1"]  # its latest review, not its first
    assert _refs(client, feedback="confirmed") == ["AB"]
    selects = [s for s in statements if "FROM predictions" in s and "LIMIT" in s]
    assert len(selects) == 4 and all("feedback" in s for s in selects)


def test_csv_cells_cannot_run_as_formulas_and_numbers_stay_numbers(app):
    flask_app, ids = app
    audit = flask_app.server.extensions["predictions"].audit_log
    audit.record(**{**ROW, "warnings": ["-3 dB"]}, case_ref="+1", filename="@cmd", threshold=-0.25)
    text = flask_app.server.test_client().get("/api/predictions", query_string={"format": "csv"}).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    newest = rows[0]
    assert (newest["case_ref"], newest["filename"], newest["warnings"]) == ("'+1", "'@cmd", "'-3 dB")
    assert newest["threshold"] == "-0.25"
    assert '\'=HYPERLINK("http://evil.example")' in [row["case_ref"] for row in rows]
    text_cells = [cell for row in rows for name, cell in row.items() if name != "threshold"]
    assert not [cell for cell in text_cells if cell.startswith(("=", "+", "-", "@"))]
