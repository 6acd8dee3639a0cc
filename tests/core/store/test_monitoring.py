"""Monitoring figures over a real audit log (SQLite; PostgreSQL too when a throw-away server can be started)."""

import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from core.errors import Unavailable
from core.evaluation.metrics import wilson_interval
from core.settings import Settings
from core.store import monitoring
from core.store.audit_log import AuditLog, PredictionRecord
from core.store.monitoring import Monitoring
from tests.support.postgres import postgres_cluster

Z = 1.959963984540054  # the normal quantile of a two-sided 95% interval
FIELDS = dict(
    modality="sound",
    content_sha256="ab" * 32,
    run_id="20260301-080000-heart-sounds-a1b2",
    model="custom_cnn",
    predicted="murmur",
    probabilities={"murmur": 0.8, "normal": 0.2},
    uncertain=False,
    warnings=[],
    out_of_distribution=False,
)
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def record_at(log: AuditLog, when: datetime, **changes) -> str:
    """Record a prediction as the service does, then date it `when` (the log stamps the current time)."""
    prediction_id = log.record(**{**FIELDS, **changes})
    with Session(log.engine) as session, session.begin():
        session.execute(update(PredictionRecord).where(PredictionRecord.id == prediction_id).values(created_at=when))
    return prediction_id


def clinic(log: AuditLog) -> None:
    """Two days of custom_cnn and one prediction of vgg16, reviewed as a clinic would.

    custom_cnn, 6 predictions: 1 referred (uncertain), 1 out of distribution
    (class withheld), 5 reviewed, 2 overridden at their latest review, 4
    reviewed with a class shown, of which 2 agree with the reviewer.
    """
    agreed = record_at(log, MONDAY)
    log.add_feedback(agreed, verdict="confirmed")
    referred = record_at(log, MONDAY, uncertain=True)
    log.add_feedback(referred, verdict="confirmed", correct_label="normal")  # confirmed, but not the class shown
    changed_mind = record_at(log, MONDAY)
    log.add_feedback(changed_mind, verdict="overridden", correct_label="normal")
    log.add_feedback(changed_mind, verdict="confirmed")  # the latest review counts: agrees, not overridden
    withheld = record_at(log, MONDAY, predicted=None, out_of_distribution=True)
    log.add_feedback(withheld, verdict="overridden", correct_label="normal")
    record_at(log, MONDAY.replace(day=3))  # not reviewed
    overridden = record_at(log, MONDAY.replace(day=3, hour=23, minute=30))  # Wednesday 00:30 in Paris
    log.add_feedback(overridden, verdict="overridden", correct_label="normal")
    other = record_at(log, MONDAY, run_id="20260220-090000-heart-sounds-c3d4", model="vgg16")
    log.add_feedback(other, verdict="confirmed")
    refused = dict(predicted=None, probabilities={}, refused_reason="recording is silent")
    record_at(log, MONDAY, **refused)  # refused by the quality gates: no prediction was made, so not counted


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score interval by its formula, to check the library's against."""
    p = successes / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


@pytest.fixture
def log(tmp_path) -> AuditLog:
    return AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")


def test_wilson_interval_matches_its_formula_and_stays_inside_0_1():
    assert wilson_interval(2, 4) == pytest.approx(wilson(2, 4))
    assert wilson(2, 4) == pytest.approx((0.150, 0.850), abs=1e-3)  # the textbook example: 2 of 4
    assert wilson_interval(9, 10) == pytest.approx(wilson(9, 10))
    low, high = wilson_interval(0, 5)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(wilson(0, 5)[1])
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_an_empty_log_gives_empty_tables_with_their_columns(log):
    watch = Monitoring(log.engine)
    assert watch.served_models() == []
    outcomes = watch.outcomes()
    assert outcomes.empty and list(outcomes.columns) == list(monitoring.OUTCOME_COLUMNS)
    assert monitoring.summary(outcomes).empty and monitoring.period_for(outcomes) == "day"
    timeline = monitoring.timeline(outcomes, zone="UTC")
    assert timeline.empty and {"period", "agreement_low", "predictions"} <= set(timeline.columns)


