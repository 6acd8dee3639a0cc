"""Operating point: move a two-class model's threshold and review band, read the consequences, save them.

What is served must be exactly what an analyst approved, so the tab never
lets the sliders pass for the version in force:

- the sliders are loaded from the version in force of the model they are
  for, and loaded again when the picker or the run names another model
  (choosing another run keeps the picker's model name, and the sliders
  would otherwise keep the other run's values); `OP_LOADED` records which
  model and version they were loaded from;
- a line above the save button says what is in force now (refreshed with
  the page), and whether the sliders differ from it, unsaved;
- a save is refused when another version was saved since the sliders were
  loaded (a second analyst, another tab): the analyst sees that version
  first, and a second click saves over it knowingly.
"""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app_train_dashboard import figures, ids, tables
from app_train_dashboard.components import graph, model_picker, table
from app_train_dashboard.data import Entry
from app_train_dashboard.selection import (
    SELECTION,
    SELECTION_STATE,
    artifacts_dir,
    entries,
    entry,
    offer_selected_models,
    serving_state,
)
from core.errors import CoreError
from core.evaluation.metrics import (
    operating_stats,
    threshold_for_sensitivity,
    threshold_for_specificity,
    threshold_sweep,
)
from core.store.registry import champion, save_operating_point
from core.store.serving_state import OperatingPoint
from core.web.callbacks import Callbacks
from core.web.login import current_user, require_analyst

callbacks = Callbacks()
offer_selected_models(callbacks, ids.OP_MODEL)

DEFAULT_BAND = [0.35, 0.65]
TARGETS = [
    {"label": "target sensitivity", "value": "sensitivity"},
    {"label": "target specificity", "value": "specificity"},
]
TOOLTIP = {"placement": "bottom", "always_visible": True}


def _controls() -> dbc.Card:
    target = dbc.InputGroup(
        [
            dbc.Select(id=ids.OP_TARGET_KIND, options=TARGETS, value="sensitivity"),
            dbc.Input(id=ids.OP_TARGET_VALUE, type="number", min=0, max=1, step=0.01, value=0.9),
            dbc.Button("Apply", id=ids.OP_TARGET_BUTTON, color="secondary"),
        ],
        className="mt-3",
        size="sm",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                *model_picker(ids.OP_MODEL),
                dbc.Label("Threshold on the positive-class probability", className="mt-3"),
                dcc.Slider(
                    id=ids.OP_THRESHOLD,
                    min=0,
                    max=1,
                    step=0.01,
                    value=0.5,
                    marks={0: "0", 0.5: "0.5", 1: "1"},
                    tooltip=TOOLTIP,
                ),
                target,
                dbc.Label("Review band (uncertain: refer)", className="mt-3"),
                dcc.RangeSlider(
                    id=ids.OP_BAND, min=0, max=1, step=0.01, value=DEFAULT_BAND, marks={0: "0", 1: "1"}, tooltip=TOOLTIP
                ),
                dbc.Label("Prevalence in the target population", className="mt-3"),
                dbc.Input(
                    id=ids.OP_PREVALENCE,
                    inputmode="decimal",
                    debounce=True,
                    placeholder="test-set prevalence (e.g. 0.05 or 5%)",
                ),
                dbc.FormFeedback(id=ids.OP_PREVALENCE_ERROR, type="invalid"),
                dbc.Input(id=ids.OP_NOTE, placeholder="note: why this operating point", className="mt-3"),
                html.Div(id=ids.OP_IN_FORCE, className="mt-2"),
                dcc.Store(id=ids.OP_LOADED),
                dbc.Button("Save as operating point", id=ids.OP_SAVE_BUTTON, color="primary", className="mt-2"),
                html.Div(id=ids.OP_SAVE_RESULT, className="mt-2"),
                html.H6("Versions (newest first; the latest is served)", className="mt-3"),
                table(ids.OP_HISTORY, page_size=8),
            ]
        )
    )


