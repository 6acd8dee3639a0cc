from datetime import UTC, datetime

from core.store.stamps import new_run_id, utc_now


def test_run_ids_sort_by_time_and_are_safe_folder_names():
    early = new_run_id("Throat photos/v2", now=datetime(2026, 1, 2, tzinfo=UTC))
    late = new_run_id("a", now=datetime(2026, 3, 1, tzinfo=UTC))
    assert early < late
    assert early.startswith("20260102-000000-throat-photos-v2-") and "/" not in early


def test_time_stamps_are_utc_to_the_second():
    stamp = utc_now()
    assert stamp.endswith("+00:00") and datetime.fromisoformat(stamp).microsecond == 0
