"""The dashboard's tabs, one module each: its `layout()` and its `callbacks`, in the order they are shown."""

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

TABS = (
    curves,
    comparison,
    settings,
    reports,
    roc,
    calibration,
    operating,
    errors,
    examples,
    dataset,
    serving,
    monitoring,
)
