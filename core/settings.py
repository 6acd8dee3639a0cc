"""Process-wide settings, read once from the environment.

Every component takes a `Settings` (or the values it needs) as an argument;
nothing else in the project reads `os.environ`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    """Deployment settings.

    Attributes:
        artifacts_dir: Where runs, `training_metrics.csv` and the registry live
            (`ARTIFACTS_DIR`, default `artifacts`).
        demo_data_dir: Where `python -m core demo` writes its synthetic data
            (`DEMO_DATA_DIR`, default `demo_data`).
        log_level: Python logging level name (`LOG_LEVEL`, default `INFO`).
    """

    artifacts_dir: Path = Path("artifacts")
    demo_data_dir: Path = Path("demo_data")
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            artifacts_dir=Path(env.get("ARTIFACTS_DIR", "artifacts")),
            demo_data_dir=Path(env.get("DEMO_DATA_DIR", "demo_data")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )
