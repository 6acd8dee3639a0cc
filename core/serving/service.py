"""One code path for every prediction the apps make: check the upload, predict, record.

The prediction page and the REST API both call `PredictionService.predict`,
so they accept, refuse and log exactly the same things. Uploads stay in
memory; they touch the disk only when input storage is switched on.

Only what never changes is kept in memory: one `Predictor` (LiteRT model and
preprocessing) per run and model. The champion and the operating point in
force are read from the database on every request, so a promotion or a
saved operating point reaches every worker of every instance on its next
request, and each prediction is decided by, and recorded with, exactly the
operating-point version it reports.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from core.errors import (
    EmptyInput,
    InputRejected,
    InputTooLarge,
    InputUnjudgeable,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    Unavailable,
)
from core.inputs.formats import ACCEPTED, FORMATS, FileFormat, sniff
from core.serving.loaded_models import LoadedModels
from core.serving.predictor import Prediction, Predictor
from core.settings import Settings
from core.store.artifacts import atomic_write
from core.store.audit_log import AuditLog
from core.store.database import unavailable_on_error
from core.store.layout import ArtifactsLayout
from core.store.pins import files_stamp
from core.store.registry import PROMOTE_HINT, champion, list_runs, servable_models
from core.store.serving_state import OperatingPoint, ServingState, check_operating_point

log = logging.getLogger(__name__)
LOADED_MODELS = 8  # predictors a worker keeps, least recently used dropped: not one per model ever asked for
STORE_INPUTS_OFF = (
    "uploads are not kept (STORE_INPUTS is off), so reviewed cases have no files to train on; "
    "set STORE_INPUTS=true to keep new uploads for review and export"
)


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


def check_upload(data: bytes, predictor: Predictor, settings: Settings) -> FileFormat:
    """The file's format, or an `InputRejected` saying why: empty, too large, wrong type or modality.

    One check for every way in (the page, the API, batch prediction), so they refuse the same files.
    """
    if not data:
        raise EmptyInput("the file is empty")
    if len(data) > settings.max_upload_bytes:
        raise InputTooLarge(f"the file is {len(data) / 1e6:.1f} MB, above the {settings.max_upload_mb:g} MB limit")
    file_format = sniff(data)
    if file_format is None:
        raise InputRejected(f"not a supported image or sound file ({_describe_unknown(data)}); accepted: {ACCEPTED}")
    if file_format.modality != predictor.modality:
        readable = ", ".join(fmt.name for fmt in FORMATS if fmt.modality == predictor.modality)
        raise InputRejected(
            f"this is a {file_format.name} {file_format.modality} file, but the model "
            f"{model_key(predictor.run_id, predictor.model_name)} reads {predictor.modality}s ({readable})"
        )
    return file_format


def load_predictor(settings: Settings, run_id: str, model: str, *, num_threads: int | None = None) -> Predictor:
    """A `Predictor` for `run_id/model` with the deployment's input limits (`MAX_IMAGE_MEGAPIXELS`, ...)."""
    return Predictor(
        ArtifactsLayout(settings.artifacts_dir).run(run_id).dir,
        model,
        num_threads=num_threads,
        max_image_pixels=int(settings.max_image_megapixels * 1e6),
        max_audio_seconds=settings.max_audio_seconds,
    )


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
    """Models, limits, serving state and the audit log of one serving process.

    Predictors are loaded once per (run, model) and shared by the process's threads; the
    `LOADED_MODELS` most recently used stay loaded, so a worker's memory does not grow with
    every model a request names. A load holds up only the requests for the same model
    (`LoadedModels`): the others are answered meanwhile.
    """

    def __init__(self, settings: Settings, audit_log: AuditLog | None = None):
        self.settings = settings
        self.audit_log = audit_log or AuditLog(settings.audit_database_url)
        self.state = ServingState(self.audit_log.engine)
        self.loaded: LoadedModels[tuple[str, str], Predictor] = LoadedModels(
            LOADED_MODELS,
            lambda key: load_predictor(settings, *key),
            lambda key: files_stamp(ArtifactsLayout(settings.artifacts_dir).run(key[0]), key[1]),
        )

    def champion(self) -> dict | None:
        """The promoted champion (`damaged` says why it cannot be served, if so), or None before any promotion."""
        with unavailable_on_error("cannot read which model is the champion"):
            return champion(self.settings.artifacts_dir, self.state)

    def models(self) -> list[dict]:
        """Every servable model of every complete run, newest run first, the champion flagged."""
        best = self.champion()
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
            Unavailable: no champion has been promoted, or the champion is damaged (503), whether it is
                asked for as the champion or by its key.
        """
        best = self.champion()
        if key:
            run_id, sep, model = key.partition("/")
            if not sep or model not in servable_models(self.settings.artifacts_dir, run_id):
                raise ModelUnavailable(f"unknown model {key!r}; GET /api/models lists the available ones")
        else:
            run_id, model = self._champion_key(best)
        if best is not None and best["damaged"] and (best["run_id"], best["model"]) == (run_id, model):
            # named by its key or served as the champion: files changed since the approval are never served
            raise Unavailable(
                f"the champion {model_key(run_id, model)} cannot be served ({best['damaged']}); "
                "repair its run, roll back (`python -m core rollback --reason TEXT`) or promote another model"
            )
        return self.loaded.get((run_id, model))

    def _champion_key(self, best: dict | None) -> tuple[str, str]:
        if best is None:
            trained = any(run.get("state") == "complete" for run in list_runs(self.settings.artifacts_dir))
            first = "" if trained else "train a model (`make run` or `python -m core train`), then "
            raise Unavailable(f"no champion model is being served; {first}{PROMOTE_HINT}")
        return best["run_id"], best["model"]

    def operating_point(self, predictor: Predictor) -> OperatingPoint:
        """The operating point in force for the predictor's model: its latest saved version, else the fitted one.

        Raises:
            Unavailable: it is not a valid point (a row edited or restored behind the app's back: saves are
                checked): nothing is decided with it, and the analyst saves a valid version.
        """
        with unavailable_on_error("cannot read the operating point in force"):
            point = self.state.in_force(predictor.run_id, predictor.model_name, predictor.fitted)
        try:
            check_operating_point(point.threshold, point.review_band)
        except InvalidInput as exc:
            raise Unavailable(
                f"{model_key(predictor.run_id, predictor.model_name)} cannot be served: its operating point in "
                f"force, version {point.version}, is not valid ({exc}); save a valid version"
            ) from None
        return point

    def check(self, data: bytes, predictor: Predictor) -> FileFormat:
        """The upload's format, or an `InputRejected` saying why: empty, too large, wrong type or modality."""
        return check_upload(data, predictor, self.settings)

    def predict(
        self,
        data: bytes,
        *,
        filename: str | None = None,
        model: str | None = None,
        case_ref: str | None = None,
        heatmap: bool = False,
        user: str | None = None,
    ) -> Outcome:
        """Check, predict and record one upload, with the operating point in force and the logged-in `user`.

        An upload the quality gates refuse (`InputUnjudgeable`: blank, tiny,
        silent, too short) is recorded as a refusal before the error is
        raised, its input kept when STORE_INPUTS is on, so the audit log shows
        what was refused; it is not a case for the review worklist (no model
        answer to review, `core.store.audit_log`).

        Raises:
            InputRejected, ModelUnavailable, Unavailable, CoreError: the upload is refused,
                no model can serve it, or its content is unreadable; nothing is recorded
                except a quality refusal.
        """
        predictor = self.predictor(model)
        file_format = self.check(data, predictor)
        digest = hashlib.sha256(data).hexdigest()
        case_ref = (case_ref or "").strip()[:200] or None
        recorded = {
            "content_sha256": digest,
            "run_id": predictor.run_id,
            "model": predictor.model_name,
            "classes": predictor.class_names,
            "case_ref": case_ref,
            "filename": (filename or "")[:500] or None,
            "user": user,
        }
        try:
            prediction = predictor.predict(data, heatmap=heatmap, operating_point=self.operating_point(predictor))
        except InputUnjudgeable as refusal:
            self._record_refusal(data, file_format, predictor.modality, recorded, str(refusal))
            raise
        stored = self._store(data, digest, file_format) if self.settings.store_inputs else None
        prediction_id = self.audit_log.record(
            **recorded,
            modality=prediction.modality,
            predicted=prediction.shown_class,
            probabilities=prediction.probabilities,
            uncertain=prediction.uncertain,
            warnings=prediction.warnings,
            out_of_distribution=prediction.out_of_distribution,
            ood_score=prediction.ood_score,
            input_path=stored,
            operating_point_version=prediction.operating_point_version,
            threshold=prediction.threshold,
            review_band=prediction.review_band,
        )
        return Outcome(prediction, prediction_id, filename, digest, case_ref)

    def _record_refusal(self, data: bytes, file_format: FileFormat, modality: str, recorded: dict, reason: str) -> str:
        """Record a quality refusal: no class, no probabilities, the reason, and the kept input if inputs are stored."""
        stored = self._store(data, recorded["content_sha256"], file_format) if self.settings.store_inputs else None
        return self.audit_log.record(
            **recorded,
            modality=modality,
            predicted=None,
            probabilities={},
            uncertain=False,
            warnings=[],
            input_path=stored,
            refused_reason=reason,
        )

    def reviewed_manifest(self, *, modality: str, model: str | None = None) -> str:
        """The reviewed cases as a training manifest (`AuditLog.reviewed_manifest`).

        Raises:
            NotFound: inputs are not kept (STORE_INPUTS off), so there are no files to train on.
        """
        if not self.settings.store_inputs:
            raise NotFound(STORE_INPUTS_OFF)
        with unavailable_on_error("cannot read the reviewed cases"):
            return self.audit_log.reviewed_manifest(modality=modality, model=model)

    def explain(
        self, data: bytes, *, model: str | None = None, operating_point: OperatingPoint | None = None
    ) -> Prediction:
        """The same prediction with its heatmap, for display; not recorded again.

        Args:
            operating_point: The point the shown result was decided with: an analyst may have saved
                a new version since, and the heat must follow the class on the result's card, not
                the one a new threshold would call. None: the point in force now.
        """
        predictor = self.predictor(model)
        self.check(data, predictor)
        point = operating_point or self.operating_point(predictor)
        return predictor.predict(data, heatmap=True, operating_point=point)

    def _store(self, data: bytes, digest: str, file_format: FileFormat) -> str:
        path = ArtifactsLayout(self.settings.artifacts_dir).stored_input(digest, file_format.suffix)
        if not path.exists():
            atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return str(path)
