"""One code path for every prediction the apps make: check the upload, predict, record.

The prediction page and the REST API both call `PredictionService.predict`,
so they accept, refuse and log exactly the same things. Uploads stay in
memory; they touch the disk only when input storage is switched on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

from core.errors import EmptyInput, InputRejected, InputTooLarge, ModelUnavailable, Unavailable
from core.inputs.formats import ACCEPTED, FORMATS, FileFormat, sniff
from core.serving.predictor import Prediction, Predictor
from core.settings import Settings
from core.store.artifacts import atomic_write
from core.store.audit_log import AuditLog
from core.store.layout import ArtifactsLayout
from core.store.registry import champion, list_runs, servable_models

log = logging.getLogger(__name__)


def model_key(run_id: str, model: str) -> str:
    """How a model is named to clients (the page, `/api/models`, `model=` of `/api/predict`): `run_id/model`."""
    return f"{run_id}/{model}"


def _describe_unknown(data: bytes) -> str:
    sample = data[:512]
    try:
        sample.decode("utf-8")
        return "it looks like text"
    except UnicodeDecodeError:
        return "its content is not a recognised format"


@dataclass
class Outcome:
    """A prediction and the audit-log id it was recorded under."""

    prediction: Prediction
    prediction_id: str
    filename: str | None
    content_sha256: str
    case_ref: str | None

    def to_dict(self) -> dict:
        """The recorded prediction as JSON: audit-log `id`, `filename`, `case_ref`, then `Prediction.to_dict()`."""
        return {
            "id": self.prediction_id,
            "filename": self.filename,
            "case_ref": self.case_ref,
            **self.prediction.to_dict(),
        }


class PredictionService:
    """Models, limits and the audit log of one serving process.

    Predictors are loaded once per (run, model) and shared by the process's threads.
    """

    def __init__(self, settings: Settings, audit_log: AuditLog | None = None):
        self.settings = settings
        self.audit_log = audit_log or AuditLog(settings.audit_database_url)
        self._predictors: dict[tuple[str, str], Predictor] = {}
        self._lock = threading.Lock()

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.max_upload_mb * 1024 * 1024)

    def models(self) -> list[dict]:
        """Every servable model of every complete run, newest run first, the champion flagged."""
        best = champion(self.settings.artifacts_dir)
        listed = []
        for run in list_runs(self.settings.artifacts_dir):
            if run.get("state") != "complete":
                continue
            for name in servable_models(self.settings.artifacts_dir, run["run_id"]):
                key = model_key(run["run_id"], name)
                is_champion = best is not None and (best["run_id"], best["model"]) == (run["run_id"], name)
                listed.append(
                    {
                        "key": key,
                        "run_id": run["run_id"],
                        "model": name,
                        "dataset": run.get("dataset"),
                        "modality": run.get("modality"),
                        "champion": is_champion,
                    }
                )
        return listed

    def predictor(self, key: str | None = None) -> Predictor:
        """The predictor for `run_id/model`, or the champion's when `key` is empty.

        Raises:
            ModelUnavailable: an unknown key (404).
            Unavailable: no trained model yet (503).
        """
        if key:
            run_id, sep, model = key.partition("/")
            if not sep or model not in servable_models(self.settings.artifacts_dir, run_id):
                raise ModelUnavailable(f"unknown model {key!r}; GET /api/models lists the available ones")
        else:
            best = champion(self.settings.artifacts_dir)
            if best is None:
                raise Unavailable("no trained model is available yet; run `make run` or `python -m core train` first")
            run_id, model = best["run_id"], best["model"]
        with self._lock:
            if (run_id, model) not in self._predictors:
                self._predictors[(run_id, model)] = Predictor(
                    ArtifactsLayout(self.settings.artifacts_dir).run(run_id).dir,
                    model,
                    max_image_pixels=int(self.settings.max_image_megapixels * 1e6),
                    max_audio_seconds=self.settings.max_audio_seconds,
                )
            return self._predictors[(run_id, model)]

    def check(self, data: bytes, predictor: Predictor) -> FileFormat:
        """The upload's format, or an `InputRejected` saying why: empty, too large, wrong type or modality."""
        if not data:
            raise EmptyInput("the file is empty")
        if len(data) > self.max_upload_bytes:
            raise InputTooLarge(
                f"the file is {len(data) / 1e6:.1f} MB, above the {self.settings.max_upload_mb:g} MB limit"
            )
        file_format = sniff(data)
        if file_format is None:
            raise InputRejected(
                f"not a supported image or sound file ({_describe_unknown(data)}); accepted: {ACCEPTED}"
            )
        if file_format.modality != predictor.modality:
            readable = ", ".join(fmt.name for fmt in FORMATS if fmt.modality == predictor.modality)
            raise InputRejected(
                f"this is a {file_format.name} {file_format.modality} file, but the model "
                f"{model_key(predictor.run_id, predictor.model_name)} reads {predictor.modality}s ({readable})"
            )
        return file_format

    def predict(
        self,
        data: bytes,
        *,
        filename: str | None = None,
        model: str | None = None,
        case_ref: str | None = None,
        heatmap: bool = False,
    ) -> Outcome:
        """Check, predict and record one upload.

        Raises:
            InputRejected, ModelUnavailable, Unavailable, CoreError: the upload is refused,
                no model can serve it, or its content is unreadable; nothing is recorded.
        """
        predictor = self.predictor(model)
        file_format = self.check(data, predictor)
        prediction = predictor.predict(data, heatmap=heatmap)
        digest = hashlib.sha256(data).hexdigest()
        stored = self._store(data, digest, file_format) if self.settings.store_inputs else None
        case_ref = (case_ref or "").strip()[:200] or None
        prediction_id = self.audit_log.record(
            modality=prediction.modality,
            content_sha256=digest,
            run_id=prediction.run_id,
            model=prediction.model,
            predicted=prediction.predicted,
            probabilities=prediction.probabilities,
            uncertain=prediction.uncertain,
            warnings=prediction.warnings,
            case_ref=case_ref,
            filename=(filename or "")[:500] or None,
            input_path=stored,
        )
        return Outcome(prediction, prediction_id, filename, digest, case_ref)

    def explain(self, data: bytes, *, model: str | None = None) -> Prediction:
        """The same prediction with its heatmap, for display; not recorded again."""
        predictor = self.predictor(model)
        self.check(data, predictor)
        return predictor.predict(data, heatmap=True)

    def _store(self, data: bytes, digest: str, file_format: FileFormat) -> str:
        path = ArtifactsLayout(self.settings.artifacts_dir).stored_input(digest, file_format.suffix)
        if not path.exists():
            atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return str(path)
