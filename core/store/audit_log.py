"""The audit log of every prediction and the clinician feedback on it, through SQLAlchemy.

The database is `core.store.database`'s (its schema comes from the Alembic
migrations there). Every write is one transaction: a failure leaves no
half-written row. Each prediction records the operating-point version,
threshold and review band it was decided with, and the logged-in user.
Feedback is append-only: a prediction keeps its review history, and the
latest review is the one shown.

The input itself is never stored, only its SHA-256, unless input storage is
switched on (then `input_path` names the stored copy; it is shown relative
to ARTIFACTS_DIR, never as a server path).

An upload refused by the quality gates is recorded too, with its
`refused_reason` and no class (`Filters.refused` lists them). It is never a
case for the review worklist (`awaiting_review`) and takes no review: there
is no model answer to judge, the person who uploaded it was told why and to
send a better input, and a label on a blank or silent input could never
become training data. Reviewed cases with kept inputs export as a training
manifest (`reviewed_manifest`).
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Select,
    String,
    Text,
    and_,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload
from sqlalchemy.sql.elements import ColumnElement

from core.errors import Conflict, InvalidInput, NotFound
from core.store.database import Base, describe, open_database, unavailable_on_error

VERDICTS = ("confirmed", "overridden")
REVIEW_REASONS = ("uncertain", "out_of_distribution")
MANIFEST_COLUMNS = ("path", "label", "group")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "created_at",
    "case_ref",
    "filename",
    "modality",
    "content_sha256",
    "run_id",
    "model",
    "predicted",
    "probabilities",
    "uncertain",
    "refused_reason",
    "warnings",
    "out_of_distribution",
    "ood_score",
    "operating_point_version",
    "threshold",
    "review_band",
    "user",
    "feedback",
    "correct_label",
    "feedback_comment",
    "feedback_user",
    "feedback_at",
)


class PredictionRecord(Base):
    """One prediction, as it was shown: `predicted` is empty when the class was withheld or the upload refused."""

    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    filename: Mapped[str | None] = mapped_column(String(500))
    modality: Mapped[str] = mapped_column(String(10))
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    input_path: Mapped[str | None] = mapped_column(String(1000))
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    model: Mapped[str] = mapped_column(String(100), index=True)
    predicted: Mapped[str] = mapped_column(String(200))
    probabilities: Mapped[dict] = mapped_column(JSON)
    uncertain: Mapped[bool] = mapped_column(Boolean, index=True)
    warnings: Mapped[list] = mapped_column(JSON)
    out_of_distribution: Mapped[bool | None] = mapped_column(Boolean, index=True)
    ood_score: Mapped[float | None] = mapped_column(Float)
    operating_point_version: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float)
    review_band: Mapped[list | None] = mapped_column(JSON)
    user: Mapped[str | None] = mapped_column(String(200))
    refused_reason: Mapped[str | None] = mapped_column(String(500))
    classes: Mapped[list | None] = mapped_column(JSON)
    feedback: Mapped[list[FeedbackRecord]] = relationship(back_populates="prediction", order_by="FeedbackRecord.id")


class FeedbackRecord(Base):
    """A clinician's verdict on a prediction; rows are only added, and the latest one counts."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prediction_id: Mapped[str] = mapped_column(ForeignKey("predictions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    verdict: Mapped[str] = mapped_column(String(20))
    correct_label: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(200))
    prediction: Mapped[PredictionRecord] = relationship(back_populates="feedback")


def _now() -> datetime:
    return datetime.now(UTC)


READ_FAILED = "the audit log could not be read"


def _check_unchanged(session: Session, prediction_id: str, reviews_seen: int) -> None:
    """Refuse a review given without reading those added since the case was opened (two specialists, one case)."""
    reviews = session.scalars(
        select(FeedbackRecord).where(FeedbackRecord.prediction_id == prediction_id).order_by(FeedbackRecord.id)
    ).all()
    if len(reviews) > reviews_seen:
        latest = reviews[-1]
        who, when = latest.user or "another reviewer", latest.created_at.isoformat(timespec="seconds")
        raise Conflict(
            f"{who} signed this case off as {latest.correct_label} while it was open ({when}); "
            "read their review, then sign off again if you disagree"
        )


