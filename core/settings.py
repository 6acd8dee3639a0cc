"""Process-wide settings, read once from the environment and validated there.

Every component takes a `Settings` (or the values it needs) as an argument;
nothing else in the project reads `os.environ`. The README lists every
variable with its default. A wrong value stops the process at start-up with
one line naming the variable and the value received (`core.errors.CoreError`),
never a pydantic dump.

`Settings(...)` takes explicit values only and never looks at the environment,
so tests and tools stay hermetic; `Settings.from_env()` is the one reader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import CoreError
from core.store import remote
from core.store.layout import ArtifactsLayout

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What each rule asks for, for the messages of pydantic's own checks (numbers, booleans).
_REQUIREMENTS = {
    "float_parsing": "a positive number",
    "finite_number": "a positive number",
    "greater_than": "a positive number",
    "bool_parsing": "true or false (1/0, yes/no, on/off)",
}
_SECRET_FIELDS = {"database_url", "users"}  # their values never appear in a message
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Settings(BaseSettings):
    """Deployment settings, immutable once read.

    Attributes:
        artifacts_dir: Runs, `training_metrics.csv`, the registry and (by
            default) the audit database (`ARTIFACTS_DIR`, default `artifacts`).
            Always a local folder: when ARTIFACTS_DIR is an object-storage URL
            (`s3://bucket/prefix`), the local mirror of its runs, under
            `artifacts_cache_dir` (`core.store.remote`).
        artifacts_store: The object-storage URL of ARTIFACTS_DIR, or None for a
            folder (derived from ARTIFACTS_DIR, not a variable of its own).
        artifacts_cache_dir: Where runs of an object-storage ARTIFACTS_DIR are
            mirrored (`ARTIFACTS_CACHE_DIR`, default `artifacts_cache`).
        demo_data_dir: Where `python -m core demo` writes synthetic data
            (`DEMO_DATA_DIR`, default `demo_data`).
        input_cache_dir: Where training caches preprocessed inputs, reused by
            later runs (`INPUT_CACHE_DIR`, default `input_cache`;
            `core.training.shards`); safe to delete, at the cost of preprocessing again.
        input_cache_max_gb: The input cache's bound in GB (`INPUT_CACHE_MAX_GB`,
            default 50): after a run writes inputs, the least recently used
            parameter folders are evicted until it fits (`core.training.cache_folders`).
        log_level: Python logging level name (`LOG_LEVEL`, default `INFO`;
            any case, stored upper-case).
        database_url: SQLAlchemy URL of the audit log (`DATABASE_URL`; default
            SQLite at `ARTIFACTS_DIR/audit.db`; `postgres://` is accepted).
        users: Login names and Werkzeug password hashes (`AUTH_USERS`,
            `user:hash,user2:hash`); empty means the apps run open.
        analysts: The users of `users` who may change what is served
            (`ANALYST_USERS`, `alice,bob`): promote, roll back, save an
            operating point. Empty: every logged-in user may, as before this
            setting (the apps log a warning when users log in but none is named).
        max_upload_mb: Largest accepted upload per file (`MAX_UPLOAD_MB`, default 20).
        max_audio_seconds: Longest accepted recording (`MAX_AUDIO_SECONDS`, default 900).
        max_image_megapixels: Largest accepted image (`MAX_IMAGE_MEGAPIXELS`, default 40).
        store_inputs: Keep uploaded files under `ARTIFACTS_DIR/inputs`
            (`STORE_INPUTS`, default off: only a content hash is kept).
        dashboard_refresh_seconds: How often the dashboard looks for new runs,
            a new champion and new operating-point versions
            (`DASHBOARD_REFRESH_SECONDS`, default 30).
        display_timezone: The IANA time zone in which the apps and reports show
            times (`DISPLAY_TIMEZONE`, default `UTC`; for example `Europe/Paris`).
            Times are stored in UTC whatever this says.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    artifacts_dir: Path = Path("artifacts")
    artifacts_store: str | None = None
    artifacts_cache_dir: Path = Path("artifacts_cache")
    demo_data_dir: Path = Path("demo_data")
    input_cache_dir: Path = Path("input_cache")
    input_cache_max_gb: PositiveNumber = 50.0
    log_level: str = "INFO"
    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    users: dict[str, str] = Field(default_factory=dict, repr=False)
    analysts: frozenset[str] = frozenset()
    max_upload_mb: PositiveNumber = 20.0
    max_audio_seconds: PositiveNumber = 900.0
    max_image_megapixels: PositiveNumber = 40.0
    store_inputs: bool = False
    dashboard_refresh_seconds: PositiveNumber = 30.0
    display_timezone: str = "UTC"

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise CoreError("; ".join(_message(error) for error in exc.errors())) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values only: the environment is read by `from_env`, and by nothing else."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of `environ` (default `os.environ`); unset or empty variables keep their default.

        Raises:
            CoreError: A variable holds an invalid value; the message names it and the value received.
        """
        env = os.environ if environ is None else environ
        return cls(**{field: env[name] for field, name in ENV_NAMES.items() if env.get(name, "").strip()})

    @property
    def audit_database_url(self) -> str:
        """DATABASE_URL for SQLAlchemy; the PaaS's `postgres://` form is sent to the installed psycopg 3 driver."""
        url = self.database_url or f"sqlite:///{ArtifactsLayout(self.artifacts_dir).audit_db.resolve()}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def input_cache_max_bytes(self) -> float:
        """The input cache's bound in bytes (`INPUT_CACHE_MAX_GB`, decimal gigabytes as `du --si` shows them)."""
        return self.input_cache_max_gb * 1e9

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload accepted, in bytes (`MAX_UPLOAD_MB` MiB)."""
        return int(self.max_upload_mb * 2**20)

    @model_validator(mode="before")
    @classmethod
    def _object_storage(cls, values: Any) -> Any:
        """An ARTIFACTS_DIR URL becomes `artifacts_store`, and `artifacts_dir` the folder that mirrors it."""
        folder = values.get("artifacts_dir") if isinstance(values, dict) else None
        if isinstance(folder, str) and remote.is_url(folder.strip()):
            cache = values.get("artifacts_cache_dir") or "artifacts_cache"
            url = folder.strip().rstrip("/")
            values = {**values, "artifacts_store": url, "artifacts_dir": remote.mirror_folder(Path(cache), url)}
        return values

    @model_validator(mode="after")
    def _mutable_state_off_the_store(self) -> Settings:
        """With object storage, what changes (the database, stored inputs) must not land in the disposable mirror.

        A SQLite file there would give each instance its own champion and
        lose the audit log with the machine, so DATABASE_URL is required.
        """
        if self.artifacts_store is None:
            return self
        if self.database_url is None:
            raise ValueError(
                f"ARTIFACTS_DIR is object storage ({self.artifacts_store}), which cannot hold the SQLite audit "
                "database: set DATABASE_URL (postgresql://... shared by every instance, or sqlite:////path/audit.db "
                "on a persistent disk of a single machine)"
            )
        if self.store_inputs:
            raise ValueError(
                "STORE_INPUTS keeps uploads under ARTIFACTS_DIR/inputs, which for object storage is only this "
                "machine's disposable mirror: switch it off, or use a folder ARTIFACTS_DIR on a persistent disk"
            )
        return self

    def mirror(self) -> remote.Mirror | None:
        """The local mirror of an object-storage ARTIFACTS_DIR, attached so that reading a run fetches it; else None.

        Each entry point (app factories, command line) calls it once; building
        settings has no side effect, so tests and tools may make them freely.
        """
        return None if self.artifacts_store is None else remote.attach(self.artifacts_dir, self.artifacts_store)

    @field_validator("artifacts_dir", "demo_data_dir", "artifacts_cache_dir", "input_cache_dir")
    @classmethod
    def _folder(cls, path: Path) -> Path:
        if path.exists() and not path.is_dir():
            raise ValueError(f"must be a folder, got {str(path)!r}, which is a file")
        return path

    @field_validator("display_timezone")
    @classmethod
    def _time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be an IANA time zone such as Europe/Paris or UTC, got {name!r}") from None
        return name

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> str:
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, url: str | None) -> str | None:
        if url is not None and not _URL_SCHEME.match(url):
            raise ValueError(
                "must be a database URL such as postgresql://user:password@host/db or sqlite:///path/audit.db, "
                "got a value without a scheme (not shown: it may hold a password)"
            )
        return url

    @field_validator("analysts", mode="before")
    @classmethod
    def _analyst_names(cls, value: object) -> object:
        return frozenset(filter(None, (name.strip() for name in value.split(",")))) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _analysts_log_in(self) -> Settings:
        """An analyst must be a user: a name AUTH_USERS lacks (a typo) would leave the named analyst locked out."""
        unknown = sorted(self.analysts - set(self.users))
        if unknown:
            raise ValueError(f"ANALYST_USERS must name users of AUTH_USERS, got {', '.join(map(repr, unknown))}")
        return self

    @field_validator("users", mode="before")
    @classmethod
    def _users_list(cls, value: object) -> object:
        return parse_users(value) if isinstance(value, str) else value

    @field_validator("users")
    @classmethod
    def _password_hashes(cls, users: dict[str, str]) -> dict[str, str]:
        # A plain password where a hash belongs would make Werkzeug refuse every login, silently.
        for name, hashed in users.items():
            if hashed.count("$") < 2:
                raise ValueError(
                    f"must hold Werkzeug password hashes (method$salt$hash), got something else for {name!r}; "
                    "make one with werkzeug.security.generate_password_hash"
                )
        return users


def parse_users(raw: str) -> dict[str, str]:
    """`alice:<hash>,bob:<hash>` as `{user: hash}`; empty entries (a trailing comma) are skipped.

    Raises:
        ValueError: An entry is not `user:hash`, or a name repeats.
    """
    users: dict[str, str] = {}
    for number, entry in enumerate(filter(None, (part.strip() for part in raw.split(","))), start=1):
        name, sep, hashed = entry.partition(":")
        if not sep or not name or not hashed:
            raise ValueError(f"must look like user:password-hash,user2:password-hash, got a malformed entry {number}")
        if name in users:
            raise ValueError(f"must name each user once, got {name!r} twice")
        users[name] = hashed
    return users


def _message(error: Mapping[str, Any]) -> str:
    """One pydantic error as `NAME must be ..., got VALUE`, naming the environment variable."""
    field = str(error["loc"][0]) if error["loc"] else ""
    name = ENV_NAMES.get(field, field)
    if error["type"] == "extra_forbidden":
        return f"{field!r} is not a setting; the settings are {', '.join(ENV_NAMES)}"
    if error["type"] == "value_error":
        return f"{name} {error['ctx']['error']}".lstrip()  # a check of several fields names them itself
    requirement = _REQUIREMENTS.get(error["type"], error["msg"].lower())
    shown = "a value not shown" if field in _SECRET_FIELDS else repr(error["input"])
    return f"{name} must be {requirement}, got {shown}"


# The environment variable behind each field: its name upper-cased, but for the login lists and the
# store, which ARTIFACTS_DIR names.
ENV_NAMES = {field: field.upper() for field in Settings.model_fields if field != "artifacts_store"} | {
    "users": "AUTH_USERS",
    "analysts": "ANALYST_USERS",
}
