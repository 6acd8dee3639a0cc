"""The audit log against SQLite (and PostgreSQL when a server is available, see test_postgres)."""

import pytest
from sqlalchemy.exc import StatementError

from core.errors import InvalidInput, NotFound, Unavailable
from core.store.audit_log import AuditLog, Filters
from tests.core.store.test_database import HEAD

FIELDS = dict(
    modality="image",
    content_sha256="ab" * 32,
    run_id="run-1",
    model="custom_cnn",
    predicted="sick",
    probabilities={"sick": 0.8, "well": 0.2},
    uncertain=False,
    warnings=["image is very dark (mean brightness 5%)"],
)


@pytest.fixture
def audit(tmp_path):
    return AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")


def exercise(audit: AuditLog) -> None:
    """The behaviour every database must show; shared with the PostgreSQL test."""
    first = audit.record(**FIELDS, case_ref="C-1", filename="a.png")
    second = audit.record(**{**FIELDS, "uncertain": True, "model": "vgg16"}, case_ref="C-2")
    assert audit.count() == 2 and audit.ping()
    rows = audit.recent()
    assert [r["id"] for r in rows] == [second, first]  # newest first
    assert rows[1]["probabilities"] == {"sick": 0.8, "well": 0.2} and rows[1]["warnings"] == FIELDS["warnings"]
    assert rows[1]["content_sha256"] == "ab" * 32 and rows[1]["input_path"] is None
    audit.add_feedback(first, verdict="confirmed", user="dr-a")
    audit.add_feedback(first, verdict="overridden", correct_label="well", comment="on review", user="dr-b")
    latest = audit.get(first)
    assert (latest["feedback"], latest["correct_label"], latest["feedback_user"]) == ("overridden", "well", "dr-b")
    reviews = [(r["verdict"], r["correct_label"], r["user"]) for r in latest["reviews"]]
    assert reviews == [("confirmed", "sick", "dr-a"), ("overridden", "well", "dr-b")]  # the history is kept
    decided = audit.record(**FIELDS, operating_point_version=3, threshold=0.3, review_band=[0.25, 0.35], user="dr-c")
    row = audit.get(decided)
    assert (row["operating_point_version"], row["threshold"], row["review_band"], row["user"]) == (
        3,
        0.3,
        [0.25, 0.35],
        "dr-c",
    )
    assert "3,0.3,0.25-0.35,dr-c" in AuditLog.to_csv([row])
    assert [r["id"] for r in audit.recent(where=Filters(uncertain=True))] == [second]
    assert [r["id"] for r in audit.recent(where=Filters(model="custom_cnn"))] == [decided, first]
    assert [r["id"] for r in audit.recent(where=Filters(case_ref="C-"))] == [second, first]
    assert [r["id"] for r in audit.recent(where=Filters(feedback="none"))] == [decided, second]
    assert [r["id"] for r in audit.recent(where=Filters(feedback="overridden"))] == [first]
    text = AuditLog.to_csv(audit.recent())
    assert text.splitlines()[0].startswith("id,created_at,case_ref") and "sick=0.8000; well=0.2000" in text
    with pytest.raises(NotFound, match="no prediction"):
        audit.add_feedback("missing", verdict="confirmed")
    with pytest.raises(NotFound, match="no prediction"):  # the unknown id is reported before the bad verdict
        audit.add_feedback("missing", verdict="maybe")
    with pytest.raises(InvalidInput, match="needs the correct label"):
        audit.add_feedback(first, verdict="overridden")
    with pytest.raises(InvalidInput, match="verdict must be"):
        audit.add_feedback(first, verdict="maybe")


def test_audit_log_on_sqlite(audit):
    exercise(audit)


def test_a_failed_write_leaves_no_partial_row(audit):
    audit.record(**FIELDS)
    with pytest.raises(StatementError):
        audit.record(**{**FIELDS, "probabilities": {"sick": object()}})  # not storable: the transaction rolls back
    assert audit.count() == 1


def test_the_schema_survives_reopening_and_is_versioned(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    AuditLog(url).record(**FIELDS)
    reopened = AuditLog(url)
    assert reopened.count() == 1
    with reopened.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD


def test_a_missing_folder_is_created_and_an_unusable_location_is_a_clear_error(tmp_path):
    assert AuditLog(f"sqlite:///{tmp_path / 'new-folder' / 'audit.db'}").ping()
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(Unavailable, match="cannot open the audit database"):
        AuditLog(f"sqlite:///{tmp_path / 'a-file' / 'audit.db'}")


def test_a_review_names_one_of_the_models_classes_and_a_withheld_class_cannot_be_confirmed(audit):
    judged = audit.record(**FIELDS)
    with pytest.raises(InvalidInput, match=r"one of the model's classes \(sick, well\)"):
        audit.add_feedback(judged, verdict="overridden", correct_label="fine")
    withheld = audit.record(**{**FIELDS, "predicted": None, "uncertain": True, "out_of_distribution": True})
    with pytest.raises(InvalidInput, match="none to confirm"):
        audit.add_feedback(withheld, verdict="confirmed")
    assert audit.add_feedback(withheld, verdict="overridden", correct_label="well")["correct_label"] == "well"
    assert [r["feedback"] for r in audit.recent(limit=5)].count(None) == 1  # only the refused reviews left no row


def test_an_override_names_another_class_and_an_uncertain_result_is_confirmed_with_its_class(audit):
    judged = audit.record(**FIELDS)
    with pytest.raises(InvalidInput, match="confirm it instead"):
        audit.add_feedback(judged, verdict="overridden", correct_label="sick")
    uncertain = audit.record(**{**FIELDS, "uncertain": True})
    with pytest.raises(InvalidInput, match="choose the class you confirm"):
        audit.add_feedback(uncertain, verdict="confirmed")
    assert audit.add_feedback(uncertain, verdict="confirmed", correct_label="well")["correct_label"] == "well"
    assert audit.get(uncertain)["reviews"][0]["correct_label"] == "well"