def exercise(log: AuditLog) -> None:
    """What every database must give; shared by the SQLite and PostgreSQL tests."""
    clinic(log)
    watch = Monitoring(log.engine)
    served = watch.served_models()
    assert [(s["model"], s["predictions"]) for s in served] == [("custom_cnn", 6), ("vgg16", 1)]  # latest used first
    totals = monitoring.summary(watch.outcomes()).set_index("model")
    cnn = totals.loc["custom_cnn"]
    counts = [int(cnn[c]) for c in monitoring.COUNTS]
    assert counts == [6, 1, 1, 5, 2, 4, 2]  # predictions, referred, ood, reviewed, overridden, judged, agreed
    assert (cnn["referral_rate"], cnn["ood_rate"], cnn["override_rate"], cnn["agreement"]) == pytest.approx(
        (1 / 6, 1 / 6, 2 / 5, 2 / 4)
    )
    assert (cnn["agreement_low"], cnn["agreement_high"]) == pytest.approx(wilson(2, 4))
    vgg = totals.loc["vgg16"]
    assert (vgg["agreement"], vgg["override_rate"], vgg["referral_rate"]) == (1.0, 0.0, 0.0)

    only_cnn = watch.outcomes(run_id=FIELDS["run_id"], model="custom_cnn")
    utc = monitoring.timeline(only_cnn, zone="UTC").set_index("period")
    assert utc["predictions"].to_dict() == {date(2026, 3, 2): 4, date(2026, 3, 3): 2}
    assert utc["override_rate"].to_dict() == {date(2026, 3, 2): 0.25, date(2026, 3, 3): 1.0}
    paris = monitoring.timeline(only_cnn, zone="Europe/Paris").set_index("period")
    assert paris["predictions"].to_dict() == {date(2026, 3, 2): 4, date(2026, 3, 3): 1, date(2026, 3, 4): 1}
    assert math.isnan(paris.loc[date(2026, 3, 3), "agreement"])  # nothing reviewed that day: no rate, not 0

    tuesday = date(2026, 3, 3)
    assert len(watch.outcomes(start=tuesday, end=tuesday, zone="UTC")) == 2
    assert len(watch.outcomes(start=tuesday, end=tuesday, zone="Europe/Paris")) == 1  # 23:30 UTC is Wednesday there
    assert len(watch.outcomes(start=date(2026, 3, 4), zone="Europe/Paris")) == 1
    assert len(watch.outcomes(end=date(2026, 3, 2), zone="UTC")) == 5


def test_rates_and_interval_per_model_and_per_day_in_the_display_zone(log):
    exercise(log)


def test_a_long_span_is_counted_per_week_from_monday(log):
    record_at(log, datetime(2026, 1, 7, 9, tzinfo=UTC))  # a Wednesday
    record_at(log, datetime(2026, 1, 11, 9, tzinfo=UTC))  # the Sunday of the same week
    record_at(log, datetime(2026, 6, 1, 9, tzinfo=UTC))  # a Monday, more than 92 days later
    outcomes = Monitoring(log.engine).outcomes()
    assert monitoring.period_for(outcomes) == "week"
    weekly = monitoring.timeline(outcomes, zone="UTC")
    assert dict(zip(weekly["period"], weekly["predictions"], strict=True)) == {date(2026, 1, 5): 2, date(2026, 6, 1): 1}
    assert len(monitoring.timeline(outcomes, zone="UTC", period="day")) == 3
    with pytest.raises(ValueError, match="period"):
        monitoring.timeline(outcomes, zone="UTC", period="month")


def test_outcomes_read_the_latest_review_of_each_prediction(log):
    first = record_at(log, MONDAY)
    for verdict, label in (("confirmed", None), ("overridden", "normal"), ("confirmed", None)):
        log.add_feedback(first, verdict=verdict, correct_label=label)
    outcomes = Monitoring(log.engine).outcomes()
    assert isinstance(outcomes, pd.DataFrame) and len(outcomes) == 1  # one row per prediction, whatever its reviews
    assert outcomes.loc[0, ["verdict", "correct_label"]].tolist() == ["confirmed", "murmur"]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


def test_the_same_figures_on_postgresql(postgres_url):
    exercise(AuditLog(Settings(database_url=postgres_url).audit_database_url))


def test_a_database_that_fails_the_read_is_reported_as_unavailable(log):
    with log.engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
    with pytest.raises(Unavailable, match="the audit log could not be read"):
        Monitoring(log.engine).outcomes()