def _check_verdict(prediction: PredictionRecord, verdict: str, correct_label: str | None) -> None:
    """The one rule for a review, from the page or the API: what a reviewer confirms or corrects is a class.

    - an override names one of the model's classes, other than the one called;
    - a confirmation of an uncertain result names the class confirmed (the
      model did not decide); a withheld class cannot be confirmed at all;
    - an upload refused for quality takes no review: the model gave no answer.

    Raises:
        InvalidInput: with what to send instead.
    """
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if prediction.refused_reason:
        raise InvalidInput(
            f"this upload was refused for quality ({prediction.refused_reason}), so there is no model answer "
            "to review; upload a better input for a new prediction"
        )
    classes = prediction.classes or list(prediction.probabilities)  # rows before 0004 have no `classes`
    if correct_label is not None and correct_label not in classes:
        raise InvalidInput(f"correct_label must be one of the model's classes ({', '.join(classes)})")
    if verdict == "overridden":
        if not correct_label:
            raise InvalidInput("an override needs the correct label")
        if correct_label == prediction.predicted:
            raise InvalidInput(f"the model called {correct_label!r} already: confirm it instead of overriding")
    elif not prediction.predicted:
        raise InvalidInput("no class was given for this input, so there is none to confirm: override with the label")
    elif prediction.uncertain and not correct_label:
        raise InvalidInput("this result was uncertain: choose the class you confirm, then confirm")


@dataclass(frozen=True)
class Filters:
    """Which predictions a query selects; None leaves a filter unset. Each becomes SQL (`_filtered`).

    Attributes:
        model: Model names containing this text, in any case, literally (`%` and `_` are not wildcards).
        case_ref: Case references containing this text, literally.
        uncertain: The recorded `uncertain` flag.
        feedback: The latest verdict, 'confirmed' or 'overridden', or 'none' for rows without one.
        modality: 'image' or 'sound'.
        awaiting_review: True: the review worklist, rows with no review yet that are uncertain or out
            of distribution (an upload refused for quality has no model answer to review, so it is
            never one); False: every other row.
        reason: Why a row needs review, one of `REVIEW_REASONS` (see `_needs_review`).
        refused: True: only the uploads refused for quality; False: only the inputs the model answered.
    """

    model: str | None = None
    case_ref: str | None = None
    uncertain: bool | None = None
    feedback: str | None = None
    modality: str | None = None
    awaiting_review: bool | None = None
    reason: str | None = None
    refused: bool | None = None


EVERY_ROW = Filters()


