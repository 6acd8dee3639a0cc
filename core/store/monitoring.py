"""How each served model fares in the clinic, read from the audit log: volume, referrals, reviews, agreement.

Read-only: nothing here writes. The analysts' dashboard shows these figures
beside the test figures a model was promoted on, so a drift (more referrals,
more overrides, less agreement with the reviewers) is seen per model and over
time.

The counting definitions, per served model (run and model) and period:

- referral rate: uncertain predictions (referred for review) among all;
- out-of-distribution rate: predictions flagged out of distribution among all;
- override rate: predictions whose latest review is an override, among the
  reviewed ones;
- agreement: predictions whose latest reviewed label is the class shown,
  among the reviewed ones that showed a class (a withheld class agrees with
  nothing), with a 95% Wilson interval.

Uploads refused by the quality gates are recorded in the audit log but got
no prediction; they are not counted here.

SQL filters the rows and picks the columns (and the latest review of each
prediction); the rows are grouped by period in Python, because the periods
are days (or weeks) in the deployment's display zone, and SQLite and
PostgreSQL share no function that truncates a time to a local day.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from core.evaluation.metrics import wilson_interval
from core.store.audit_log import FeedbackRecord, PredictionRecord
from core.store.database import unavailable_on_error

WEEKLY_AFTER_DAYS = 92  # a longer span is shown per week: daily points would be too many, and too noisy
COUNTS = ("predictions", "referred", "out_of_distribution", "reviewed", "overridden", "judged", "agreed")
RATES = ("referral_rate", "ood_rate", "override_rate", "agreement", "agreement_low", "agreement_high")
OUTCOME_COLUMNS = ("run_id", "model", "created_at", "uncertain", "ood", "predicted", "verdict", "correct_label")


def _utc_start(day: date, zone: str) -> datetime:
    """The moment `day` begins in `zone`, in UTC (the audit log's times are UTC)."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


class Monitoring:
    """Queries over the audit log's predictions and reviews; one per process, safe across threads.

    Args:
        engine: The database's engine (`core.store.database.open_database`).

    Raises:
        Unavailable: (from each query) the database failed the read.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def served_models(self) -> list[dict]:
        """Every (run, model) the log holds predictions of, latest used first, with its count and time span."""
        query = (
            select(
                PredictionRecord.run_id,
                PredictionRecord.model,
                func.count().label("predictions"),
                func.min(PredictionRecord.created_at).label("first"),
                func.max(PredictionRecord.created_at).label("last"),
            )
            .where(PredictionRecord.refused_reason.is_(None))
            .group_by(PredictionRecord.run_id, PredictionRecord.model)
            .order_by(func.max(PredictionRecord.created_at).desc(), PredictionRecord.run_id, PredictionRecord.model)
        )
        with _reading(), Session(self.engine) as session:
            return [row._asdict() for row in session.execute(query)]

    def outcomes(
        self,
        *,
        run_id: str | None = None,
        model: str | None = None,
        start: date | None = None,
        end: date | None = None,
        zone: str = "UTC",
    ) -> pd.DataFrame:
        """One row per prediction (columns `OUTCOME_COLUMNS`), with its latest review, filtered in SQL.

        Args:
            run_id, model: Only this served model's predictions (each optional).
            start, end: First and last day included, as days in `zone`.
            zone: The IANA zone the days are counted in (`Settings.display_timezone`).
        """
        query = _outcome_query()
        if run_id:
            query = query.where(PredictionRecord.run_id == run_id)
        if model:
            query = query.where(PredictionRecord.model == model)
        if start:
            query = query.where(PredictionRecord.created_at >= _utc_start(start, zone))
        if end:
            query = query.where(PredictionRecord.created_at < _utc_start(end + timedelta(days=1), zone))
        with _reading(), Session(self.engine) as session:
            rows = session.execute(query).all()
        return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))


def _reading() -> AbstractContextManager[None]:
    """A failure of the database while reading becomes `Unavailable` (503), which the page shows in words."""
    return unavailable_on_error("the audit log could not be read")


def _outcome_query() -> Select:
    """The columns monitoring counts, each prediction joined to its latest review (none: NULLs)."""
    latest = (
        select(FeedbackRecord.prediction_id, func.max(FeedbackRecord.id).label("id"))
        .group_by(FeedbackRecord.prediction_id)
        .subquery()
    )
    return (
        select(
            PredictionRecord.run_id,
            PredictionRecord.model,
            PredictionRecord.created_at,
            PredictionRecord.uncertain,
            PredictionRecord.out_of_distribution,
            PredictionRecord.predicted,
            FeedbackRecord.verdict,
            FeedbackRecord.correct_label,
        )
        .outerjoin(latest, latest.c.prediction_id == PredictionRecord.id)
        .outerjoin(FeedbackRecord, FeedbackRecord.id == latest.c.id)
        .where(PredictionRecord.refused_reason.is_(None))
        .order_by(PredictionRecord.created_at)
    )


def _flags(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per prediction, 0/1 for each count of `COUNTS`: what the rates are made of."""
    reviewed = outcomes["verdict"].notna()
    shown = outcomes["predicted"].fillna("") != ""
    judged = reviewed & shown
    return pd.DataFrame(
        {
            "predictions": 1,
            "referred": outcomes["uncertain"].astype(bool),
            "out_of_distribution": outcomes["ood"].fillna(False).astype(bool),
            "reviewed": reviewed,
            "overridden": outcomes["verdict"] == "overridden",
            "judged": judged,
            "agreed": judged & (outcomes["correct_label"] == outcomes["predicted"]),
        },
        index=outcomes.index,
    ).astype(int)


def _with_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """`counts` with the rates of `RATES` added; a rate with nothing to count is NaN, not 0."""

    def ratio(part: str, whole: str) -> pd.Series:
        return counts[part] / counts[whole].where(counts[whole] > 0)

    pairs = zip(counts["agreed"], counts["judged"], strict=True)
    bounds = np.array([wilson_interval(a, n) for a, n in pairs], dtype=float).reshape(-1, 2)
    return counts.assign(
        referral_rate=ratio("referred", "predictions"),
        ood_rate=ratio("out_of_distribution", "predictions"),
        override_rate=ratio("overridden", "reviewed"),
        agreement=ratio("agreed", "judged"),
        agreement_low=bounds[:, 0],
        agreement_high=bounds[:, 1],
    )


def _tally(outcomes: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The counts of `COUNTS` and the rates of `RATES` per group of `keys` (empty frame with those columns if none)."""
    if outcomes.empty:
        return pd.DataFrame(columns=[*keys, *COUNTS, *RATES])
    flags = _flags(outcomes)
    counts = flags.groupby([outcomes[k] for k in keys], sort=True).sum().reset_index()
    return _with_rates(counts)


def period_for(outcomes: pd.DataFrame) -> str:
    """'week' when the predictions span more than `WEEKLY_AFTER_DAYS` days, else 'day'."""
    if outcomes.empty:
        return "day"
    when = pd.to_datetime(outcomes["created_at"], utc=True)
    return "week" if (when.max() - when.min()) > pd.Timedelta(days=WEEKLY_AFTER_DAYS) else "day"


def timeline(outcomes: pd.DataFrame, *, zone: str, period: str | None = None) -> pd.DataFrame:
    """Counts and rates per served model and period: columns run_id, model, period (first day), `COUNTS`, `RATES`.

    Args:
        outcomes: Rows of `Monitoring.outcomes`.
        zone: The zone whose days (and Monday-to-Sunday weeks) the periods are.
        period: 'day' or 'week'; None chooses with `period_for`.
    """
    period = period or period_for(outcomes)
    if period not in ("day", "week"):
        raise ValueError(f"period must be 'day' or 'week', got {period!r}")
    local = pd.to_datetime(outcomes["created_at"], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
    starts = local.dt.to_period("D" if period == "day" else "W").dt.start_time.dt.date
    return _tally(outcomes.assign(period=starts), ["run_id", "model", "period"])


def summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Counts and rates per served model over all of `outcomes`: columns run_id, model, `COUNTS`, `RATES`."""
    return _tally(outcomes, ["run_id", "model"])
