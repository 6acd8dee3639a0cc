"""Where every artifact lives under ARTIFACTS_DIR: the one owner of every file name.

    ARTIFACTS_DIR/
      training_metrics.csv          one row per run, model and epoch; appended to
      audit.db                      the database (SQLite, unless DATABASE_URL): the audit log,
                                    the champion's history, the operating-point versions
      examples/<dataset>/           example inputs for the prediction page
      inputs/<sha256><suffix>       uploads, kept only when STORE_INPUTS is on
      manifests/<run_id>.json       with ARTIFACTS_DIR in object storage: a published run's files and their
                                    SHA-256, written last (`core.store.remote`); in the local mirror, written
                                    once the run is fetched and checked
      shared/<run_id>/              in object storage only: the run's rows of training_metrics.csv and the
                                    examples it exported, merged into the mirror's own files when fetched
      runs/<run_id>/
        status.json  config.json  audit.json  split.csv  classes.json
        preprocessing.json  versions.json  comparisons.json  quality_reference.json
        previews/<sha256>.png       a picture (image thumbnail or spectrogram) of each test item the dashboard
                                    can show, with or without --cv (`core.training.steps.shown_items`)
        previews/<sha256>.wav       each such test recording, playable in a browser
        models/<model>/
          model.keras  model.tflite  history.csv  report.json  summary.json
          model.joblib              the baseline's estimator (it has no .keras or .tflite)
          blend.json                a blend's parts, weights and their served files' SHA-256 (it has no model
                                    file and no history.csv: `core.training.blend`)
          ood_reference.npz         the training embeddings' reference for the out-of-distribution check
          predictions_<part>[_windows].csv

Files are immutable once a run is complete; what changes after training
(the champion, operating points, reviews) lives in the database.

No other module spells a file name: each asks these objects for a path.
The layout is documented for people in docs/artifacts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath


def is_folder_name(value: object) -> bool:
    """Whether `value` can name a run or a model: one folder name (under ARTIFACTS_DIR/runs, or a run's models/),
    never a path.

    "RUN/", "./RUN" or "RUN/../RUN" reach the same folder under another name; the champion and the
    operating points are rows keyed by the run's name, so a promotion or a save under an alias would be
    recorded and never served; and a blend's part named by a path would be read from outside its run.

    >>> [is_folder_name(name) for name in ("20260101-000000-demo", "RUN/../RUN", "..", "", "/etc/x")]
    [True, False, False, False, False]
    """
    return isinstance(value, str) and value not in {"", ".", ".."} and PurePosixPath(value).name == value


@dataclass(frozen=True)
class ModelLayout:
    """The files of one trained model of a run."""

    dir: Path

    keras = property(lambda self: self.dir / "model.keras")
    tflite = property(lambda self: self.dir / "model.tflite")
    estimator = property(lambda self: self.dir / "model.joblib")
    history = property(lambda self: self.dir / "history.csv")
    report = property(lambda self: self.dir / "report.json")
    summary = property(lambda self: self.dir / "summary.json")
    ood_reference = property(lambda self: self.dir / "ood_reference.npz")
    blend = property(lambda self: self.dir / "blend.json")

    def predictions(self, part: str, *, windows: bool = False) -> Path:
        """`predictions_test.csv`, `predictions_val_windows.csv`, ...: `part` is "test" or "val"."""
        return self.dir / f"predictions_{part}{'_windows' if windows else ''}.csv"

    @property
    def serving(self) -> tuple[Path, ...]:
        """What serving reads of this model: a web worker's mirror of object storage holds only these."""
        return (self.tflite, self.estimator, self.blend, self.report, self.summary, self.ood_reference)

    @property
    def exported(self) -> tuple[Path, ...]:
        """What a servable model has one of: a LiteRT file, the baseline's estimator, or a blend's recipe."""
        return (self.tflite, self.estimator, self.blend)


@dataclass(frozen=True)
class RunLayout:
    """The files of one training run."""

    dir: Path

    status = property(lambda self: self.dir / "status.json")
    config = property(lambda self: self.dir / "config.json")
    audit = property(lambda self: self.dir / "audit.json")
    split = property(lambda self: self.dir / "split.csv")
    classes = property(lambda self: self.dir / "classes.json")
    preprocessing = property(lambda self: self.dir / "preprocessing.json")
    versions = property(lambda self: self.dir / "versions.json")
    comparisons = property(lambda self: self.dir / "comparisons.json")
    quality_reference = property(lambda self: self.dir / "quality_reference.json")
    previews = property(lambda self: self.dir / "previews")
    models = property(lambda self: self.dir / "models")

    @property
    def run_id(self) -> str:
        return self.dir.name

    def model(self, name: str) -> ModelLayout:
        return ModelLayout(self.models / name)

    def preview(self, digest: str, suffix: str = ".png") -> Path:
        """The stored picture (".png") or playable recording (".wav") of the test item with this SHA-256."""
        return self.previews / f"{digest}{suffix}"

    @property
    def serving(self) -> tuple[Path, ...]:
        """What serving reads of the run itself, beside each model's `ModelLayout.serving` files."""
        return (self.status, self.config, self.classes, self.preprocessing, self.versions, self.quality_reference)


@dataclass(frozen=True)
class ArtifactsLayout:
    """The top of ARTIFACTS_DIR."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    runs = property(lambda self: self.root / "runs")
    metrics_csv = property(lambda self: self.root / "training_metrics.csv")
    examples = property(lambda self: self.root / "examples")
    audit_db = property(lambda self: self.root / "audit.db")
    inputs = property(lambda self: self.root / "inputs")

    manifests = property(lambda self: self.root / "manifests")
    shared = property(lambda self: self.root / "shared")

    def manifest(self, run_id: str) -> Path:
        """The list of a published run's files with their SHA-256 (`core.store.remote`)."""
        return self.manifests / f"{run_id}.json"

    def stored_input(self, digest: str, suffix: str) -> Path:
        """Where an upload with this SHA-256 is kept when STORE_INPUTS is on (`suffix` from its sniffed format)."""
        return self.inputs / f"{digest}{suffix}"

    def run(self, run_id: str) -> RunLayout:
        return RunLayout(self.runs / run_id)
