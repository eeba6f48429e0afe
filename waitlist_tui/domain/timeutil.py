"""Wall-clock helpers: times of day as minutes, and local times that a person typed."""

from __future__ import annotations

import datetime as dt
import re

import pendulum

from waitlist_tui.domain.errors import ValidationError

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_hhmm(value: object, field: str) -> int:
    """'09:30' -> 570. 24:00 is allowed as the end of a day."""
    match = _HHMM.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValidationError(
            f"{field} must be a time of day like 09:00, got {value!r}", field=field
        )
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValidationError(f"{field} {value!r} is not a time of day", field=field)
    return hours * 60 + minutes


def fmt_hhmm(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    text = str(value).strip() if value is not None else ""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field
        ) from None


def local_to_utc(
    naive: dt.datetime, tz: str, field: str, ambiguous: str = "earlier"
) -> pendulum.DateTime:
    """A wall time in the clinic's zone as a UTC instant.

    A time skipped by a daylight-saving jump does not exist and is refused; a time that
    occurs twice is resolved explicitly (`earlier` or `later` occurrence)."""
    zone = pendulum.timezone(tz)
    fold = 0 if ambiguous == "earlier" else 1
    candidate = naive.replace(tzinfo=zone, fold=fold)
    back = candidate.astimezone(dt.UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{field} {naive:%Y-%m-%d %H:%M} does not exist in {tz} (clocks jump forward)",
            field=field,
        )
    return pendulum.instance(candidate.astimezone(dt.UTC), tz="UTC")


def parse_instant(value: object, tz: str, field: str) -> pendulum.DateTime:
    """ISO date-time with an offset, or a local one read in the clinic's zone."""
    text = str(value).strip() if value is not None else ""
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field} must be an ISO date-time, got {value!r}", field=field
        ) from None
    if parsed.tzinfo is None:
        return local_to_utc(parsed, tz, field)
    return pendulum.instance(parsed.astimezone(dt.UTC), tz="UTC")
