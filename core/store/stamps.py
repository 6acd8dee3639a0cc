"""Time stamps and run ids, as every artifact writes them: UTC, to the second, sortable."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utc_now() -> str:
    """Now in UTC as ISO 8601 to the second, e.g. `2026-11-21T04:15:30+00:00`."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(name: str, *, now: datetime | None = None) -> str:
    """Sortable, unique and readable: `20261121-041530-throat-photos-3fa2`.

    Args:
        name: The dataset name; anything but letters, digits, `-` and `_` becomes `-`.
        now: The time to stamp (default: now, UTC).
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower()).strip("-") or "run"
    return f"{stamp}-{slug[:40]}-{secrets.token_hex(2)}"
