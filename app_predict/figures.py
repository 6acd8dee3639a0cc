"""Pictures for the prediction page: pure functions, data in, figure or PNG data URI out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from app_predict.report import percent
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
            text=[percent(v) for v in values],
            textposition="auto",
            customdata=[percent(v, 1) for v in values],
            hovertemplate="%{y}: %{customdata}<extra></extra>",
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


HEAT_SCALE = [[0.0, "rgba(255,0,0,0)"], [0.4, "rgba(255,60,0,0.75)"], [1.0, "rgba(255,230,0,1)"]]
HEAT_COLUMNS = 400  # a recording's heat is averaged down to at most this many columns before it goes to the browser
HZ_TICKS = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)


def spectrogram_size(frames: int, *, height: int = 256) -> tuple[int, int]:
    """(width, height) in pixels of `display_png`'s spectrogram picture: two pixels per frame, at most 2000 wide."""
    return min(2000, frames * 2), height


def display_png(display: np.ndarray) -> str:
    """The model's view of the input: the resized image, or the spectrogram (low frequencies at the bottom)."""
    if display.ndim == 3:
        return png_data_uri(display)
    width, height = spectrogram_size(display.shape[1])
    return spectrogram_png(display, width=width, height=height)


def _frame(fig: go.Figure, *, height: int) -> go.Figure:
    fig.update_layout(
        template="plotly_white", height=height, margin={"l": 60, "r": 10, "t": 10, "b": 45}, dragmode=False
    )
    return fig


def _picture(picture: str, *, width: float, height: float, pixels_high: int) -> go.Figure:
    """A PNG data URI stretched over [0, width] x [0, height] data units, under trace 0: the (hidden) heat.

    A layout image rather than an image trace: image traces force square
    pixels, which would squash a long recording into a sliver.
    """
    fig = go.Figure(go.Heatmap(z=[[0]], visible=False, showscale=False))
    fig.add_layout_image(
        source=picture,
        xref="x",
        yref="y",
        x=0,
        y=height,
        sizex=width,
        sizey=height,
        sizing="stretch",
        xanchor="left",
        yanchor="top",
        layer="below",
    )
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[0, height], showgrid=False, zeroline=False)
    return _frame(fig, height=pixels_high)


def fig_image(picture: str, *, side: int) -> go.Figure:
    """The model-size image (a PNG data URI, `side` pixels square), square, ready for `heat_trace`."""
    fig = _picture(picture, width=side, height=side, pixels_high=380)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", constrain="domain")
    return fig


def fig_spectrogram(picture: str, *, frames: int, seconds_per_frame: float, band_hz: Sequence[float]) -> go.Figure:
    """The recording's log-mel spectrogram picture with a time axis (s) and a frequency axis (Hz, mel spaced).

    The y coordinate counts mel bands from the bottom; the ticks name frequencies in Hz.
    """
    bands = len(band_hz)
    fig = _picture(picture, width=frames * seconds_per_frame, height=bands, pixels_high=300)
    shown = [hz for hz in HZ_TICKS if band_hz[0] <= hz <= band_hz[-1]]
    fig.update_xaxes(title_text="time (s)")
    fig.update_yaxes(
        title_text="frequency (Hz)",
        tickvals=[0.5 + float(np.interp(hz, band_hz, np.arange(bands))) for hz in shown],
        ticktext=[f"{hz:g}" for hz in shown],
    )
    return fig


def heat_trace(heat: np.ndarray, *, seconds_per_frame: float | None, opacity: float) -> go.Heatmap:
    """Occlusion heat in [0, 1] as trace 0 of `fig_image` (no `seconds_per_frame`) or `fig_spectrogram`.

    1 marks where hiding the input lowered the followed class's probability
    the most; 0, where hiding changed nothing. Transparent where cold.
    """
    rows = np.arange(heat.shape[0]) + 0.5
    if seconds_per_frame is None:  # image rows run top-down; the figure's y runs bottom-up
        z, x = heat[::-1], np.arange(heat.shape[1]) + 0.5
    else:
        chunks = np.array_split(np.arange(heat.shape[1]), min(HEAT_COLUMNS, heat.shape[1]))
        z = np.stack([heat[:, c].mean(axis=1) for c in chunks], axis=1)
        x = np.array([(c[0] + c[-1] + 1) / 2 * seconds_per_frame for c in chunks])
    return go.Heatmap(
        z=z.astype(np.float32),  # sent as a typed array: half the bytes of float64
        x=x,
        y=rows,
        zmin=0,
        zmax=1,
        colorscale=HEAT_SCALE,
        opacity=opacity,
        colorbar={"title": {"text": "drop", "side": "right"}, "tickvals": [0, 1], "ticktext": ["none", "largest"]},
        hovertemplate="relative drop %{z:.2f}<extra></extra>",
    )


def heatmap_png(heat: np.ndarray, *, spectrogram: bool) -> str:
    """Heat in [0, 1] as a transparent red-to-yellow overlay of the same shape as `display_png`'s picture (report)."""
    heat = np.clip(heat[::-1] if spectrogram else heat, 0, 1)
    rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (heat * 230).astype(np.uint8)
    rgba[..., 3] = (heat * 255).astype(np.uint8)
    picture = Image.fromarray(rgba, mode="RGBA")
    if spectrogram:
        picture = picture.resize(spectrogram_size(heat.shape[1]), Image.Resampling.BILINEAR)
    return png_data_uri(np.asarray(picture))
