"""The dashboard's tabs, one module each: its `layout()` and its `callbacks`, in the order they are shown."""

from app_train_dashboard.tabs import (
    calibration,
    comparison,
    curves,
    dataset,
    errors,
    monitoring,
    operating,
    reports,
    roc,
    serving,
)

TABS = (curves, comparison, reports, roc, calibration, operating, errors, dataset, serving, monitoring)
