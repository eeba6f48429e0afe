"""An iCalendar source read into the occurrences of one window, by the field's libraries.

`icalendar` parses (VTIMEZONE, TZID, Windows zone names as Outlook writes them) and
`recurring-ical-events` expands (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides,
X-WR-TIMEZONE, DURATION). What is left here is what those libraries leave to the caller:
refusing a source that cannot be trusted (every problem names the source and the event, and
the whole source is refused, so a sync is all or nothing), the clinic's zone for floating
times, and the key an occurrence keeps from one sync to the next (UID, plus the original start
of a series member: a moved occurrence keeps its key, so it is updated, not duplicated).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain.errors import Unprocessable

MAX_BYTES = 10 * 1024 * 1024  # a clinic's 90 days are a few hundred kB; 10 MB is no calendar
MAX_OCCURRENCES = 200_000  # per source and window: a runaway rule, not a clinic's bookings
# Rules that repeat within the hour or the day are no clinic's appointments, and expand into
# millions within a window; they are refused before expansion.
TOO_FAST = {"SECONDLY", "MINUTELY", "HOURLY"}
CHUNK = dt.timedelta(days=31)

CANCELLED = "CANCELLED"
REPEATING = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")  # an event the expander reads


@dataclass(frozen=True)
class Occurrence:
    """One booked (or cancelled) stretch of a provider's time, in UTC."""

    uid: str
    recurrence_id: str  # "" for a single event; a series member's original start (UTC ISO)
    starts_at: dt.datetime
    ends_at: dt.datetime
    summary: str
    categories: tuple[str, ...]
    cancelled: bool
    all_day: bool  # the provider is away that day: blocks the day, books nobody
    sequence: int

    @property
    def key(self) -> str:
        return f"{self.uid}|{self.recurrence_id}"


@dataclass
class Parsed:
    occurrences: list[Occurrence]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def refuse(source: str, what: str, where: str = "") -> Unprocessable:
    at = f" ({where})" if where else ""
    return Unprocessable(
        f"calendar {source}: {what}{at}", field="calendar", data={"source": source}
    )