def layout() -> dbc.Tab:
    """Controls on the left; the figures at the threshold, its confusion matrix and the sweep on the right."""
    results = [html.Div(id=ids.OP_STATS), graph(ids.OP_MATRIX), graph(ids.OP_CURVE)]
    row = dbc.Row([dbc.Col(_controls(), lg=4), dbc.Col(results, lg=8)], className="mt-2 g-3")
    return dbc.Tab(html.Div(row, id=ids.OP_PANEL), label="Operating point", tab_id="operating")


def parse_prevalence(text: str | None) -> tuple[float | None, str | None]:
    """The prevalence typed ("0.05" or "5%"), or None for the test set's own; with the error to show, if any.

    A value the analyst mistyped is never replaced silently: the test set's
    prevalence is used, and the error says so beside the field.
    """
    typed = (text or "").strip()
    if not typed:
        return None, None
    try:
        value = float(typed.removesuffix("%").replace(",", ".")) / (100 if typed.endswith("%") else 1)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:  # NaN fails too
        return None, f"Not a prevalence: {typed[:20]!r}. Enter a share between 0 and 1 (e.g. 0.05) or a percentage."
    return value, None


def stats_table(stats: dict, *, test_set: bool) -> dbc.Table:
    """Sensitivity, specificity, predictive values at the prevalence, and the share referred for review.

    Args:
        test_set: Whether the prevalence is the test set's own (none, or no valid one, was typed); the rows say so.
    """

    def fmt(value):
        return "n/a" if value is None else f"{value:.3f}"

    prevalence = f"{'the test set’s prevalence' if test_set else 'prevalence'} {stats['prevalence']:.3f}"
    rows = [
        ("Sensitivity", fmt(stats["sensitivity"])),
        ("Specificity", fmt(stats["specificity"])),
        (f"PPV at {prevalence}", fmt(stats["ppv"])),
        (f"NPV at {prevalence}", fmt(stats["npv"])),
        ("Referred for review (in band)", "n/a" if stats["referred"] is None else f"{stats['referred']:.1%}"),
    ]
    body = html.Tbody([html.Tr([html.Th(name), html.Td(value)]) for name, value in rows])
    return dbc.Table([body], bordered=False, size="sm", className="w-auto")


def _in_force(chosen: Entry) -> OperatingPoint:
    """The operating point `chosen` is served with now: its latest saved version, else its fitted one."""
    return serving_state().in_force(chosen.run.run_id, chosen.model.name, OperatingPoint.fitted(chosen.model.headline))


def _slider_threshold(point: OperatingPoint) -> float:
    """The threshold the slider shows for `point`: a saved 0.0 is a threshold, not "none" (0.5 only for none)."""
    return 0.5 if point.threshold is None else point.threshold


def _loaded(chosen: Entry, version: int) -> dict:
    """What `OP_LOADED` holds: the model the sliders are for, and the version they started from."""
    return {"run_id": chosen.run.run_id, "model": chosen.model.name, "version": version}


def _same_model(loaded: dict | None, chosen: Entry) -> bool:
    return bool(loaded) and (loaded["run_id"], loaded["model"]) == (chosen.run.run_id, chosen.model.name)


