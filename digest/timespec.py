"""Parsing the time expressions users type: 24h, 3d, 90m, 2026-11-24, 2026-11-24T06:00+05:00."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TimeSpecError(ValueError):
    """A time expression that could not be read; the message says what is accepted."""


def parse_since(text: str, now: datetime) -> datetime:
    """A moment in the past: `24h`, `3d`, `90m`, `2w` ago, or an ISO date/time (UTC if no offset)."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise TimeSpecError(f"'{text}' reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeSpecError(
            f"'{text}' is not a time: use a span like 24h, 3d, 90m, or a date like 2026-11-24"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise TimeSpecError(f"'{text}' is in the future")
    return moment.astimezone(UTC)
