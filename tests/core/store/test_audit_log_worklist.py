"""The review worklist, refusals and the reviewed-cases manifest, in the audit log over SQLite."""

import hashlib
import io
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.orm import Session

from core.data.dataset import load_dataset
from core.data.demo import draw_audiogram
from core.errors import Conflict, InvalidInput
from core.settings import Settings
from core.store.audit_log import AuditLog, FeedbackRecord, Filters
from core.store.layout import ArtifactsLayout
from tests.core.store.test_audit_log import FIELDS
from tests.support.postgres import postgres_cluster

CLASSES = ["sick", "well"]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield Settings(database_url=url).audit_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def audit(request, tmp_path):
    """A fresh audit log on SQLite, and on a fresh database of a throw-away PostgreSQL cluster (skipped without)."""
    if request.param == "sqlite":
        return AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"worklist_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return AuditLog(server.set(database=name).render_as_string(hide_password=False))


def _refusal(**fields) -> dict:
    return {
        **FIELDS,
        "predicted": None,
        "probabilities": {},
        "warnings": [],
        "classes": CLASSES,
        "refused_reason": "image is blank or a single colour",
        **fields,
    }


def _worklist(audit: AuditLog, **filters) -> list[str]:
    return [row["case_ref"] for row in audit.recent(where=Filters(awaiting_review=True, **filters))]


def test_the_worklist_holds_unreviewed_uncertain_and_withheld_cases_oldest_first_never_refusals(audit):
    audit.record(**FIELDS, case_ref="confident")
    audit.record(**{**FIELDS, "uncertain": True}, case_ref="uncertain")
    audit.record(**{**FIELDS, "predicted": None, "uncertain": True, "out_of_distribution": True}, case_ref="ood")
    audit.record(**_refusal(input_path="/srv/artifacts/inputs/cd.png"), case_ref="refused-kept")
    audit.record(**_refusal(), case_ref="refused-not-kept")
    sound = audit.record(**{**FIELDS, "modality": "sound", "uncertain": True, "model": "VGG_16%"}, case_ref="sound")
    assert _worklist(audit) == ["uncertain", "ood", "sound"]  # oldest first; a refusal has no answer to review
    assert _worklist(audit, reason="uncertain") == ["uncertain", "sound"]  # withheld rows are not "uncertain"
    assert _worklist(audit, reason="out_of_distribution") == ["ood"]
    assert _worklist(audit, modality="sound") == ["sound"]
    assert audit.count(where=Filters(awaiting_review=True)) == 3 and audit.count() == 6
    others = audit.recent(where=Filters(awaiting_review=False))
    assert [r["case_ref"] for r in others] == ["refused-not-kept", "refused-kept", "confident"]
    refused = [r["case_ref"] for r in audit.recent(where=Filters(refused=True))]
    assert refused == ["refused-not-kept", "refused-kept"] and audit.count(where=Filters(refused=False)) == 4
    audit.add_feedback(sound, verdict="confirmed", correct_label="well")
    assert _worklist(audit) == ["uncertain", "ood"]  # a reviewed case leaves the worklist
    for reason in ("bored", "refused"):
        with pytest.raises(InvalidInput, match="reason must be one of uncertain, out_of_distribution, got"):
            audit.recent(where=Filters(reason=reason))


def test_a_refusal_has_no_class_keeps_its_reason_and_takes_no_review(audit):
    refused = audit.record(**_refusal(input_path="/srv/artifacts/inputs/cd.png"))
    row = audit.get(refused)
    assert (row["predicted"], row["probabilities"], row["refused_reason"]) == (None, {}, _refusal()["refused_reason"])
    assert row["classes"] == CLASSES and row["input_path"] == "inputs/cd.png" and row["review_reason"] is None
    for verdict in ("confirmed", "overridden"):
        with pytest.raises(InvalidInput, match="refused for quality .image is blank.*no model answer to review"):
            audit.add_feedback(refused, verdict=verdict, correct_label="sick")
    assert audit.get(refused)["reviews"] == []
    assert "refused_reason" in AuditLog.to_csv([row]).splitlines()[0]


