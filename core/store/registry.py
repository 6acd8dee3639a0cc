"""Which runs and models exist, which model is served, and the checks made before serving state changes.

The champion and the operating points are rows of the database
(`core.store.serving_state`); this module checks a request against the
artifacts before a row is written:

- nothing changes the champion but an explicit promotion or rollback
  (`python -m core promote RUN MODEL --reason ...`, or the dashboard);
  a new run never does, and with no promotion nothing is served by default;
- a promotion must pass the guardrails of `core.evaluation.guardrails`,
  unless forced, and the override is recorded; a model with no evidence of
  skill (its test AUROC's interval includes 0.5) is never chosen
  automatically (`best_model`);
- a promotion pins the SHA-256 of the files the model is served from
  (`core.store.pins`); a champion whose files have changed since, or whose
  run has since been damaged, is reported as damaged and not served, never
  silently replaced by another model.

`registry.json`, where the champion lived before it moved into the database,
is no longer read: after an upgrade, promote the champion once.
"""

from __future__ import annotations

from pathlib import Path

from core.config import BLEND_SUFFIX, TRANSFER_MODELS
from core.errors import InvalidInput, NotFound, PromotionRefused
from core.evaluation.guardrails import no_evidence_of_skill, promotion_concerns
from core.store import artifacts, remote
from core.store.layout import ArtifactsLayout, RunLayout, is_folder_name
from core.store.pins import files_digest
from core.store.serving_state import OperatingPoint, ServingState, check_operating_point

PROMOTE_HINT = "promote one with `python -m core promote RUN MODEL --reason TEXT` or the dashboard's Comparison tab"
RANDOM_FALLBACK = "started from random weights (ImageNet weights unavailable offline)"


def list_runs(artifacts_dir: Path) -> list[dict]:
    """Every run's status, newest first; unreadable or wrong-shaped status files show as state 'damaged'."""
    remote.refresh(artifacts_dir)
    root = ArtifactsLayout(artifacts_dir).runs
    runs = []
    for folder in sorted(root.iterdir() if root.is_dir() else [], reverse=True):
        if not folder.is_dir():
            continue
        run = RunLayout(folder)
        status = _status(run)
        if status is None:
            status = {"state": "damaged", "error": f"{run.status.name} unreadable or not a JSON object"}
        runs.append({**status, "run_id": run.run_id})
    return runs


def _status(run: RunLayout) -> dict | None:
    try:
        status = artifacts.read_json_cached(run.status)
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def servable_models(artifacts_dir: Path, run_id: str) -> list[str]:
    """Completed models of a run that have an exported file: LiteRT, the baseline's estimator, or a blend's recipe.

    With object storage, only what serving reads of the run is fetched: a web worker needs no Keras file or preview.
    """
    remote.fetch(artifacts_dir, run_id, full=False)
    run = ArtifactsLayout(artifacts_dir).run(run_id)
    completed = (_status(run) or {}).get("models_completed", [])
    return [m for m in completed if isinstance(m, str) and any(path.is_file() for path in run.model(m).exported)]


