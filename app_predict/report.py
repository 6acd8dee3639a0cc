"""The downloadable per-prediction report: one self-contained HTML page from `templates/report.html`.

Jinja2 escapes every value the template prints (file names, case
references, class names and warnings may come from anyone who can upload).
"""

from __future__ import annotations

from collections.abc import Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

INTENDED_USE = (
    "Decision support and research only. This tool is not a certified medical device and must not be used on its "
    "own to diagnose, treat or rule out any condition; a qualified clinician remains responsible for every decision."
)
UNCERTAIN_TEXT = "Uncertain: refer for specialist review"
OOD_TEXT = "Not like the training data: no result"
PNG_DATA_URI = "data:image/png;base64,"

_templates = Environment(
    loader=PackageLoader("app_predict", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
_templates.filters["percent"] = lambda value: f"{value:.1%}"


def _png_only(uri: str | None) -> str | None:
    """A PNG data URI, or None: the heatmap's source comes back from the browser, so nothing else is embedded."""
    return uri if uri and uri.startswith(PNG_DATA_URI) else None


def report_html(result: Mapping, *, picture: str | None, heatmap: str | None, generated_at: str) -> str:
    """HTML report of one recorded prediction.

    Args:
        result: The prediction as the page keeps it: `Outcome.to_dict()`
            (id, filename, case_ref, predicted, probabilities, uncertain,
            warnings, out_of_distribution, ood_reason, model, run_id, ...)
            plus `created_at`. An out-of-distribution result states that
            the class is withheld and shows neither class nor probabilities.
        picture: PNG data URI of the input thumbnail (image or spectrogram).
        heatmap: PNG data URI of the heatmap overlay, if one was computed.
        generated_at: When the report was made.

    Returns:
        The page, every printed value HTML-escaped.
    """
    return _templates.get_template("report.html").render(
        result=result,
        picture=_png_only(picture),
        heatmap=_png_only(heatmap),
        generated_at=generated_at,
        intended_use=INTENDED_USE,
        uncertain_text=UNCERTAIN_TEXT,
        ood_text=OOD_TEXT,
    )
