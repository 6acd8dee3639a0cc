"""What is served, as rows of the database: the champion's history and each model's operating-point versions.

Every worker of every instance reads these rows on each request, so a
promotion or a saved operating point is served at once, with no restart.
Rows are only ever added:

- the champion is the latest `champions` row; a rollback adds a row that
  selects the previous champion again;
- a model's operating point in force is its latest version (1, 2, ...);
  with none, the run's own fitted operating point serves, as version 0.

This module knows the database only; `core.store.registry` checks a model
against the artifacts before anything is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Engine, Float, Integer, Select, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import InvalidInput, Unavailable
from core.store.database import Base

FITTED_VERSION = 0


class ChampionRecord(Base):
    """One promotion (or rollback): the model served from then on."""

    __tablename__ = "champions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    forced: Mapped[bool] = mapped_column(Boolean)
    user: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    files_sha256: Mapped[str | None] = mapped_column(String(64))  # `core.store.pins.files_digest`; None before 0005


class OperatingPointRecord(Base):
    """One version of a model's threshold and review band."""

    __tablename__ = "operating_points"
    __table_args__ = (UniqueConstraint("run_id", "model", "version", name="uq_operating_points_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float)
    review_low: Mapped[float] = mapped_column(Float)
    review_high: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class OperatingPoint:
    """The rule that turns a model's probabilities into a call.

    Attributes:
        version: 0 for the run's fitted point, else the saved version.
        threshold: Positive-class threshold for two classes; None otherwise.
        review_band: (low, high): probabilities inside it are referred for review.
    """

    version: int
    threshold: float | None
    review_band: tuple[float, float]

    @classmethod
    def fitted(cls, level: dict) -> OperatingPoint:
        """Version 0: the point fitted on validation, from a `report.json` level (its `operating_point`)."""
        point = level["operating_point"]
        low, high = point["review_band"]
        return cls(FITTED_VERSION, point["threshold"], (float(low), float(high)))

    def to_dict(self) -> dict:
        return {"version": self.version, "threshold": self.threshold, "review_band": list(self.review_band)}


def check_operating_point(threshold: float | None, review_band: tuple[float, float]) -> None:
    """Refuse a threshold or band outside [0, 1], or a reversed band.

    Raises:
        InvalidInput: with the value received.
    """
    low, high = review_band
    if not 0 <= low <= high <= 1:
        raise InvalidInput(f"review band must satisfy 0 <= low <= high <= 1, got {tuple(review_band)!r}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise InvalidInput(f"threshold must be in [0, 1], got {threshold!r}")


class ServingState:
    """The champion and the operating points, read and appended in single transactions; safe across threads.

    Args:
        engine: The database's engine (`AuditLog.engine`, or `core.store.database.open_database(url)`).
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def champion(self) -> dict | None:
        """The latest champion row, or None before any promotion."""
        with Session(self.engine) as session:
            latest = session.scalars(select(ChampionRecord).order_by(ChampionRecord.id.desc()).limit(1)).first()
            return None if latest is None else _champion(latest)

    def champion_history(self) -> list[dict]:
        """Every promotion and rollback, newest first."""
        with Session(self.engine) as session:
            return [_champion(r) for r in session.scalars(select(ChampionRecord).order_by(ChampionRecord.id.desc()))]

    def add_champion(
        self,
        run_id: str,
        model: str,
        *,
        reason: str,
        user: str | None,
        files_sha256: str | None,
        forced: bool = False,
    ) -> dict:
        """Append a champion row; the caller has checked the model and pinned its files (`core.store.registry`).

        Raises:
            InvalidInput: no reason given.
        """
        if not (reason or "").strip():
            raise InvalidInput("give a reason for the change of champion")
        record = ChampionRecord(
            run_id=run_id,
            model=model,
            reason=reason.strip(),
            forced=forced,
            user=user,
            created_at=_now(),
            files_sha256=files_sha256,
        )
        with Session(self.engine) as session, session.begin():
            session.add(record)
            session.flush()
            return _champion(record)

    def previous_champion(self) -> dict | None:
        """The latest champion that is not the current one, or None."""
        history = self.champion_history()
        current = history[0] if history else None
        return next((r for r in history if (r["run_id"], r["model"]) != (current["run_id"], current["model"])), None)

    def champion_entry(self, entry_id: int) -> dict | None:
        """One row of the champion history by its `id`, or None."""
        with Session(self.engine) as session:
            record = session.get(ChampionRecord, entry_id)
            return None if record is None else _champion(record)

    def operating_point(self, run_id: str, model: str) -> dict | None:
        """The model's latest saved version, or None when only its fitted point exists."""
        with Session(self.engine) as session:
            query = _versions(run_id, model).limit(1)
            latest = session.scalars(query).first()
            return None if latest is None else _point(latest)

    def in_force(self, run_id: str, model: str, fitted: OperatingPoint) -> OperatingPoint:
        """The one rule for what decides: the model's latest saved version, else its `fitted` point."""
        saved = self.operating_point(run_id, model)
        if saved is None:
            return fitted
        low, high = saved["review_band"]
        return OperatingPoint(saved["version"], saved["threshold"], (low, high))

    def operating_point_history(self, run_id: str, model: str) -> list[dict]:
        """Every saved version of the model's operating point, newest first."""
        with Session(self.engine) as session:
            return [_point(r) for r in session.scalars(_versions(run_id, model))]

    def save_operating_point(
        self,
        run_id: str,
        model: str,
        *,
        threshold: float | None,
        review_band: tuple[float, float],
        user: str | None,
        note: str | None = None,
    ) -> dict:
        """Append the model's next operating-point version and return it (its `version` included).

        Two writers racing for one version number: the unique constraint
        refuses the second, which takes the next number.

        Raises:
            InvalidInput: the threshold or band is outside [0, 1], or the band is reversed.
        """
        check_operating_point(threshold, review_band)
        for _attempt in range(3):
            try:
                return self._append_version(run_id, model, threshold, review_band, user, note)
            except IntegrityError:
                continue
        raise Unavailable(f"could not save an operating point for {run_id}/{model}: too many concurrent saves; retry")

    def _append_version(
        self,
        run_id: str,
        model: str,
        threshold: float | None,
        review_band: tuple[float, float],
        user: str | None,
        note: str | None,
    ) -> dict:
        with Session(self.engine) as session, session.begin():
            last = session.scalar(
                select(func.max(OperatingPointRecord.version)).where(
                    OperatingPointRecord.run_id == run_id, OperatingPointRecord.model == model
                )
            )
            low, high = review_band
            record = OperatingPointRecord(
                run_id=run_id,
                model=model,
                version=(last or FITTED_VERSION) + 1,
                threshold=threshold,
                review_low=float(low),
                review_high=float(high),
                note=(note or "").strip() or None,
                user=user,
                created_at=_now(),
            )
            session.add(record)
            session.flush()
            return _point(record)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    """UTC, with its offset, whether the database kept the time zone (PostgreSQL) or not (SQLite)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def _versions(run_id: str, model: str) -> Select:
    return (
        select(OperatingPointRecord)
        .where(OperatingPointRecord.run_id == run_id, OperatingPointRecord.model == model)
        .order_by(OperatingPointRecord.version.desc())
    )


def _champion(record: ChampionRecord) -> dict:
    return {
        "id": record.id,
        "run_id": record.run_id,
        "model": record.model,
        "reason": record.reason,
        "forced": record.forced,
        "user": record.user,
        "created_at": _iso(record.created_at),
        "files_sha256": record.files_sha256,
    }


def _point(record: OperatingPointRecord) -> dict:
    return {
        "run_id": record.run_id,
        "model": record.model,
        "version": record.version,
        "threshold": record.threshold,
        "review_band": [record.review_low, record.review_high],
        "note": record.note,
        "user": record.user,
        "created_at": _iso(record.created_at),
    }
