"""Wall-clock helpers: times of day as minutes, local times that a person typed, and the JSON
form of an instant (`iso`)."""

from __future__ import annotations

import datetime as dt
import re

import pendulum

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.memo import per_text

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")

# Every date or date-time a person or a file gives is read here, and must lie in this range:
# year 1 or 9999 overflowed on the way to UTC (OverflowError), and no clinic books past it.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
DAY_RANGE = f"between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"


def iso(value: dt.datetime | None) -> str | None:
    """UTC, to the second, with Z: the JSON form of every instant (one spelling for every wing,
    so the CLI, the outbox and the server never disagree on a timestamp)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_waited(now: dt.datetime, since: dt.datetime) -> int:
    """Whole days from `since` to `now`, never below 0. Subtracted as plain datetimes: a
    pendulum DateTime's own subtraction builds a precise Interval (~0.1 ms; a ranking
    does it for every row), and for a non-negative span its days are the same."""
    return max(0, dt.datetime.__sub__(now, since).days)


def check_day(day: dt.date, field: str) -> dt.date:
    """`day` (or the date of a date-time) within FIRST_DAY..LAST_DAY, else a 4000."""
    plain = day.date() if isinstance(day, dt.datetime) else day
    if not FIRST_DAY <= plain <= LAST_DAY:
        raise ValidationError(f"{field} must be {DAY_RANGE}, got {plain.isoformat()}", field=field)
    return day


def _text_of(value: object, field: str, what: str) -> str:
    """The typed text of a date or time: a string (a list, number or object is refused)."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{field} must be {what} written as text, got {type(value).__name__}", field=field
        )
    text = value.strip()
    if not text.isascii() or not text.isprintable():
        raise ValidationError(f"{field} must be {what}, got {value!r}", field=field)
    return text


@per_text
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


@per_text
def parse_date(value: object, field: str) -> dt.date:
    """A clinic date YYYY-MM-DD, within FIRST_DAY..LAST_DAY."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return check_day(value, field)
    text = _text_of(value, field, "a date YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field
        ) from None
    return check_day(day, field)


def local_to_utc(
    naive: dt.datetime, tz: str, field: str, ambiguous: str = "earlier"
) -> pendulum.DateTime:
    """A wall time in the clinic's zone as a UTC instant.

    A time skipped by a daylight-saving jump does not exist and is refused; a time that
    occurs twice is resolved explicitly (`earlier` or `later` occurrence)."""
    check_day(naive, field)
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


def _checked(moment: dt.datetime, field: str) -> dt.datetime:
    """`moment` when its date is within FIRST_DAY..LAST_DAY (check_day keeps the date type)."""
    check_day(moment, field)
    return moment


def _datetime(
    value: object, field: str, example: str, what: str = "an ISO date-time"
) -> dt.datetime:
    if isinstance(value, dt.datetime):  # TOML writes date-times natively
        return _checked(value, field)
    if isinstance(value, dt.date):
        return _checked(dt.datetime.combine(value, dt.time()), field)
    text = _text_of(value, field, f"{what} like {example}")
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field} must be {what} like {example}, got {value!r}", field=field
        ) from None
    return _checked(parsed, field)


@per_text
def parse_instant(value: object, tz: str, field: str) -> pendulum.DateTime:
    """ISO date-time with an offset, or a local one read in the clinic's zone."""
    parsed = _datetime(value, field, "2026-11-24T09:00:00Z")
    if parsed.tzinfo is None:
        return local_to_utc(parsed, tz, field)
    return pendulum.instance(parsed.astimezone(dt.UTC), tz="UTC")


def parse_local(value: object, tz: str, field: str, ambiguous: str = "earlier") -> dt.datetime:
    """A wall time in the clinic's zone ('2026-11-24T09:00'), or one with an offset, as UTC."""
    parsed = _datetime(value, field, "2026-11-24T09:00", "a local date-time")
    if parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC)
    return local_to_utc(parsed, tz, field, ambiguous=ambiguous)
