"""The downloadable per-prediction report: one self-contained HTML page from `templates/report.html`.

Jinja2 escapes every value the template prints (file names, case
references, class names, comments and warnings may come from anyone who can
upload or review). Times are shown in the deployment's zone, named
(`core.web.times.local_time`), as on the pages. The page prints cleanly
("Save as PDF"): its own print stylesheet keeps rows and pictures whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.web.probabilities import percent
from core.web.times import local_time

INTENDED_USE = (
    "Decision support and research only. This tool is not a certified medical device and must not be used on its "
    "own to diagnose, treat or rule out any condition; a qualified clinician remains responsible for every decision."
)
UNCERTAIN_TEXT = "Uncertain: refer for specialist review"
OOD_TEXT = "Not like the training data: no result"
REFUSED_TEXT = "Refused: the input could not be judged, so there is no result"
PNG_DATA_URI = "data:image/png;base64,"

_templates = Environment(
    loader=PackageLoader("app_predict", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


_templates.filters["percent"] = lambda value: percent(value, 1)
_templates.filters["local"] = local_time


def called_at(result: Mapping) -> str:
    """How an uncertain result's class was called, in words that stay true when it is the less probable class.

    With two classes the call is made at the operating threshold, which may
    lie above 0.5: a class called there can hold the lower probability, so it
    is never "most likely". With several classes the call is the most probable class.
    """
    return "at the operating threshold" if result.get("threshold") is not None else "as the most probable class"


def _png_only(uri: str | None) -> str | None:
    """A PNG data URI, or None: the heatmap's source comes back from the browser, so nothing else is embedded."""
    return uri if uri and uri.startswith(PNG_DATA_URI) else None


def _training_data_check(result: Mapping) -> str:
    """The out-of-distribution state in words: the judgement's own sentence when the page has it, else from the record.

    The audit log keeps the state and the score, not the sentence: unlike
    (no class), like, or not checked (a model exported before the check).
    """
    state, score = result.get("out_of_distribution"), result.get("ood_score")
    if result.get("ood_reason"):
        return result["ood_reason"]
    if state is None:
        return "not checked (this model has no reference of its training data)"
    distance = "" if score is None else f" (distance {score:.2f} times the limit)"
    return (
        f"unlike the training data{distance}: the class is withheld" if state else f"like the training data{distance}"
    )


def report_html(
    result: Mapping, *, picture: str | None, heatmap: str | None, generated_at: datetime | str, zone: str = "UTC"
) -> str:
    """HTML report of one recorded prediction.

    Args:
        result: The prediction as the audit log records it (`AuditLog.get`:
            id, created_at, case_ref, filename, predicted, probabilities,
            uncertain, warnings, out_of_distribution, ood_score, operating
            point version, threshold and review_band, model, run_id and
            `reviews`, oldest first) and, from the page, ood_reason. An
            out-of-distribution result states that the class is withheld, and
            an upload refused by the quality checks (`refused_reason`) says
            why; neither shows a class, probabilities or a heatmap.
        picture: PNG data URI of the input thumbnail (image or spectrogram).
        heatmap: PNG data URI of the heatmap overlay, if one was computed.
        generated_at: When the report was made (UTC ISO text or an aware datetime).
        zone: The IANA zone every time is shown in (`DISPLAY_TIMEZONE`).

    Returns:
        The page, every printed value HTML-escaped.
    """
    withheld = bool(result.get("out_of_distribution"))
    refused = result.get("refused_reason")
    return _templates.get_template("report.html").render(
        result=result,
        withheld=withheld,
        refused=refused,
        reviews=result.get("reviews") or [],
        training_data_check=_training_data_check(result),
        picture=_png_only(picture),
        heatmap=None if withheld or refused else _png_only(heatmap),
        generated_at=generated_at,
        zone=zone,
        intended_use=INTENDED_USE,
        uncertain_text=UNCERTAIN_TEXT,
        called_at=called_at(result),
        ood_text=OOD_TEXT,
        refused_text=REFUSED_TEXT,
    )