def shows_skill(artifacts_dir: Path, run_id: str, model: str) -> bool:
    """Whether the model's test figures show evidence of skill (`core.evaluation.guardrails.no_evidence_of_skill`).

    False when its report cannot be read: what cannot be checked is not chosen.
    """
    try:
        report = artifacts.read_json_cached(ArtifactsLayout(artifacts_dir).run(run_id).model(model).report)
        return not no_evidence_of_skill(report["levels"][report["level"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def starting_weights(artifacts_dir: Path, run_id: str, model: str) -> str:
    """What a transfer model's backbone started from, as the pages say it; "" for a model trained from scratch.

    A reader takes "mobilenet_v2" to mean ImageNet features; a demo trained
    offline fell back to random ones (`TrainConfig.weights_fallback`), and
    the pages must not let that pass unsaid. "" too when the run's config
    cannot be read: nothing is claimed that was not recorded.
    """
    model = model.removesuffix(BLEND_SUFFIX)  # a blend's backbone is its model part's (`TrainConfig.blends`)
    if model not in TRANSFER_MODELS:
        return ""
    remote.fetch(artifacts_dir, run_id, full=False)
    try:
        training = artifacts.read_json_cached(ArtifactsLayout(artifacts_dir).run(run_id).config)["training"]
        weights, fallback = str(training["weights"]).strip().lower(), training.get("weights_fallback") is True
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if fallback:
        return RANDOM_FALLBACK
    return {"imagenet": "started from ImageNet weights", "none": "started from random weights"}.get(
        weights, "started from a local weights file"
    )


def best_model(artifacts_dir: Path, run_id: str) -> str | None:
    """The run's servable model with evidence of skill, the fewest promotion concerns and then the highest
    validation AUROC, or None.

    What the demo promotes: a model with no evidence of skill is never chosen
    automatically, even when it is the run's only one; and one the guardrails
    object to (it never calls a class, say) loses to one they do not.
    """
    run = ArtifactsLayout(artifacts_dir).run(run_id)

    def rank(model: str) -> tuple[int, float]:
        concerns = len(promotion_concerns(_report(artifacts_dir, run_id, model)))
        try:
            value = artifacts.read_json_cached(run.model(model).summary).get("val_auc")
        except (OSError, ValueError, AttributeError):
            return -concerns, float("-inf")
        return -concerns, float("-inf") if value is None else float(value)

    candidates = [m for m in servable_models(artifacts_dir, run_id) if shows_skill(artifacts_dir, run_id, m)]
    return max(candidates, key=rank, default=None)


def _report(artifacts_dir: Path, run_id: str, model: str) -> dict:
    """The model's test report, if the model can be served.

    Raises:
        NotFound: no such run, no servable model of that name, or an unreadable report.
    """
    layout = ArtifactsLayout(artifacts_dir)
    if not is_folder_name(run_id):
        raise NotFound(f"no run {run_id[:200]!r} in ARTIFACTS_DIR: give the run's id exactly as listed, without '/'")
    remote.fetch(artifacts_dir, run_id, full=False)
    if not layout.run(run_id).dir.is_dir():
        raise NotFound(f"no run {run_id!r} in ARTIFACTS_DIR")
    models = servable_models(artifacts_dir, run_id)
    if model not in models:
        raise NotFound(f"run {run_id} has no servable model {model!r}; it has {', '.join(models) or 'none'}")
    try:
        report = artifacts.read_json_cached(layout.run(run_id).model(model).report)
        report["levels"][report["level"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise NotFound(f"run {run_id} model {model} has no readable test report") from None
    return report


def champion(artifacts_dir: Path, state: ServingState) -> dict | None:
    """The latest promoted champion, with `damaged` saying why it cannot be served (None when it can).

    None before any promotion.
    """
    current = state.champion()
    if current is None:
        return None
    try:
        _report(artifacts_dir, current["run_id"], current["model"])
        damaged = _changed_since_promotion(artifacts_dir, current)
    except NotFound as exc:
        damaged = str(exc)
    return {**current, "damaged": damaged}


def _changed_since_promotion(artifacts_dir: Path, entry: dict) -> str | None:
    """Why a champion entry's files are not those it was promoted with, or None when they are (or it has no pin:
    promoted before pins were recorded)."""
    pinned = entry.get("files_sha256")
    if pinned is None or files_digest(ArtifactsLayout(artifacts_dir).run(entry["run_id"]), entry["model"]) == pinned:
        return None
    return (
        f"its files have changed since it was promoted on {entry['created_at']} (pinned SHA-256 {pinned[:12]}…); "
        "check the run, then promote it again"
    )


def promote(
    artifacts_dir: Path,
    state: ServingState,
    run_id: str,
    model: str,
    *,
    reason: str,
    user: str | None,
    force: bool = False,
) -> dict:
    """Make `run_id`/`model` the champion, if its test figures pass the guardrails or `force` is given.

    Raises:
        NotFound: no such run, or the run has no servable model of that name.
        PromotionRefused: the guardrails refuse the model and `force` is not given.
        InvalidInput: no reason given.
    """
    concerns = promotion_concerns(_report(artifacts_dir, run_id, model))
    if concerns and not force:
        raise PromotionRefused(
            f"{run_id}/{model} is not promoted: {'; '.join(concerns)}. To serve it anyway, promote with force "
            "(--force on the command line), which is recorded",
            concerns,
        )
    pin = files_digest(ArtifactsLayout(artifacts_dir).run(run_id), model)
    return state.add_champion(run_id, model, reason=reason, user=user, files_sha256=pin, forced=bool(concerns))


def rollback(artifacts_dir: Path, state: ServingState, *, reason: str, user: str | None, to: int | None = None) -> dict:
    """Serve an earlier champion again, as a new row of the history.

    Args:
        to: The `id` of the history row to serve again; None: the latest
            champion that is not the current one.

    Raises:
        NotFound: there is no such earlier champion, or it can no longer be served: its run is damaged,
            or its files are not those it was promoted with.
        InvalidInput: no reason given, or `to` names the model already served.
    """
    target = state.previous_champion() if to is None else state.champion_entry(to)
    if target is None:
        missing = "there is no earlier champion" if to is None else f"the champion history has no entry {to}"
        raise NotFound(f"{missing} to roll back to")
    current = state.champion()
    if current is not None and (target["run_id"], target["model"]) == (current["run_id"], current["model"]):
        raise InvalidInput(f"{target['run_id']}/{target['model']} is already the champion")
    _report(artifacts_dir, target["run_id"], target["model"])
    changed = _changed_since_promotion(artifacts_dir, target)
    if changed:
        raise NotFound(f"{target['run_id']}/{target['model']} cannot be served again: {changed}")
    pin = target["files_sha256"] or files_digest(ArtifactsLayout(artifacts_dir).run(target["run_id"]), target["model"])
    return state.add_champion(target["run_id"], target["model"], reason=reason, user=user, files_sha256=pin)


def save_operating_point(
    artifacts_dir: Path,
    state: ServingState,
    run_id: str,
    model: str,
    *,
    threshold: float | None,
    review_band: tuple[float, float],
    user: str | None,
    note: str | None = None,
) -> dict:
    """Store a new version of the threshold and review band the model is served with; it applies at once.

    Raises:
        NotFound: no such run or servable model.
        InvalidInput: the band or the threshold is outside [0, 1], or the band is reversed; or a threshold
            is given for a model that calls the most likely of several classes, where no threshold decides
            (it would be recorded and reported with every prediction, and never used).
    """
    report = _report(artifacts_dir, run_id, model)
    check_operating_point(threshold, review_band)  # a value out of range is named first, whatever the model
    headline = report["levels"][report["level"]]
    if threshold is not None and headline.get("operating_point", {}).get("threshold") is None:
        classes = len(headline.get("class_names") or []) or "several"
        raise InvalidInput(
            f"{run_id}/{model} calls the most likely of its {classes} classes: no threshold decides, so none "
            "can be saved; set its review band (the top probability below which a result is referred)"
        )
    return state.save_operating_point(run_id, model, threshold=threshold, review_band=review_band, user=user, note=note)


def operating_point_in_force(artifacts_dir: Path, state: ServingState, run_id: str, model: str) -> dict:
    """The model's latest saved version, else its fitted point from the report as version 0.

    Raises:
        NotFound: no such run or servable model.
    """
    report = _report(artifacts_dir, run_id, model)
    return state.in_force(run_id, model, OperatingPoint.fitted(report["levels"][report["level"]])).to_dict()
