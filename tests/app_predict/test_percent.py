"""A probability never reads as certainty: no "100%" or "0%" on the page, in its charts or in the report."""

import pytest

from app_predict.report import percent


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (0.9999, 0, ">99%"),
        (1.0, 0, ">99%"),
        (0.994, 0, "99%"),
        (0.0001, 0, "<1%"),
        (0.0, 1, "<0.1%"),
        (0.9999, 1, ">99.9%"),
        (0.75, 1, "75.0%"),
        (0.43, 0, "43%"),
    ],
)
def test_a_probability_never_reads_as_certainty(value, digits, shown):
    assert percent(value, digits) == shown
