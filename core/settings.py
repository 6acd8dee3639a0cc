"""Process-wide settings, read once from the environment.

Every component takes a `Settings` (or the values it needs) as an argument;
nothing else in the project reads `os.environ`. The README lists every
variable with its default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from core.errors import CoreError

TRUE = {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CoreError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise CoreError(f"{name} must be positive, got {raw!r}")
    return value


def _users(raw: str) -> dict[str, str]:
    """`alice:<hash>,bob:<hash>` (Werkzeug password hashes) as {user: hash}."""
    users = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, hashed = entry.partition(":")
        if not sep or not name or not hashed:
            raise CoreError("AUTH_USERS entries must look like user:password-hash, separated by commas")
        users[name] = hashed
    return users


@dataclass(frozen=True)
class Settings:
    """Deployment settings.

    Attributes:
        artifacts_dir: Runs, `training_metrics.csv`, the registry and (by
            default) the audit database (`ARTIFACTS_DIR`, default `artifacts`).
        demo_data_dir: Where `python -m core demo` writes synthetic data
            (`DEMO_DATA_DIR`, default `demo_data`).
        log_level: Python logging level name (`LOG_LEVEL`, default `INFO`).
        database_url: SQLAlchemy URL of the audit log (`DATABASE_URL`; default
            SQLite at `ARTIFACTS_DIR/audit.db`; `postgres://` is accepted).
        users: Login names and Werkzeug password hashes (`AUTH_USERS`,
            `user:hash,user2:hash`); empty means the apps run open.
        max_upload_mb: Largest accepted upload per file (`MAX_UPLOAD_MB`, default 20).
        max_audio_seconds: Longest accepted recording (`MAX_AUDIO_SECONDS`, default 900).
        max_image_megapixels: Largest accepted image (`MAX_IMAGE_MEGAPIXELS`, default 40).
        store_inputs: Keep uploaded files under `ARTIFACTS_DIR/inputs`
            (`STORE_INPUTS`, default off: only a content hash is kept).
    """

    artifacts_dir: Path = Path("artifacts")
    demo_data_dir: Path = Path("demo_data")
    log_level: str = "INFO"
    database_url: str | None = None
    users: dict[str, str] = field(default_factory=dict)
    max_upload_mb: float = 20.0
    max_audio_seconds: float = 900.0
    max_image_megapixels: float = 40.0
    store_inputs: bool = False

    @property
    def audit_database_url(self) -> str:
        """DATABASE_URL for SQLAlchemy; the PaaS's `postgres://` form is sent to the installed psycopg 3 driver."""
        url = self.database_url or f"sqlite:///{(Path(self.artifacts_dir) / 'audit.db').resolve()}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            artifacts_dir=Path(env.get("ARTIFACTS_DIR", "artifacts")),
            demo_data_dir=Path(env.get("DEMO_DATA_DIR", "demo_data")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            database_url=env.get("DATABASE_URL") or None,
            users=_users(env.get("AUTH_USERS", "")),
            max_upload_mb=_number(env, "MAX_UPLOAD_MB", 20.0),
            max_audio_seconds=_number(env, "MAX_AUDIO_SECONDS", 900.0),
            max_image_megapixels=_number(env, "MAX_IMAGE_MEGAPIXELS", 40.0),
            store_inputs=env.get("STORE_INPUTS", "").strip().lower() in TRUE,
        )
