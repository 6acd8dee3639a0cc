"""The audit log of every prediction and the clinician feedback on it, through SQLAlchemy.

The database is `core.store.database`'s (its schema comes from the Alembic
migrations there). Every write is one transaction: a failure leaves no
half-written row. Each prediction records the operating-point version,
threshold and review band it was decided with, and the logged-in user.
Feedback is append-only: a prediction keeps its review history, and the
latest review is the one shown.

The input itself is never stored, only its SHA-256, unless input storage is
switched on (then `input_path` names the stored copy).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from core.errors import InvalidInput, NotFound
from core.store.database import Base, describe, open_database, unavailable_on_error

VERDICTS = ("confirmed", "overridden")
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
    "warnings",
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
    """One prediction, as it was shown."""

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
    operating_point_version: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float)
    review_band: Mapped[list | None] = mapped_column(JSON)
    user: Mapped[str | None] = mapped_column(String(200))
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
        predicted: str,
        probabilities: dict[str, float],
        uncertain: bool,
        warnings: list[str],
        case_ref: str | None = None,
        filename: str | None = None,
        input_path: str | None = None,
        operating_point_version: int | None = None,
        threshold: float | None = None,
        review_band: list[float] | None = None,
        user: str | None = None,
    ) -> str:
        """Store one prediction, with the operating point that decided it, in one transaction; return its id.

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
            predicted=predicted,
            probabilities=probabilities,
            uncertain=uncertain,
            warnings=list(warnings),
            operating_point_version=operating_point_version,
            threshold=threshold,
            review_band=None if review_band is None else list(review_band),
            user=user,
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
    ) -> dict:
        """Attach a clinician's verdict to a prediction.

        Raises:
            NotFound: unknown prediction.
            InvalidInput: unknown verdict, or an override without a label.
        """
        with Session(self.engine) as session, session.begin():
            prediction = session.get(PredictionRecord, prediction_id)
            if prediction is None:  # first: an unknown id is the error to fix, whatever else is wrong
                raise NotFound(f"no prediction with id {prediction_id!r}")
            if verdict not in VERDICTS:
                raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
            if verdict == "overridden" and not correct_label:
                raise InvalidInput("an override needs the correct label")
            label = correct_label if verdict == "overridden" else prediction.predicted
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
        with Session(self.engine) as session:
            record = session.get(PredictionRecord, prediction_id, options=[selectinload(PredictionRecord.feedback)])
            return None if record is None else {**_row(record), "reviews": [_review(f) for f in record.feedback]}

    def recent(
        self,
        *,
        limit: int = 200,
        model: str | None = None,
        case_ref: str | None = None,
        uncertain: bool | None = None,
        feedback: str | None = None,
    ) -> list[dict]:
        """Newest predictions first, filtered; `feedback` is 'confirmed', 'overridden' or 'none'."""
        query = (
            select(PredictionRecord)
            .options(selectinload(PredictionRecord.feedback))
            .order_by(PredictionRecord.created_at.desc())
        )
        if model:
            query = query.where(PredictionRecord.model == model)
        if case_ref:
            query = query.where(PredictionRecord.case_ref.contains(case_ref))
        if uncertain is not None:
            query = query.where(PredictionRecord.uncertain == uncertain)
        with Session(self.engine) as session:
            rows = [_row(r) for r in session.scalars(query.limit(limit if feedback is None else None))]
        if feedback is not None:
            rows = [r for r in rows if (r["feedback"] or "none") == feedback][:limit]
        return rows

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(PredictionRecord)))

    @staticmethod
    def to_csv(rows: list[dict]) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            warnings = " | ".join(row["warnings"])
            band = "" if row["review_band"] is None else "-".join(f"{edge:g}" for edge in row["review_band"])
            compact = _compact(row["probabilities"])
            writer.writerow({**row, "probabilities": compact, "warnings": warnings, "review_band": band})
        return buffer.getvalue()


def _compact(probabilities: dict[str, float]) -> str:
    return "; ".join(f"{k}={v:.4f}" for k, v in probabilities.items())


def _row(record: PredictionRecord) -> dict[str, Any]:
    latest = record.feedback[-1] if record.feedback else None
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "case_ref": record.case_ref,
        "filename": record.filename,
        "modality": record.modality,
        "content_sha256": record.content_sha256,
        "input_path": record.input_path,
        "run_id": record.run_id,
        "model": record.model,
        "predicted": record.predicted,
        "probabilities": record.probabilities,
        "uncertain": record.uncertain,
        "warnings": record.warnings,
        "operating_point_version": record.operating_point_version,
        "threshold": record.threshold,
        "review_band": record.review_band,
        "user": record.user,
        "feedback": latest.verdict if latest else None,
        "correct_label": latest.correct_label if latest else None,
        "feedback_comment": latest.comment if latest else None,
        "feedback_user": latest.user if latest else None,
        "feedback_at": latest.created_at.isoformat(timespec="seconds") if latest else None,
    }


def _review(feedback: FeedbackRecord) -> dict[str, Any]:
    return {
        "verdict": feedback.verdict,
        "correct_label": feedback.correct_label,
        "comment": feedback.comment,
        "user": feedback.user,
        "created_at": feedback.created_at.isoformat(timespec="seconds"),
    }
