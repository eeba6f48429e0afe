"""Dates as a receptionist types them with a phone at one ear: `today`, `tomorrow`, `+2w`,
`fri`, `2026-12-01`, `12-01`, `1 dec`. The editor and the match finder read dates here, so a
date means the same thing on every screen.

A weekday name means the next such day after today (today itself is `today`), the way people
say "Friday" on a Friday meaning next week's.
"""

from __future__ import annotations

import datetime as dt
import re

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.timeutil import check_day

_OFFSET = re.compile(r"^\+\s*(\d{1,3})\s*([dwm]?)$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_MONTH = re.compile(r"^(\d{1,2})\s*([a-z]{3,9})$")
_MONTH_DAY = re.compile(r"^([a-z]{3,9})\s*(\d{1,2})$")
_MM_DD = re.compile(r"^(\d{1,2})-(\d{1,2})$")
HINT = "try today, tomorrow, +3d, +2w, +1m, fri, 1 dec or 2026-12-01"


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _month(name: str) -> int | None:
    hits = [i + 1 for i, m in enumerate(_MONTHS) if name.startswith(m)]
    return hits[0] if hits and _MONTHS[hits[0] - 1].startswith(name[:3]) else None


def _upcoming(month: int, day: int, today: dt.date) -> dt.date:
    """A day and month without a year: this year's, or next year's once it has passed."""
    this_year = dt.date(today.year, month, day)
    return this_year if this_year >= today else dt.date(today.year + 1, month, day)


def parse_quick_date(
    text: str, today: dt.date, field: str = "date", offset_from: dt.date | None = None
) -> dt.date:
    """Read a quick date relative to `today` (the clinic's date); errors name the field.

    `offset_from` moves what `+2w` counts from (the end of a range counts from its start);
    words like `tomorrow` and `fri` always mean what they mean today. The date must lie in
    timeutil's range (`+999m` or `9999-12-31` is refused, as everywhere)."""
    return check_day(_read(text, today, field, offset_from), field)


def _read(text: str, today: dt.date, field: str, offset_from: dt.date | None) -> dt.date:
    raw = " ".join(text.strip().lower().split())
    if raw in ("today", "tod", "now", "t"):
        return today
    if raw in ("tomorrow", "tom", "tmr"):
        return today + dt.timedelta(days=1)
    offset = _OFFSET.match(raw)
    if offset:
        amount, unit = int(offset.group(1)), offset.group(2) or "d"
        base = offset_from or today
        if unit == "m":
            return _add_months(base, amount)
        return base + dt.timedelta(days=amount * (7 if unit == "w" else 1))
    words = raw.removeprefix("next ")
    days = [i for i, d in enumerate(vocab.DAYS) if len(words) >= 2 and d.lower().startswith(words)]
    if len(days) == 1:
        ahead = (days[0] - today.weekday() - 1) % 7 + 1
        return today + dt.timedelta(days=ahead)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        for pattern, order in ((_DAY_MONTH, (0, 1)), (_MONTH_DAY, (1, 0))):
            found = pattern.match(raw)
            if found:
                day_text, month_text = found.group(order[0] + 1), found.group(order[1] + 1)
                month = _month(month_text)
                if month:
                    return _upcoming(month, int(day_text), today)
        found = _MM_DD.match(raw)
        if found:
            return _upcoming(int(found.group(1)), int(found.group(2)), today)
    except ValueError:
        message = f"{field}: {text.strip()!r} is not a real date"
        raise ValidationError(message, field=field) from None
    raise ValidationError(f"{field}: {text.strip()!r} is not a date ({HINT})", field=field)


def long_date(day: dt.date) -> str:
    """How a date reads back to the desk: 'Fri 27 Nov 2026'."""
    return f"{day:%a} {day.day} {day:%b %Y}"