class AuditLog:
    """Records predictions and feedback; one instance per process, safe across threads.

    Args:
        url: SQLAlchemy database URL.

    Raises:
        Unavailable: the database cannot be opened or upgraded.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = open_database(url)

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def write_problem(self) -> str | None:
        """Why a prediction could not be recorded now, or None: writes a probe row in a transaction rolled back.

        A database that answers reads may still refuse writes (read-only file
        or mount, revoked privileges, full disk); the health check asks this.
        """
        probe = PredictionRecord(
            id=uuid.uuid4().hex,
            created_at=_now(),
            modality="probe",
            content_sha256="",
            run_id="",
            model="",
            predicted="",
            probabilities={},
            uncertain=False,
            warnings=[],
        )
        try:
            with Session(self.engine) as session:
                session.add(probe)
                session.flush()
                session.rollback()
        except SQLAlchemyError as exc:
            return f"the audit database does not accept writes ({describe(exc)})"
        return None

    def record(
        self,
        *,
        modality: str,
        content_sha256: str,
        run_id: str,
        model: str,
        predicted: str | None,
        probabilities: dict[str, float],
        uncertain: bool,
        warnings: list[str],
        out_of_distribution: bool | None = None,
        ood_score: float | None = None,
        case_ref: str | None = None,
        filename: str | None = None,
        input_path: str | None = None,
        operating_point_version: int | None = None,
        threshold: float | None = None,
        review_band: list[float] | None = None,
        user: str | None = None,
        classes: list[str] | None = None,
        refused_reason: str | None = None,
    ) -> str:
        """Store one prediction, with the operating point that decided it, in one transaction; return its id.

        A refused upload is stored with its `refused_reason`, `predicted` None
        and empty `probabilities`; `classes` are the labels a reviewer may give.

        Raises:
            Unavailable: the row could not be written; the prediction must not be shown.
        """
        record_id = uuid.uuid4().hex
        record = PredictionRecord(
            id=record_id,
            created_at=_now(),
            case_ref=case_ref or None,
            filename=filename,
            modality=modality,
            content_sha256=content_sha256,
            input_path=input_path,
            run_id=run_id,
            model=model,
            predicted=predicted or "",
            probabilities=probabilities,
            uncertain=uncertain,
            warnings=list(warnings),
            out_of_distribution=out_of_distribution,
            ood_score=ood_score,
            operating_point_version=operating_point_version,
            threshold=threshold,
            review_band=None if review_band is None else list(review_band),
            user=user,
            classes=None if classes is None else list(classes),
            refused_reason=None if refused_reason is None else refused_reason[:500],
        )
        failed = unavailable_on_error("the prediction was not recorded, so it is not shown")
        with failed, Session(self.engine) as session, session.begin():
            session.add(record)
        return record_id

    def add_feedback(
        self,
        prediction_id: str,
        *,
        verdict: str,
        correct_label: str | None = None,
        comment: str | None = None,
        user: str | None = None,
        reviews_seen: int | None = None,
    ) -> dict:
        """Attach a clinician's verdict to a prediction.

        `reviews_seen`: how many reviews the reviewer saw when they opened the
        case; when others were added since, the reviewer has not read them, and
        nothing is recorded.

        Raises:
            NotFound: unknown prediction.
            Conflict: another review was added since the reviewer opened the case (`reviews_seen`).
            InvalidInput: unknown verdict; an override without a label, or with one that is not
                among the model's classes; a confirmation of a prediction whose class was withheld.
        """
        with Session(self.engine) as session, session.begin():
            # Locked (PostgreSQL) when the reviews seen are checked, so two sign-offs of one case take turns.
            prediction = session.get(PredictionRecord, prediction_id, with_for_update=reviews_seen is not None)
            if prediction is None:  # first: an unknown id is the error to fix, whatever else is wrong
                raise NotFound(f"no prediction with id {prediction_id!r}")
            _check_verdict(prediction, verdict, correct_label)
            if reviews_seen is not None:
                _check_unchanged(session, prediction_id, reviews_seen)
            label = correct_label if verdict == "overridden" or prediction.uncertain else prediction.predicted
            feedback = FeedbackRecord(
                prediction_id=prediction_id,
                created_at=_now(),
                verdict=verdict,
                correct_label=label,
                comment=comment or None,
                user=user,
            )
            session.add(feedback)
        return {"prediction_id": prediction_id, "verdict": verdict, "correct_label": label}

    def get(self, prediction_id: str) -> dict | None:
        """One prediction as `recent` shows it, plus `reviews`: every verdict on it, oldest first."""
        with unavailable_on_error(READ_FAILED), Session(self.engine) as session:
            record = session.get(PredictionRecord, prediction_id, options=[selectinload(PredictionRecord.feedback)])
            return None if record is None else {**_row(record), "reviews": [_review(f) for f in record.feedback]}

    def recent(self, *, where: Filters = EVERY_ROW, limit: int = 200, offset: int = 0) -> list[dict]:
        """The predictions `where` selects, `limit` rows from `offset`; filters and paging run in SQL.

        Newest first, except the review worklist (`awaiting_review=True`):
        oldest first, so the case waiting longest is seen first.
        """
        newest_first = (PredictionRecord.created_at.desc(), PredictionRecord.id)
        order = (PredictionRecord.created_at, PredictionRecord.id) if where.awaiting_review else newest_first
        query = _filtered(select(PredictionRecord), where).options(selectinload(PredictionRecord.feedback))
        with unavailable_on_error(READ_FAILED), Session(self.engine) as session:
            return [_row(r) for r in session.scalars(query.order_by(*order).limit(limit).offset(offset))]

    def count(self, *, where: Filters = EVERY_ROW) -> int:
        """How many predictions `where` selects (all of them by default), counted in SQL."""
        query = _filtered(select(func.count()).select_from(PredictionRecord), where)
        with unavailable_on_error(READ_FAILED), Session(self.engine) as session:
            return int(session.scalar(query))

    def reviewed_manifest(self, *, modality: str, model: str | None = None) -> str:
        """The reviewed cases whose input was kept, as a `path,label,group` CSV that `core.data.dataset` reads.

        `path` is relative to ARTIFACTS_DIR (`inputs/<sha256><suffix>`), as a
        manifest's paths are relative to its own folder: saved in ARTIFACTS_DIR,
        it trains with `python -m core train --data ARTIFACTS_DIR/<name>.csv`.
        `label` is the latest review's class; `group` the case reference, else
        the content hash, so one patient's inputs stay on one side of a split.
        An input reviewed in several predictions appears once, with its latest review.
        Inputs the quality gates refused (blank, silent, too short) are left out even when labelled:
        no served model ever judges them, and a blank chart or a silent recording labelled "normal"
        would teach a model that nothing is normal.
        """
        query = _filtered(select(PredictionRecord), Filters(modality=modality, model=model))
        query = query.where(
            PredictionRecord.feedback.any(),
            PredictionRecord.input_path.is_not(None),
            PredictionRecord.refused_reason.is_(None),
        )
        with unavailable_on_error(READ_FAILED), Session(self.engine) as session:
            records = session.scalars(query.options(selectinload(PredictionRecord.feedback))).all()
            latest = {r.content_sha256: r for r in sorted(records, key=lambda r: r.feedback[-1].id)}
            rows = [
                (_in_store(r.input_path), r.feedback[-1].correct_label, r.case_ref or r.content_sha256)
                for r in latest.values()
                if r.feedback[-1].correct_label
            ]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        # Labels stay exact: they are the model's own classes (checked at review), and a changed one would be a
        # new class at training. The case reference is free text, so it is made safe to open in a spreadsheet.
        writer.writerows([[path, label, _spreadsheet_safe(group)] for path, label, group in sorted(rows)])
        return buffer.getvalue()

    @staticmethod
    def to_csv(rows: list[dict]) -> str:
        """`rows` as CSV, text cells safe to open in a spreadsheet (see `_spreadsheet_safe`)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            warnings = " | ".join(row["warnings"])
            band = "" if row["review_band"] is None else "-".join(f"{edge:g}" for edge in row["review_band"])
            compact = _compact(row["probabilities"])
            cells = {**row, "probabilities": compact, "warnings": warnings, "review_band": band}
            writer.writerow({name: _spreadsheet_safe(value) for name, value in cells.items()})
        return buffer.getvalue()


