"""Dates and times in messages to clients, in the clinic's locale, with Babel (CLDR).

A clinic names its locale in its set-up file (`[clinic] locale = "fr_FR"`, kept in
clinic.settings["locale"]); a slot then reads "lun. 23 nov. 09:00" in French, "Mo., 23. Nov.,
09:00" in German, "Mon 23 Nov, 09:00" in British English: the locale's own abbreviated
weekday-day-month (CLDR skeleton MMMEd) and its short time, joined as the locale joins them.
A clinic without the setting keeps the desk's English wording, "Mon 23 Nov 09:00".

The typographic spaces CLDR puts in some patterns (U+202F before "PM" in en_US, U+00A0) are
made plain spaces: they are not in GSM-7, and one would send every text as UCS-2. Month and
day names are kept as the locale spells them: French "août" and "févr." carry û and é, and
û is not in GSM-7 (sms_fit.py warns at set-up when a clinic's dates can do that).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain.errors import ValidationError

SETTING = "locale"
DEFAULT_PATTERN = "EEE dd MMM HH:mm"  # the desk's English wording, as before locales
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " "})


def parse_locale(value: Any, where: str = "clinic.locale") -> str | None:
    """The set-up file's locale, checked against Babel's data: "fr_FR", "de-DE" -> "de_DE"."""
    from babel import Locale, UnknownLocaleError

    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise ValidationError(f"{where} must be a locale name such as en_GB", field=where)
    try:
        locale = Locale.parse(value.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(
            f"{where} {value!r} is not a locale Babel knows (such as en_GB, de_DE, fr_FR)",
            field=where,
        ) from None
    return str(locale)


def of(clinic: Any) -> str | None:
    """The clinic's locale, or None (the desk's English wording)."""
    value = (clinic.settings or {}).get(SETTING)
    return str(value) if value else None


def format_when(at: dt.datetime | None, time_zone: str, locale: str | None) -> str:
    """A moment as a client reads it: in the clinic's zone and locale; "" for none."""
    from babel.dates import format_datetime, format_skeleton, format_time, get_datetime_format

    if at is None:
        return ""
    zone = ZoneInfo(time_zone)
    if not locale:
        return format_datetime(at, DEFAULT_PATTERN, tzinfo=zone, locale="en_US")
    day = format_skeleton("MMMEd", at, tzinfo=zone, locale=locale)
    time = format_time(at, "short", tzinfo=zone, locale=locale)
    joined = str(get_datetime_format("short", locale=locale))
    return joined.replace("{1}", day).replace("{0}", time).translate(_SPACES)


def samples(locale: str | None, time_zone: str) -> list[str]:
    """A slot in every month and on every weekday, as this locale writes it: what sms_fit
    measures templates with (one month's name can carry a letter GSM-7 lacks)."""
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo(time_zone))  # a Monday
    moments = [base + dt.timedelta(days=d) for d in range(7)]
    moments += [base.replace(month=m, day=15) for m in range(2, 13)]
    return list(dict.fromkeys(format_when(m, time_zone, locale) for m in moments))