def text_of(data: bytes, source: str) -> str:
    """The source's text: at most MAX_BYTES, UTF-8 (a BOM allowed), and shaped as iCalendar."""
    if len(data) > MAX_BYTES:
        raise refuse(source, f"is {len(data) / 1e6:.1f} MB, over the {MAX_BYTES // 2**20} MB limit")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise refuse(
            source, f"is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise refuse(source, "is not iCalendar (it does not begin with BEGIN:VCALENDAR)")
    return text


def event_lines(text: str) -> list[int]:
    """The line of each VEVENT's BEGIN, in order, so an event without a UID can be named."""
    return [
        n
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def read_calendar(
    data: bytes, source: str, start: dt.datetime, end: dt.datetime, zone: str
) -> Parsed:
    """The occurrences between `start` and `end` (UTC), floating times read in `zone`."""
    return read_text(text_of(data, source), source, start, end, zone)


def read_text(
    text: str,
    source: str,
    start: dt.datetime,
    end: dt.datetime,
    zone: str,
    lines: list[int] | None = None,
) -> Parsed:
    """`read_calendar` of text already checked; `lines` are its events' BEGIN lines in the
    source when the text is a part of it (calendar/blocks.py), for naming an event."""
    import icalendar
    import recurring_ical_events

    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as err:
        raise refuse(source, f"cannot be parsed: {first_line(err)}") from None
    if isinstance(calendar, list) or calendar.name != "VCALENDAR":
        raise refuse(source, "holds more than one VCALENDAR or none")
    events = calendar.walk("VEVENT")
    lines = event_lines(text) if lines is None else lines
    series: set[str] = set()
    seen: set[str] = set()
    for n, event in enumerate(events):
        where = f"line {lines[n]}" if n < len(lines) else f"event {n + 1}"
        uid = check_event(event, source, where)
        if uid in seen or any(name in event for name in REPEATING):
            series.add(uid)
        seen.add(uid)
    local = ZoneInfo(zone)
    result = Parsed([])
    # A single event (one VEVENT of its UID, no rule, date list or override) has one
    # occurrence: its own DTSTART to its end (icalendar's Event.end: DTEND, DURATION or the
    # RFC's default). Only the rest goes to the expander, which copies every occurrence it
    # yields into a new component: two thirds of a 5,000-event first read were that. A
    # floating single event in a calendar that names X-WR-TIMEZONE goes to the expander
    # too, which reads it in that zone.
    named_zone = "X-WR-TIMEZONE" in calendar
    expand: list[Any] = []
    for component in calendar.subcomponents:
        if component.name != "VEVENT":
            expand.append(component)  # VTIMEZONEs, and what the expander leaves alone
            continue
        uid = str(component.get("UID", "")).strip()
        if uid in series or (named_zone and _floating(component)):
            expand.append(component)
            continue
        occurrence = occurrence_of(component, source, series, local, result)
        if occurrence is not None and occurrence.ends_at > start and occurrence.starts_at < end:
            result.occurrences.append(occurrence)
    calendar.subcomponents = expand
    query = recurring_ical_events.of(calendar, keep_recurrence_attributes=True)
    # A month at a time, so that the count is checked before a runaway series fills memory
    # (the library's lazy `after()` widens its own window without bound on an endless rule).
    chunk = start
    try:
        while chunk < end:
            chunk_end = min(chunk + CHUNK, end)
            for component in query.between(chunk.astimezone(local), chunk_end.astimezone(local)):
                occurrence = occurrence_of(component, source, series, local, result)
                if occurrence is None or (occurrence.starts_at < chunk and chunk > start):
                    continue  # (one that began in an earlier month was taken there)
                if not occurrence.starts_at < end:
                    continue
                result.occurrences.append(occurrence)
            if len(result.occurrences) > MAX_OCCURRENCES:
                raise refuse(
                    source, f"expands to over {MAX_OCCURRENCES:,} occurrences in the window"
                )
            chunk = chunk_end
    except Unprocessable:
        raise
    except Exception as err:  # the expander's own refusals (a broken rule, a bad date)
        raise refuse(source, f"cannot be expanded: {first_line(err)}") from None
    result.occurrences.sort(key=lambda o: (o.starts_at, o.key))
    return result


def _floating(event: Any) -> bool:
    begins = event.get("DTSTART")
    moment = getattr(begins, "dt", None)
    return isinstance(moment, dt.datetime) and moment.tzinfo is None


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def check_event(event: Any, source: str, where: str) -> str:
    """Refuse an event the expander would guess at: no UID, no or a broken DTSTART, an end
    before its start, a zone nobody defines, a rule repeating within a day. Returns its UID."""
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise refuse(source, "an event has no UID", where)
    where = f"UID {uid}, {where}"
    if "DTSTART" not in event:
        raise refuse(source, "an event has no DTSTART", where)
    begins = decoded(event, "DTSTART", source, where)
    for name in ("DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"):
        if name in event:
            decoded(event, name, source, where)
    if "DTEND" in event:
        ends = decoded(event, "DTEND", source, where)
        if comparable(ends) < comparable(begins):
            raise refuse(source, "DTEND is before DTSTART", where)
    if "DURATION" in event:
        try:
            length = event.decoded("DURATION")
        except Exception:
            raise refuse(source, "DURATION cannot be read", where) from None
        if isinstance(length, dt.timedelta) and length < dt.timedelta(0):
            raise refuse(source, "DURATION is negative", where)
    for rule in (
        event.get("RRULE", []) if isinstance(event.get("RRULE"), list) else [event.get("RRULE")]
    ):
        if rule is None:
            continue
        frequency = (rule.get("FREQ") or [""])[0]
        if str(frequency).upper() in TOO_FAST:
            raise refuse(source, f"RRULE FREQ={frequency} repeats more often than daily", where)
    return uid


def decoded(event: Any, name: str, source: str, where: str) -> Any:
    """A date property's value; a TZID that neither the file nor the zone database knows
    (the libraries would quietly read it as floating time) is refused."""
    try:
        value = event.decoded(name)
    except Exception:
        raise refuse(source, f"{name} cannot be read", where) from None
    prop = event.get(name)
    for one in prop if isinstance(prop, list) else [prop]:
        tzid = getattr(one, "params", {}).get("TZID")
        try:
            moments = [getattr(item, "dt", None) for item in getattr(one, "dts", None) or [one]]
        except Exception:  # icalendar's BrokenCalendarProperty: a value it could not read
            raise refuse(source, f"{name} cannot be read", where) from None
        if tzid and any(isinstance(m, dt.datetime) and m.tzinfo is None for m in moments):
            raise refuse(source, f"{name} names an unknown time zone {tzid!r}", where)
    return value


def comparable(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return dt.datetime.min.replace(tzinfo=dt.UTC)


_SPACE = re.compile(r"\s+")


def occurrence_of(
    component: Any, source: str, series: set[str], local: ZoneInfo, result: Parsed
) -> Occurrence | None:
    uid = str(component.get("UID", "")).strip()
    cancelled = str(component.get("STATUS", "")).upper() == CANCELLED
    if not cancelled and str(component.get("TRANSP", "")).upper() == "TRANSPARENT":
        result.skip("marked free (TRANSP:TRANSPARENT)")
        return None
    begins, ends = component.start, component.end
    all_day = not isinstance(begins, dt.datetime)
    starts_at, ends_at = utc(begins, local), utc(ends, local)
    if ends_at <= starts_at:  # a zero-length reminder blocks no time
        if all_day:
            ends_at = starts_at + dt.timedelta(days=1)
        else:
            result.skip("no length (DTEND equals DTSTART)")
            return None
    recurrence_id = ""
    if uid in series and "RECURRENCE-ID" in component:
        recurrence_id = utc(component.decoded("RECURRENCE-ID"), local).isoformat()
    categories: list[str] = []
    raw = component.get("CATEGORIES")
    for item in raw if isinstance(raw, list) else [raw] if raw is not None else []:
        categories.extend(str(c) for c in getattr(item, "cats", [item]))
    try:
        sequence = int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return Occurrence(
        uid=uid,
        recurrence_id=recurrence_id,
        starts_at=starts_at,
        ends_at=ends_at,
        summary=_SPACE.sub(" ", str(component.get("SUMMARY", ""))).strip()[:200],
        categories=tuple(c.strip() for c in categories if c.strip()),
        cancelled=cancelled,
        all_day=all_day,
        sequence=sequence,
    )


def utc(value: Any, local: ZoneInfo) -> dt.datetime:
    """UTC for a date-time (floating ones in the clinic's zone) or for a day's local start."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=local)
        return aware.astimezone(dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=local).astimezone(dt.UTC)