def _needs_review(reason: str) -> ColumnElement[bool]:
    """SQL: the row needs a person for this reason (an out-of-distribution row is also flagged uncertain)."""
    row = PredictionRecord
    if reason == "out_of_distribution":
        return row.out_of_distribution.is_(True)
    if reason == "uncertain":
        return and_(row.uncertain.is_(True), func.coalesce(row.out_of_distribution, false()).is_(False))
    raise InvalidInput(f"reason must be one of {', '.join(REVIEW_REASONS)}, got {reason!r}")


def _filtered(query: Select, chosen: Filters) -> Select:
    """`query` restricted to the rows `chosen` selects."""
    row = PredictionRecord
    conditions: list[ColumnElement[bool]] = []
    if chosen.model:
        conditions.append(row.model.icontains(chosen.model, autoescape=True))
    if chosen.case_ref:
        conditions.append(row.case_ref.contains(chosen.case_ref, autoescape=True))
    if chosen.uncertain is not None:
        conditions.append(row.uncertain == chosen.uncertain)
    if chosen.feedback is not None:
        conditions.append(_latest_verdict_is(chosen.feedback))
    if chosen.modality:
        conditions.append(row.modality == chosen.modality)
    if chosen.awaiting_review is not None:
        awaiting = and_(~row.feedback.any(), or_(*(_needs_review(reason) for reason in REVIEW_REASONS)))
        conditions.append(awaiting if chosen.awaiting_review else ~awaiting)
    if chosen.reason:
        conditions.append(_needs_review(chosen.reason))
    if chosen.refused is not None:
        conditions.append(row.refused_reason.is_not(None) if chosen.refused else row.refused_reason.is_(None))
    return query.where(*conditions)


