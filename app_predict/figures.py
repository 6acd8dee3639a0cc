"""Pictures for the prediction page: pure functions, data in, figure or PNG data URI out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.web.data_uri import png_data_uri, spectrogram_png

CALM_BLUE, ALERT_AMBER, MUTED = "#2c7be5", "#f0a202", "#adb5bd"


def fig_probabilities(probabilities: Mapping[str, float], *, predicted: str, uncertain: bool) -> go.Figure:
    """One horizontal bar per class, the called class highlighted (amber when uncertain)."""
    names = list(probabilities)
    values = [probabilities[n] for n in names]
    colours = [(ALERT_AMBER if uncertain else CALM_BLUE) if n == predicted else MUTED for n in names]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{v:.0%}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text="calibrated probability")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(template="plotly_white", height=80 + 40 * len(names), margin={"l": 10, "r": 10, "t": 10, "b": 40})
    return fig


def fig_waveform(signal: np.ndarray, rate: int, *, points: int = 2000) -> go.Figure:
    """The recording's envelope (min and max per slice), light enough to send to the browser."""
    slices = np.array_split(signal, min(points, max(1, len(signal))))
    times = np.cumsum([0] + [len(s) for s in slices[:-1]]) / rate
    low, high = [float(s.min()) for s in slices], [float(s.max()) for s in slices]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=times, y=high, mode="lines", line={"width": 1, "color": CALM_BLUE}, name="max", hoverinfo="skip")
    )
    fig.add_trace(
        go.Scatter(
            x=times,
            y=low,
            mode="lines",
            line={"width": 1, "color": CALM_BLUE},
            fill="tonexty",
            name="min",
            hoverinfo="skip",
        )
    )
    fig.update_xaxes(title_text="time (s)")
    fig.update_yaxes(title_text="amplitude", range=[-1, 1])
    fig.update_layout(
        template="plotly_white", height=200, showlegend=False, margin={"l": 50, "r": 10, "t": 10, "b": 40}
    )
    return fig


def display_png(display: np.ndarray, *, height: int = 256) -> str:
    """The model's view of the input: the resized image, or the spectrogram (low frequencies at the bottom)."""
    if display.ndim == 3:
        return png_data_uri(display)
    return spectrogram_png(display, width=min(2000, display.shape[1] * 2), height=height)


def heatmap_png(heat: np.ndarray, *, spectrogram: bool, height: int = 256) -> str:
    """Heat in [0, 1] as a transparent red-to-yellow overlay of the same shape as `display_png`'s picture."""
    heat = np.clip(heat[::-1] if spectrogram else heat, 0, 1)
    rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (heat * 220).astype(np.uint8)
    rgba[..., 3] = (heat * 255).astype(np.uint8)
    picture = Image.fromarray(rgba, mode="RGBA")
    if spectrogram:
        picture = picture.resize((min(2000, heat.shape[1] * 2), height), Image.Resampling.BILINEAR)
    return png_data_uri(np.asarray(picture))
