"""The dashboard's tabs, one module each: its `layout()` and its `callbacks`, in the order they are shown.

They are shown in `GROUPS`, in the order of an analyst's work: what the run
is (its curves, how it was trained, its data, what each class looks like),
how good its models are (and promoting one), and what is served (operating
point, serving history, clinic feedback). `layout.tab_bar` keeps the twelve
in one row and marks where each group starts.
"""

from app_train_dashboard.tabs import (
    calibration,
    comparison,
    curves,
    dataset,
    errors,
    examples,
    monitoring,
    operating,
    reports,
    roc,
    serving,
    settings,
)

GROUPS = (
    (curves, settings, dataset, examples),
    (comparison, reports, roc, calibration, errors),
    (operating, serving, monitoring),
)
TABS = tuple(tab for group in GROUPS for tab in group)
