"""The audit-log page's callbacks: filters and paging in SQL, partial model names, local times, refusals named.

Rows are recorded straight into a fresh audit database (no model is needed).
"""

import pytest
from sqlalchemy import event

from app_predict import ids
from app_predict.factory import create_app
from app_predict.pages import audit
from core.settings import Settings
from tests.core.store.test_audit_log import FIELDS
from tests.support.callbacks import call, callback_functions


@pytest.fixture
def page(tmp_path):
    app = create_app(Settings(artifacts_dir=tmp_path, display_timezone="America/New_York"))
    log = app.server.extensions["predictions"].audit_log
    for index in range(30):
        log.record(**{**FIELDS, "model": "mobilenet_v2" if index % 2 else "custom_cnn"}, case_ref=f"P-{index:02d}")
    refused = {"predicted": None, "probabilities": {}, "warnings": [], "refused_reason": "recording is silent"}
    log.record(**{**FIELDS, **refused, "model": "Custom_CNN"}, case_ref="R-1")
    withheld = {"predicted": None, "uncertain": True, "out_of_distribution": True, "ood_score": 9.8}
    log.record(**{**FIELDS, **withheld}, case_ref="W-1")
    return callback_functions(app), log


def _rows(callbacks, *filters, page=0, triggered=None):
    return call(callbacks["audit_rows"], *filters, page, None, triggered=triggered, prop="value")


def test_paging_runs_in_sql_and_a_changed_filter_goes_back_to_the_first_page(page):
    callbacks, log = page
    statements = []
    event.listen(log.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    rows, pages, current, count = _rows(callbacks, None, None, "any", "any")
    assert (len(rows), pages, current) == (audit.PAGE_SIZE, 2, 0) and "32 recorded" in count
    rows, _, current, count = _rows(callbacks, None, None, "any", "any", page=1)
    assert (len(rows), current) == (32 - audit.PAGE_SIZE, 1) and "page 2 of 2" in count
    assert any("LIMIT" in s and "OFFSET" in s for s in statements if "FROM predictions" in s)
    _, pages, current, _ = _rows(callbacks, "mobile", None, "any", "any", page=1, triggered=ids.AUDIT_MODEL)
    assert (pages, current) == (1, 0)  # a new filter shows its first page


def test_model_names_match_in_part_and_rows_read_as_a_person_reads_them(page):
    callbacks, _ = page
    rows, *_ = _rows(callbacks, "cnn", None, "any", "none")
    assert {row["model"] for row in rows} == {"custom_cnn", "Custom_CNN"}
    refused = next(row for row in rows if row["case_ref"] == "R-1")
    assert (refused["predicted"], refused["uncertain"]) == ("refused", "refused")
    assert refused["warnings"] == "refused: recording is silent (input not kept: STORE_INPUTS was off)"
    assert refused["run_id"] == "run-1" and refused["created_at"].endswith(("EST", "EDT"))
    assert set(rows[0]) == {"id", *dict(audit.COLUMNS).values()}
    withheld = next(row for row in rows if row["case_ref"] == "W-1")
    assert (withheld["predicted"], withheld["probabilities"]) == ("withheld", "not a result")
    shown = next(row for row in rows if row["case_ref"].startswith("P-"))
    assert shown["probabilities"] == "sick 80%, well 20%"  # as the card shows them, never "1.00"
    confident, *_ = _rows(callbacks, None, "P-0", "false", "any")
    assert confident and all(row["uncertain"] == "no" for row in confident)


def test_the_export_follows_the_filters(page):
    callbacks, _ = page
    export = call(callbacks["audit_export"], 1, "MOBILE", None, "any", "any", triggered=ids.AUDIT_EXPORT)
    lines = export["content"].splitlines()
    assert export["filename"] == "predictions.csv" and len(lines) == 16
    assert all(",mobilenet_v2," in line for line in lines[1:])


def _find(component, component_id: str):
    """The component of `component_id` in a layout tree, or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        found = None if child is None or isinstance(child, str) else _find(child, component_id)
        if found is not None:
            return found
    return None


def test_every_select_choice_has_a_value_the_browser_can_show():
    """`dbc.Select` adds a hidden placeholder of value "": a choice of value "" would show as blank."""
    layout = audit.layout()
    for component_id in (ids.AUDIT_UNCERTAIN, ids.AUDIT_FEEDBACK):
        select = _find(layout, component_id)
        assert select.value == audit.ANY and all(option["value"] for option in select.options)