@callbacks(
    Output(ids.OP_THRESHOLD, "value"),
    Output(ids.OP_BAND, "value"),
    Output(ids.OP_LOADED, "data"),
    Input(ids.OP_MODEL, "value"),
    Input(ids.OP_TARGET_BUTTON, "n_clicks"),
    State(ids.OP_TARGET_KIND, "value"),
    State(ids.OP_TARGET_VALUE, "value"),
    State(ids.OP_LOADED, "data"),
    *SELECTION,
)
def set_threshold(
    label: str | None,
    _clicks: int | None,
    kind: str,
    target: float | None,
    loaded: dict | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> tuple:
    """Load the picked model's operating point in force into the sliders, or solve for a target sensitivity.

    A change of selection that leaves the sliders' model as it was keeps
    the analyst's values; one that names another model (the picker, or
    another run whose model has the picker's name) loads that model's.
    """
    chosen = entry(label, run_id, models, compare_id)
    if not chosen.run.is_binary:
        raise PreventUpdate
    if ctx.triggered_id != ids.OP_TARGET_BUTTON:
        if _same_model(loaded, chosen):
            raise PreventUpdate
        point = _in_force(chosen)
        band = [round(edge, 3) for edge in point.review_band]
        return round(_slider_threshold(point), 3), band, _loaded(chosen, point.version)
    if target is None or not 0 < target <= 1:
        raise PreventUpdate
    labels, probs = tables.calibrated_test(chosen.run, chosen.model)
    positive = chosen.run.class_names.index(chosen.run.positive_class)
    choose = threshold_for_sensitivity if kind == "sensitivity" else threshold_for_specificity
    return choose(labels, probs[:, positive], target=target, positive=positive, decimals=3), no_update, no_update


@callbacks(
    Output(ids.OP_STATS, "children"),
    Output(ids.OP_MATRIX, "figure"),
    Output(ids.OP_CURVE, "figure"),
    Output(ids.OP_PREVALENCE, "invalid"),
    Output(ids.OP_PREVALENCE_ERROR, "children"),
    Input(ids.OP_MODEL, "value"),
    Input(ids.OP_THRESHOLD, "value"),
    Input(ids.OP_BAND, "value"),
    Input(ids.OP_PREVALENCE, "value"),
    *SELECTION_STATE,
)
def explore_threshold(
    label: str | None,
    threshold: float,
    band: list[float],
    typed_prevalence: str | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> tuple:
    """Figures, confusion matrix and sensitivity/specificity sweep at the chosen threshold (two classes only).

    An invalid prevalence is flagged on its field (`parse_prevalence`); the
    figures then use the test set's, and say so.
    """
    chosen = entry(label, run_id, models, compare_id)
    run = chosen.run
    prevalence, error = parse_prevalence(typed_prevalence)
    if not run.is_binary:
        message = f"The threshold explorer is for two-class tasks; this run has {len(run.class_names)} classes."
        blank = figures.empty_figure("")
        return dbc.Alert(message, color="secondary"), figures.empty_figure(message), blank, bool(error), error
    labels, probs = tables.calibrated_test(run, chosen.model)
    positive = run.class_names.index(run.positive_class)
    scores = probs[:, positive]
    stats = operating_stats(
        labels, scores, threshold=threshold, prevalence=prevalence, band=tuple(band), positive=positive
    )
    matrix = [[stats["tn"], stats["fp"]], [stats["fn"], stats["tp"]]]
    order = [run.class_names[1 - positive], run.positive_class]
    sweep = pd.DataFrame(threshold_sweep(labels, scores, positive=positive))
    return (
        stats_table(stats, test_set=prevalence is None),
        figures.fig_confusion_matrix(matrix, order, title=f"{chosen.label} at threshold {threshold:.2f}"),
        figures.fig_threshold_curve(sweep, threshold=threshold, band=band),
        bool(error),
        error,
    )


def _not_saved(loaded: dict | None, chosen: Entry, current: OperatingPoint) -> str | None:
    """Why a save from sliders loaded as `loaded` must not replace `current` unseen (None: it may)."""
    if not _same_model(loaded, chosen):
        return f"Not saved: the sliders were set for another model. Check them for {chosen.model.name}, then save."
    if loaded["version"] != current.version:
        return (
            f"Not saved: another version was saved after you started from version {loaded['version']}: "
            f"{tables.point_words(current.to_dict())}. Save again to replace it with yours."
        )
    return None


@callbacks(
    Output(ids.OP_SAVE_RESULT, "children"),
    Output(ids.OP_LOADED, "data", allow_duplicate=True),
    Input(ids.OP_SAVE_BUTTON, "n_clicks"),
    State(ids.OP_MODEL, "value"),
    State(ids.OP_THRESHOLD, "value"),
    State(ids.OP_BAND, "value"),
    State(ids.OP_NOTE, "value"),
    State(ids.OP_LOADED, "data"),
    *SELECTION_STATE,
    prevent_initial_call=True,
)
def save_point(
    _clicks: int | None,
    label: str | None,
    threshold: float,
    band: list[float],
    note: str | None,
    loaded: dict | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> tuple:
    """Store the threshold and review band as the model's next operating-point version; served at once.

    Refused, in words, when the version in force is not the one the sliders
    started from (`_not_saved`); the refusal moves `OP_LOADED` to the version
    now in force, so a second click saves over it knowingly.
    """
    chosen = entry(label, run_id, models, compare_id)
    if not chosen.run.is_binary:
        return dbc.Alert("Operating points are saved for two-class models only.", color="secondary"), no_update
    current = _in_force(chosen)
    try:
        require_analyst()  # only ANALYST_USERS may change what is served
        refused = _not_saved(loaded, chosen, current)
        if refused:
            return dbc.Alert(refused, color="warning"), _loaded(chosen, current.version)
        saved = save_operating_point(
            artifacts_dir(),
            serving_state(),
            chosen.run.run_id,
            chosen.model.name,
            threshold=threshold,
            review_band=tuple(band),
            user=current_user(),
            note=note,
        )
    except CoreError as exc:
        return dbc.Alert(str(exc), color="danger"), no_update
    low, high = saved["review_band"]
    message = (
        f"Saved as version {saved['version']}: {chosen.model.name} of {chosen.run.run_id} is now served with "
        f"threshold {saved['threshold']:.3f} and review band {low:.3f}–{high:.3f}."
    )
    return dbc.Alert(message, color="success"), _loaded(chosen, saved["version"])


def _served_as(chosen: Entry) -> str:
    """Whether the model is the champion, or served only to a request that names it."""
    current = champion(artifacts_dir(), serving_state())
    if current is not None and (current["run_id"], current["model"]) == (chosen.run.run_id, chosen.model.name):
        return "served as the champion"
    return "used only when a request names this model (it is not the champion)"


def _rounded(threshold: float, band: Sequence[float]) -> tuple[float, ...]:
    """A threshold and band as the sliders hold them (three decimals), to compare with the version in force."""
    return tuple(round(value, 3) for value in (threshold, *band))


@callbacks(
    Output(ids.OP_IN_FORCE, "children"),
    Input(ids.OP_LOADED, "data"),
    Input(ids.OP_THRESHOLD, "value"),
    Input(ids.OP_BAND, "value"),
    Input(ids.OP_SAVE_RESULT, "children"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    *SELECTION_STATE,
)
def show_in_force(
    loaded: dict | None,
    threshold: float | None,
    band: list[float] | None,
    _saved: object,
    _ticks: int | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> dbc.Alert:
    """What the sliders' model is served with now, and whether the sliders differ from it (unsaved)."""
    if not loaded or threshold is None or not band:
        raise PreventUpdate
    chosen = next((e for e in entries(run_id, models, compare_id) if _same_model(loaded, e)), None)
    if chosen is None:
        raise PreventUpdate
    current = _in_force(chosen)
    text = [f"In force: {tables.point_words(current.to_dict())}; {_served_as(chosen)}."]
    unsaved = _rounded(threshold, band) != _rounded(_slider_threshold(current), current.review_band)
    if unsaved:
        text.append(" The sliders are not saved: predictions use the version in force.")
    moved = current.version != loaded["version"]
    if moved:
        text.append(f" It was saved after you started from version {loaded['version']}.")
    return dbc.Alert(text, color="warning" if unsaved or moved else "light", className="py-2 small")


@callbacks(
    Output(ids.OP_HISTORY, "data"),
    Output(ids.OP_HISTORY, "columns"),
    Input(ids.OP_MODEL, "value"),
    Input(ids.OP_SAVE_RESULT, "children"),
    Input(ids.REFRESH_INTERVAL, "n_intervals"),
    *SELECTION_STATE,
)
def point_history(
    label: str | None,
    _saved: object,
    _ticks: int | None,
    run_id: str | None,
    models: list[str] | None,
    compare_id: str | None,
) -> tuple:
    """Every saved version of the model's operating point, with who saved it, when and why; then the fitted one."""
    chosen = entry(label, run_id, models, compare_id)
    versions = serving_state().operating_point_history(chosen.run.run_id, chosen.model.name)
    frame = tables.operating_point_history_table(versions, chosen.model.headline.get("operating_point", {}))
    return frame.to_dict("records"), [{"name": c, "id": c} for c in frame.columns]
