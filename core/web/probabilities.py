"""A probability as the apps show it to a person: never as certainty.

A calibrated probability of 0.9996 printed with two decimals reads "1.00",
and 0.0004 reads "0.00": certainty, which no model has, on exactly the items
where a reader most needs to know it is a model's estimate. The ends read
">0.99" and "<0.01" (">99%" and "<1%" as percentages) instead.
"""

from __future__ import annotations


def probability(value: float, *, decimals: int = 2) -> str:
    """`value` with `decimals` decimals, never rounded to 1 or 0.

    Args:
        value: A probability in [0, 1].
        decimals: How many decimals to show (default 2).

    >>> probability(0.42), probability(0.9996), probability(0.0004), probability(0.994)
    ('0.42', '>0.99', '<0.01', '0.99')
    """
    return _bounded(value, 10.0**-decimals, f".{decimals}f")


def percent(value: float, digits: int = 0) -> str:
    """`value` as a percentage with `digits` decimals, never "100%" or "0%".

    >>> percent(0.42), percent(0.9996), percent(0.0004), percent(0.9996, 1)
    ('42%', '>99%', '<1%', '>99.9%')
    """
    return _bounded(value, 10.0 ** -(digits + 2), f".{digits}%")


def _bounded(value: float, step: float, spec: str) -> str:
    """`value` formatted by `spec`, or ">1-step" / "<step" where `spec` would round it to 1 or 0."""
    if value >= 1 - step / 2:
        return f">{1 - step:{spec}}"
    if value < step / 2:
        return f"<{step:{spec}}"
    return f"{value:{spec}}"
