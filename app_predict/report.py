"""The downloadable per-prediction report: one self-contained HTML page."""

from __future__ import annotations

from html import escape
from typing import Mapping

INTENDED_USE = (
    "Decision support and research only. This tool is not a certified medical device and must not be used on its "
    "own to diagnose, treat or rule out any condition; a qualified clinician remains responsible for every decision."
)


def report_html(result: Mapping, *, picture: str | None, heatmap: str | None, generated_at: str) -> str:
    """HTML report of one recorded prediction.

    Args:
        result: The prediction as the page keeps it (id, filename, predicted,
            probabilities, uncertain, warnings, model, run_id, created_at).
        picture: Data URI of the input thumbnail (image or spectrogram).
        heatmap: Data URI of the heatmap overlay, if one was computed.
        generated_at: When the report was made.
    """
    verdict = "Uncertain: refer for specialist review" if result["uncertain"] else escape(result["predicted"])
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{value:.1%}</td></tr>" for name, value in result["probabilities"].items()
    )
    warnings = "".join(f"<li>{escape(w)}</li>" for w in result["warnings"]) or "<li>none</li>"
    overlay = f'<img class="overlay" src="{heatmap}" alt="heatmap">' if heatmap else ""
    thumb = f'<div class="stack"><img src="{picture}" alt="input">{overlay}</div>' if picture else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Prediction {escape(result['id'])}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222}}
.verdict{{font-size:1.4em;font-weight:600;padding:.5em .8em;border-radius:6px;background:{'#fff3cd' if result['uncertain'] else '#e7f1ff'}}}
.stack{{position:relative;display:inline-block}} .stack img{{max-width:360px;display:block}}
.stack .overlay{{position:absolute;left:0;top:0;width:100%;height:100%;opacity:.5}}
table{{border-collapse:collapse}} td{{padding:.2em 1em .2em 0}} .note{{font-size:.9em;color:#555;border-top:1px solid #ccc;padding-top:.8em}}
</style></head><body>
<h1>Prediction report</h1>
<p class="verdict">{verdict}</p>
<p>Predicted class: <b>{escape(result['predicted'])}</b></p>
{thumb}
<h2>Calibrated probabilities</h2><table>{rows}</table>
<h2>Input-quality warnings</h2><ul>{warnings}</ul>
<h2>Details</h2>
<table>
<tr><td>Prediction id</td><td>{escape(result['id'])}</td></tr>
<tr><td>File</td><td>{escape(result.get('filename') or '')}</td></tr>
<tr><td>Model</td><td>{escape(result['model'])} (run {escape(result['run_id'])})</td></tr>
<tr><td>Predicted at</td><td>{escape(result['created_at'])}</td></tr>
<tr><td>Report generated</td><td>{escape(generated_at)}</td></tr>
</table>
<p class="note">{INTENDED_USE}</p>
</body></html>
"""