def test_the_model_filter_is_a_case_insensitive_partial_match_in_sql_with_literal_wildcards(audit):
    for name in ("custom_cnn", "Custom-CNN", "mobilenet_v2", "vgg%16", "vggx16"):
        audit.record(**{**FIELDS, "model": name}, case_ref=name)
    statements = []
    event.listen(audit.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert sorted(r["case_ref"] for r in audit.recent(where=Filters(model="CNN"))) == ["Custom-CNN", "custom_cnn"]
    assert [r["case_ref"] for r in audit.recent(where=Filters(model="m_c"))] == ["custom_cnn"]  # `_` is literal
    assert [r["case_ref"] for r in audit.recent(where=Filters(model="g%1"))] == ["vgg%16"]  # `%` is literal
    assert audit.count(where=Filters(model="_")) == 2
    selects = [s for s in statements if "FROM predictions" in s]
    assert len(selects) == 4 and all("LIKE" in s.upper() for s in selects)


def _audiogram(seed: int) -> bytes:
    buffer = io.BytesIO()
    draw_audiogram("normal", np.random.default_rng(seed)).save(buffer, format="PNG")
    return buffer.getvalue()


def _kept(root, data: bytes) -> str:
    path = ArtifactsLayout(root).stored_input(hashlib.sha256(data).hexdigest(), ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_reviewed_cases_export_as_a_manifest_the_dataset_reader_loads(audit, tmp_path):
    inputs = [_audiogram(seed) for seed in range(3)]
    rows = {}
    for index, data in enumerate(inputs):
        digest = hashlib.sha256(data).hexdigest()
        fields = {**FIELDS, "content_sha256": digest, "uncertain": True, "input_path": _kept(tmp_path, data)}
        rows[index] = audit.record(**fields, case_ref="P-1" if index < 2 else None)
    audit.record(**{**FIELDS, "uncertain": True}, case_ref="not kept")
    audit.add_feedback(rows[0], verdict="confirmed", correct_label="sick")
    audit.add_feedback(rows[1], verdict="overridden", correct_label="well", comment="=1+1")
    audit.add_feedback(rows[2], verdict="confirmed", correct_label="well")
    audit.add_feedback(rows[2], verdict="confirmed", correct_label="sick")  # the latest review counts
    first = {"content_sha256": hashlib.sha256(inputs[0]).hexdigest(), "input_path": _kept(tmp_path, inputs[0])}
    again = audit.record(**{**FIELDS, **first, "uncertain": True})
    audit.add_feedback(again, verdict="confirmed", correct_label="well")  # the same file reviewed again: once, latest
    text = audit.reviewed_manifest(modality="image")
    assert text.splitlines()[0] == "path,label,group"
    assert audit.reviewed_manifest(modality="sound").splitlines() == ["path,label,group"]
    manifest = tmp_path / "reviewed.csv"  # saved in ARTIFACTS_DIR, as the page says
    manifest.write_text(text)
    dataset = load_dataset([manifest])
    found = {item.path.name: (item.label, item.group) for item in dataset.items}
    digests = [hashlib.sha256(data).hexdigest() for data in inputs]
    assert found == {
        f"{digests[0]}.png": ("well", digests[0]),
        f"{digests[1]}.png": ("well", "P-1"),
        f"{digests[2]}.png": ("sick", digests[2]),
    }
    assert not dataset.skipped and dataset.modality == "image"


def test_a_manifest_keeps_class_names_exact_and_makes_free_text_safe(audit, tmp_path):
    data = _audiogram(7)
    digest = hashlib.sha256(data).hexdigest()
    fields = {**FIELDS, "predicted": "+ve", "probabilities": {"+ve": 0.6, "-ve": 0.4}, "uncertain": True}
    fields |= {"content_sha256": digest, "input_path": _kept(tmp_path, data), "case_ref": "=HYPERLINK(1)"}
    case = audit.record(**fields)
    audit.add_feedback(case, verdict="overridden", correct_label="-ve")
    rows = audit.reviewed_manifest(modality="image").splitlines()
    assert rows[1] == f"inputs/{digest}.png,-ve,'=HYPERLINK(1)"  # "-ve" is the class; the case reference is text


def test_a_review_given_without_reading_one_added_meanwhile_is_refused(audit):
    case = audit.record(**{**FIELDS, "uncertain": True})
    audit.add_feedback(case, verdict="confirmed", correct_label="well", user="ana", reviews_seen=0)
    with pytest.raises(Conflict, match="ana signed this case off as well while it was open"):
        audit.add_feedback(case, verdict="confirmed", correct_label="sick", user="ben", reviews_seen=0)
    audit.add_feedback(case, verdict="confirmed", correct_label="sick", user="ben", reviews_seen=1)  # once read
    assert [(r["user"], r["correct_label"]) for r in audit.get(case)["reviews"]] == [("ana", "well"), ("ben", "sick")]


def test_a_labelled_refusal_is_not_exported_for_training(audit, tmp_path):
    """A refusal labelled when refusals were still on the worklist (an older version) stays out of the manifest."""
    data = _audiogram(11)
    digest = hashlib.sha256(data).hexdigest()
    case = audit.record(**_refusal(content_sha256=digest, input_path=_kept(tmp_path, data)), case_ref="blank")
    with Session(audit.engine) as session, session.begin():
        when = datetime.now(UTC)
        session.add(FeedbackRecord(prediction_id=case, created_at=when, verdict="overridden", correct_label="well"))
    assert audit.reviewed_manifest(modality="image").splitlines() == ["path,label,group"]
