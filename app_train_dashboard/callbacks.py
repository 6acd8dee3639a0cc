"""Callbacks: read the inputs, ask `data`, `tables`, `figures` or `core`, return.

Registered on an app by `register_callbacks(app, settings)`, so tests can
build an app over any artifacts folder.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app_train_dashboard import data, figures, ids, tables
from app_train_dashboard.layout import GRAPH_CONFIG, empty_state
from core.errors import CoreError
from core.evaluation.metrics import operating_stats, threshold_for_sensitivity, threshold_for_specificity, threshold_sweep
from core.store.registry import champion, promote, save_operating_point
from core.store.runs import load_run, run_choices, training_metrics
from core.settings import Settings

SELECTION = [Input(ids.RUN_SELECT, "value"), Input(ids.MODEL_CHECKLIST, "value"), Input(ids.COMPARE_SELECT, "value")]
GOOD = {"backgroundColor": "#d3f9d8", "fontWeight": "600"}


def _options(entries) -> list[dict]:
    return [{"label": e.label, "value": e.label} for e in entries]


def _entry(entries, label):
    return next((e for e in entries if e.label == label), entries[0] if entries else None)


def register_callbacks(app: Dash, settings: Settings) -> None:
    root = settings.artifacts_dir

    def entries(run_id, models, compare_id):
        return data.selected(root, run_id, models, compare_id)

    @app.callback(
        Output(ids.RUN_SELECT, "options"),
        Output(ids.RUN_SELECT, "value"),
        Output(ids.COMPARE_SELECT, "options"),
        Output(ids.RUN_ALERTS, "children"),
        Output(ids.EMPTY_STATE, "children"),
        Output(ids.MAIN_CONTENT, "style"),
        Output(ids.CHAMPION_BADGE, "children"),
        Input(ids.REFRESH_BUTTON, "n_clicks"),
        Input(ids.REFRESH_INTERVAL, "n_intervals"),
        State(ids.RUN_SELECT, "value"),
    )
    def refresh_runs(_clicks, _ticks, current):
        choices = run_choices(root)
        if not choices:
            return [], None, [], [], empty_state(), {"display": "none"}, ""
        options = [{"label": ("⚠ " if not c["usable"] else "") + c["label"], "value": c["run_id"], "disabled": not c["usable"]} for c in choices]
        usable = [c["run_id"] for c in choices if c["usable"]]
        value = current if current in usable else (usable[0] if usable else None)
        alerts = [
            dbc.Alert(f"Run {c['run_id']} is listed but skipped in the figures: {c['warning']}.", color="warning", className="py-2 mb-2")
            for c in choices if not c["usable"]
        ]
        best = champion(root)
        badge = f"Champion: {best['model']} of {best['run_id']} ({best['source']})" if best else "No champion yet"
        return options, value, [o for o in options if not o["disabled"]], alerts, None, {}, badge

    @app.callback(Output(ids.MODEL_CHECKLIST, "options"), Output(ids.MODEL_CHECKLIST, "value"), Input(ids.RUN_SELECT, "value"))
    def list_models(run_id):
        if not run_id:
            raise PreventUpdate
        names = list(load_run(root, run_id).models)
        return [{"label": n, "value": n} for n in names], names

    @app.callback(Output(ids.LEARNING_CURVE_GRAPH, "figure"), *SELECTION, Input(ids.CURVE_METRIC, "value"), Input(ids.CURVE_LOG, "value"))
    def learning_curves(run_id, models, compare_id, metric, log_scale):
        chosen = entries(run_id, models, compare_id)
        if not chosen:
            return figures.empty_figure("Select a run and at least one model")
        history, best = data.learning_history(root, chosen)
        return figures.fig_learning_curves(history, metric=metric, log_y="log" in (log_scale or []), best_epochs=best)

    @app.callback(
        Output(ids.COMPARISON_TABLE, "data"),
        Output(ids.COMPARISON_TABLE, "columns"),
        Output(ids.COMPARISON_TABLE, "style_data_conditional"),
        Output(ids.SIGNIFICANCE_LIST, "children"),
        Output(ids.PROMOTE_MODEL, "options"),
        *SELECTION,
    )
    def comparison(run_id, models, compare_id):
        chosen = entries(run_id, models, compare_id)
        table = tables.comparison_table([(e.label, e.model) for e in chosen])
        styles = [
            {"if": {"row_index": row, "column_id": column}, **GOOD}
            for column, rows in tables.best_cells(table).items() for row in rows
        ]
        columns = [{"name": c.replace("_", " "), "id": c, "type": "numeric" if table[c].dtype.kind in "fi" else "text",
                    "format": {"specifier": ".3f"} if table[c].dtype.kind == "f" else None} for c in table.columns]
        shown = {e.model.name for e in chosen if e.run.run_id == run_id}
        sentences = [html.Li(c["text"]) for e in chosen[:1] for c in e.run.comparisons if {c["a"], c["b"]} <= shown]
        promotable = [{"label": n, "value": n} for n in sorted(shown)]
        return table.to_dict("records"), columns, styles, sentences or [html.Li("No paired tests for this selection.")], promotable

    @app.callback(Output(ids.REPORT_MODEL, "options"), Output(ids.REPORT_MODEL, "value"),
                  Output(ids.OP_MODEL, "options"), Output(ids.OP_MODEL, "value"),
                  Output(ids.ERRORS_MODEL, "options"), Output(ids.ERRORS_MODEL, "value"), *SELECTION)
    def model_pickers(run_id, models, compare_id):
        options = _options(entries(run_id, models, compare_id))
        first = options[0]["value"] if options else None
        return options, first, options, first, options, first

    @app.callback(Output(ids.REPORT_TABLE, "data"), Output(ids.REPORT_TABLE, "columns"), Input(ids.REPORT_MODEL, "value"), *SELECTION)
    def classification_report(label, run_id, models, compare_id):
        entry = _entry(entries(run_id, models, compare_id), label)
        if entry is None:
            raise PreventUpdate
        table = tables.classification_report_table(entry.model.headline.get("classification_report", {}))
        columns = [{"name": c, "id": c, "type": "numeric", "format": {"specifier": ".3f"}} if c != "class" else {"name": c, "id": c} for c in table.columns]
        return table.to_dict("records"), columns

    @app.callback(Output(ids.CONFUSION_MATRICES, "children"), *SELECTION, Input(ids.CONFUSION_NORMALIZE, "value"))
    def confusion_matrices(run_id, models, compare_id, normalize):
        return [
            dbc.Col(dcc.Graph(figure=figures.fig_confusion_matrix(e.model.headline["confusion_matrix"], e.run.class_names,
                                                                  normalize=normalize == "rows", title=e.label), config=GRAPH_CONFIG), lg=4, md=6)
            for e in entries(run_id, models, compare_id) if "confusion_matrix" in e.model.headline
        ]

    @app.callback(Output(ids.ROC_GRAPH, "figure"), Output(ids.PR_GRAPH, "figure"), *SELECTION)
    def roc_and_pr(run_id, models, compare_id):
        roc, pr = {}, {}
        for e in entries(run_id, models, compare_id):
            for name, curve in e.model.headline.get("roc", {}).items():
                roc[e.label if e.run.is_binary else f"{e.label}: {name}"] = curve
            for name, curve in e.model.headline.get("pr", {}).items():
                pr[e.label if e.run.is_binary else f"{e.label}: {name}"] = curve
        if not roc:
            return figures.empty_figure("No ROC data for this selection"), figures.empty_figure("No precision-recall data")
        return figures.fig_roc(roc), figures.fig_precision_recall(pr)

    @app.callback(Output(ids.CALIBRATION_GRAPHS, "children"), *SELECTION)
    def calibration(run_id, models, compare_id):
        return [
            dbc.Col(dcc.Graph(figure=figures.fig_reliability(e.model.headline["calibration"], title=f"{e.label}: reliability"),
                              config=GRAPH_CONFIG), lg=6)
            for e in entries(run_id, models, compare_id) if "calibration" in e.model.headline
        ]

    @app.callback(
        Output(ids.OP_THRESHOLD, "value"), Output(ids.OP_BAND, "value"),
        Input(ids.OP_MODEL, "value"), Input(ids.OP_TARGET_BUTTON, "n_clicks"),
        State(ids.OP_TARGET_KIND, "value"), State(ids.OP_TARGET_VALUE, "value"), *[State(s.component_id, s.component_property) for s in SELECTION],
    )
    def set_threshold(label, _clicks, kind, target, run_id, models, compare_id):
        entry = _entry(entries(run_id, models, compare_id), label)
        if entry is None or not entry.run.is_binary:
            raise PreventUpdate
        point = {**entry.model.headline.get("operating_point", {}), **(entry.model.operating_point or {})}
        if ctx.triggered_id != ids.OP_TARGET_BUTTON:
            return round(point.get("threshold") or 0.5, 3), point.get("review_band", [0.35, 0.65])
        if target is None or not 0 < target <= 1:
            raise PreventUpdate
        labels, probs = tables.calibrated_test(entry.run, entry.model)
        positive = entry.run.class_names.index(entry.run.positive_class)
        choose = threshold_for_sensitivity if kind == "sensitivity" else threshold_for_specificity
        threshold = choose(labels, probs[:, positive], target=target, positive=positive)
        return round(float(threshold), 3), no_update

    @app.callback(
        Output(ids.OP_STATS, "children"), Output(ids.OP_MATRIX, "figure"), Output(ids.OP_CURVE, "figure"),
        Input(ids.OP_MODEL, "value"), Input(ids.OP_THRESHOLD, "value"), Input(ids.OP_BAND, "value"), Input(ids.OP_PREVALENCE, "value"),
        *[State(s.component_id, s.component_property) for s in SELECTION],
    )
    def explore_threshold(label, threshold, band, prevalence, run_id, models, compare_id):
        entry = _entry(entries(run_id, models, compare_id), label)
        if entry is None:
            raise PreventUpdate
        if not entry.run.is_binary:
            message = "The threshold explorer is for two-class tasks; this run has " + str(len(entry.run.class_names)) + " classes."
            return dbc.Alert(message, color="secondary"), figures.empty_figure(message), figures.empty_figure("")
        labels, probs = tables.calibrated_test(entry.run, entry.model)
        positive = entry.run.class_names.index(entry.run.positive_class)
        scores = probs[:, positive]
        stats = operating_stats(labels, scores, threshold=threshold, prevalence=prevalence, band=tuple(band), positive=positive)
        negative = entry.run.class_names[1 - positive]
        matrix = [[stats["tn"], stats["fp"]], [stats["fn"], stats["tp"]]]
        summary = _stats_table(stats)
        return (
            summary,
            figures.fig_confusion_matrix(matrix, [negative, entry.run.positive_class], title=f"{entry.label} at threshold {threshold:.2f}"),
            figures.fig_threshold_curve(pd.DataFrame(threshold_sweep(labels, scores, positive=positive)), threshold=threshold, band=band),
        )

    @app.callback(
        Output(ids.OP_SAVE_RESULT, "children"), Input(ids.OP_SAVE_BUTTON, "n_clicks"),
        State(ids.OP_MODEL, "value"), State(ids.OP_THRESHOLD, "value"), State(ids.OP_BAND, "value"),
        *[State(s.component_id, s.component_property) for s in SELECTION], prevent_initial_call=True,
    )
    def save_point(_clicks, label, threshold, band, run_id, models, compare_id):
        entry = _entry(entries(run_id, models, compare_id), label)
        if entry is None or not entry.run.is_binary:
            return dbc.Alert("Operating points are saved for two-class models only.", color="secondary")
        try:
            save_operating_point(entry.run.path, entry.model.name, threshold=threshold, review_band=tuple(band))
        except CoreError as exc:
            return dbc.Alert(str(exc), color="danger")
        return dbc.Alert(f"Saved: {entry.model.name} of {entry.run.run_id} now uses threshold {threshold:.2f} "
                         f"and review band {band[0]:.2f}–{band[1]:.2f}.", color="success")

    @app.callback(
        Output(ids.ERRORS_TRUE, "options"), Output(ids.ERRORS_PREDICTED, "options"), Output(ids.ERRORS_GALLERY, "children"),
        Input(ids.ERRORS_MODEL, "value"), Input(ids.ERRORS_TRUE, "value"), Input(ids.ERRORS_PREDICTED, "value"),
        *[State(s.component_id, s.component_property) for s in SELECTION],
    )
    def errors_gallery(label, true, predicted, run_id, models, compare_id):
        entry = _entry(entries(run_id, models, compare_id), label)
        if entry is None:
            raise PreventUpdate
        classes = entry.run.class_names
        worst = tables.worst_errors(entry.run, entry.model, true=true, predicted=predicted)
        cards = [_error_card(entry.run, row) for row in worst.itertuples()]
        return classes, classes, cards or [dbc.Col(dbc.Alert("No misclassified test items for this filter.", color="success"))]

    @app.callback(
        Output(ids.AUDIT_SUMMARY, "children"), Output(ids.BALANCE_GRAPH, "figure"),
        Output(ids.GROUPS_TABLE, "data"), Output(ids.AUDIT_TABLE, "data"), Input(ids.RUN_SELECT, "value"),
    )
    def dataset(run_id):
        if not run_id:
            raise PreventUpdate
        run = load_run(root, run_id)
        if run.split is None:
            return dbc.Alert("This run has no readable split.csv.", color="warning"), figures.empty_figure("No split"), [], []
        audit = run.audit
        summary = dbc.Alert(
            f"{audit.get('n_files', '?')} files; {len(audit.get('unreadable', []))} unreadable, "
            f"{len(audit.get('duplicates', []))} duplicate sets, {len(audit.get('conflicts', []))} label conflicts; "
            f"imbalance ratio {audit.get('imbalance_ratio', 1):.1f}" + (" (imbalanced)" if audit.get("imbalanced") else ""),
            color="light",
        )
        return (summary, figures.fig_class_balance(run.split), tables.group_counts(run.split).to_dict("records"),
                tables.audit_findings(audit).to_dict("records"))

    @app.callback(
        Output(ids.PROMOTE_MODAL, "is_open"), Output(ids.PROMOTE_MODAL_TEXT, "children"), Output(ids.PROMOTE_RESULT, "children"),
        Input(ids.PROMOTE_BUTTON, "n_clicks"), Input(ids.PROMOTE_CONFIRM, "n_clicks"), Input(ids.PROMOTE_CANCEL, "n_clicks"),
        State(ids.PROMOTE_MODEL, "value"), State(ids.RUN_SELECT, "value"), prevent_initial_call=True,
    )
    def promote_model(_open, _confirm, _cancel, model, run_id):
        if ctx.triggered_id == ids.PROMOTE_BUTTON:
            if not model:
                return False, no_update, dbc.Alert("Choose the model to promote first.", color="secondary")
            return True, f"Serve {model} of run {run_id} to clinicians from now on?", no_update
        if ctx.triggered_id == ids.PROMOTE_CANCEL:
            return False, no_update, no_update
        try:
            entry = promote(root, run_id, model, by="dashboard")
        except CoreError as exc:
            return False, no_update, dbc.Alert(str(exc), color="danger")
        return False, no_update, dbc.Alert(f"{entry['model']} of {entry['run_id']} is now the champion.", color="success")

    @app.callback(
        Output(ids.DOWNLOAD, "data"), Input(ids.EXPORT_COMPARISON_BUTTON, "n_clicks"), Input(ids.EXPORT_METRICS_BUTTON, "n_clicks"),
        *[State(s.component_id, s.component_property) for s in SELECTION], prevent_initial_call=True,
    )
    def export_csv(_comparison, _metrics, run_id, models, compare_id):
        if ctx.triggered_id == ids.EXPORT_METRICS_BUTTON:
            return dcc.send_data_frame(training_metrics(root).to_csv, "training_metrics.csv", index=False)
        chosen = entries(run_id, models, compare_id)
        table = tables.comparison_table([(e.label, e.model) for e in chosen])
        return dcc.send_data_frame(table.to_csv, f"comparison_{run_id}.csv", index=False)


def _stats_table(stats: dict) -> dbc.Table:
    def fmt(value):
        return "n/a" if value is None else f"{value:.3f}"

    rows = [
        ("Sensitivity", fmt(stats["sensitivity"])),
        ("Specificity", fmt(stats["specificity"])),
        (f"PPV at prevalence {stats['prevalence']:.3f}", fmt(stats["ppv"])),
        (f"NPV at prevalence {stats['prevalence']:.3f}", fmt(stats["npv"])),
        ("Referred for review (in band)", "n/a" if stats["referred"] is None else f"{stats['referred']:.1%}"),
    ]
    return dbc.Table([html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in rows])], bordered=False, size="sm", className="w-auto")


def _error_card(run, row) -> dbc.Col:
    picture = data.thumbnail(run, row.path)
    body = [
        html.Img(src=picture, className="img-fluid mb-2", alt="thumbnail") if picture else html.Div("unreadable file", className="text-muted"),
        html.Div([html.B("true: "), row.true]),
        html.Div([html.B("predicted: "), row.predicted]),
        html.Div(row.evidence, className="small"),
        html.Div(f"loss {row.loss:.2f}", className="text-muted small"),
        html.Div(str(row.path).rsplit("/", 1)[-1], className="text-muted small text-truncate"),
    ]
    if run.modality == "sound":
        audio = data.audio_data_uri(row.path)
        if audio:
            body.append(html.Audio(src=audio, controls=True, className="w-100 mt-1"))
    return dbc.Col(dbc.Card(dbc.CardBody(body), className="h-100 error-card"), lg=3, md=4, sm=6)
