"""Times as a person reads them: in the deployment's zone (`DISPLAY_TIMEZONE`), with the zone named.

The database and the API keep UTC ISO strings; only what a person reads on a
page or a filed report is converted, here, so every screen agrees.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime | str | None, zone: str) -> str:
    """`moment` in `zone` as `2026-11-22 10:03 CET`; naive times are taken as UTC, None gives ''."""
    if moment is None or moment == "":
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