def _latest_verdict_is(feedback: str) -> ColumnElement[bool]:
    """SQL: the prediction's latest review has this verdict ('none': it has no review)."""
    if feedback == "none":
        return ~PredictionRecord.feedback.any()
    latest = (
        select(FeedbackRecord.verdict)
        .where(FeedbackRecord.prediction_id == PredictionRecord.id)
        .order_by(FeedbackRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return latest == feedback


def _spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR first), prefixed with `'`.

    Numbers are left as they are, so a negative threshold stays a number;
    only text (file names, case references, comments, labels) is changed.
    """
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def _compact(probabilities: dict[str, float]) -> str:
    return "; ".join(f"{k}={v:.4f}" for k, v in probabilities.items())


def _in_store(path: str | None) -> str | None:
    """A stored input's path relative to ARTIFACTS_DIR (`inputs/<sha256><suffix>`): never a server path."""
    return None if path is None else PurePath(*PurePath(path).parts[-2:]).as_posix()


def _row(record: PredictionRecord) -> dict[str, Any]:
    latest = record.feedback[-1] if record.feedback else None
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "case_ref": record.case_ref,
        "filename": record.filename,
        "modality": record.modality,
        "content_sha256": record.content_sha256,
        "input_path": _in_store(record.input_path),
        "run_id": record.run_id,
        "model": record.model,
        "predicted": record.predicted or None,
        "probabilities": record.probabilities,
        "uncertain": record.uncertain,
        "warnings": record.warnings,
        "out_of_distribution": record.out_of_distribution,
        "ood_score": record.ood_score,
        "operating_point_version": record.operating_point_version,
        "threshold": record.threshold,
        "review_band": record.review_band,
        "user": record.user,
        "refused_reason": record.refused_reason,
        "classes": record.classes or list(record.probabilities),
        "review_reason": _review_reason(record),
        "feedback": latest.verdict if latest else None,
        "correct_label": latest.correct_label if latest else None,
        "feedback_comment": latest.comment if latest else None,
        "feedback_user": latest.user if latest else None,
        "feedback_at": latest.created_at.isoformat(timespec="seconds") if latest else None,
    }


def _review_reason(record: PredictionRecord) -> str | None:
    """Why the row needs a person's review (as `_needs_review` says in SQL), or None."""
    if record.refused_reason:
        return None
    if record.out_of_distribution:
        return "out_of_distribution"
    return "uncertain" if record.uncertain else None


def _review(feedback: FeedbackRecord) -> dict[str, Any]:
    return {
        "verdict": feedback.verdict,
        "correct_label": feedback.correct_label,
        "comment": feedback.comment,
        "user": feedback.user,
        "created_at": feedback.created_at.isoformat(timespec="seconds"),
    }
