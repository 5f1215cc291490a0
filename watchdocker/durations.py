"""Go-style durations (`5m`, `1h30m`, `250ms`) as the seed config and Go tools write them."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# ASCII digits only: `\d` would take any Unicode digit.
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_WHOLE = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d))+")


def parse_duration(value: object) -> timedelta:
    """A timedelta from `90`, `90s`, `5m`, `1h30m`, `250ms` or a timedelta; ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration (examples: 30s, 5m, 1h30m)")
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # inf, nan, beyond timedelta's range
        raise ValueError(f"{value!r} is out of range for a duration") from None
