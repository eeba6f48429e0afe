"""A provider's calendar source made true in the appointments table, all or nothing.

The source is fetched and read outside any transaction (a slow feed holds no lock); then one
transaction, under the source's row lock, brings the provider's appointments from that source
in line with what was read for the synced window:

- an occurrence never seen is added (client unknown, service by the source's rules);
- one seen before (same UID and RECURRENCE-ID) whose time, service or title moved is updated;
- one that turns STATUS:CANCELLED, or is gone from the feed while its start is still inside the
  window, is cancelled, and its time becomes an opening with its candidates ranked, exactly as
  a desk's cancellation (fill.openings);
- one the waitlist released by knock-on fill (its client took an earlier slot) stays
  cancelled while the feed, not yet edited, still lists it: it is skipped (RELEASED), never
  booked again, and its time is not opened twice;
- what the waitlist booked has no calendar key, so a feed that does not know it yet never
  touches it.

A second sync of an unchanged source writes no appointment, opening or audit row: a feed
answers 304 to its ETag, a file keeps its size and time, and content that did change but
reads the same compares equal row by row. The source's own row records each run (when, and
the error if it failed), so the desk can say how fresh each calendar is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import operator
import uuid
from dataclasses import dataclass, field
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.calendar import blocks
from waitlist_tui.domain.calendar.fetch import fetch, label
from waitlist_tui.domain.calendar.freshness import clinic_sources, sync_minutes
from waitlist_tui.domain.calendar.ical import Occurrence, Parsed, read_text, text_of
from waitlist_tui.domain.calendar.sources import IMPORTED, SourceSpec, service_for
from waitlist_tui.domain.errors import DomainError, NotFound, ValidationError
from waitlist_tui.domain.fill import knock_on, openings
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database, insert_dicts
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    Appointment,
    CalendarSource,
    Clinic,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.timeutil import iso

DEFAULT_DAYS = 90


RELEASED = "released by knock-on fill: the client moved to an earlier slot"


@dataclass
class SyncResult:
    provider: str
    source: str  # the label: a feed's private path is never shown
    added: int = 0
    updated: int = 0
    cancelled: int = 0
    unchanged: int = 0
    openings_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    not_modified: bool = False
    opening_ids: list[str] = field(default_factory=list)
    offers_sent: int = 0  # by `[calendar] auto_offer`

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "source": self.source,
            "added": self.added,
            "updated": self.updated,
            "cancelled": self.cancelled,
            "unchanged": self.unchanged,
            "openings_created": self.openings_created,
            "skipped": dict(self.skipped),
            "not_modified": self.not_modified,
            "offers_sent": self.offers_sent,
        }


def window(
    clinic: Clinic, now: dt.datetime, days: int = DEFAULT_DAYS
) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the clinic's today to `days` days on, in UTC."""
    start, _ = openings.day_bounds(clock.today(clinic.time_zone), clinic)
    return start, start + dt.timedelta(days=days)


def sync_source(source: CalendarSource, actor: str, *, data: bytes | None = None) -> SyncResult:
    """One source: fetched (or `data`, for `calendar import FILE`), read, and applied."""
    provider = Provider.get_by_id(source.provider_id)
    clinic = Clinic.get_by_id(provider.clinic_id)
    name = label(source.source) if data is None else source.label
    result = SyncResult(provider.code, name)
    now = clock.now()
    start, end = window(clinic, now, clinic_days(clinic))
    # A source read today for this same window needs reading only if it changed: its
    # validators go with the request, and content whose digest is the last one's is not
    # parsed again (icalendar takes ~1 s over 5,000 events). On a new clinic day the window
    # has moved, so the source is read whole: new occurrences have come into its far end.
    same_window = (
        source.synced_at is not None
        and clock.today(clinic.time_zone)
        == source.synced_at.astimezone(ZoneInfo(clinic.time_zone)).date()
    )
    try:
        if data is None:
            fetched = (
                fetch(source.source, source.tag or "", source.modified or "")
                if same_window
                else fetch(source.source)
            )
            if fetched.data is None:
                result.not_modified = True
                _record(source, now, None, None, None)
                return result
            data, tag, modified = fetched.data, fetched.tag, fetched.modified
        else:
            tag, modified = "", ""
        digest = hashlib.sha256(data).hexdigest()
        if same_window and digest == source.digest:
            result.not_modified = True
            _record(source, now, tag or None, modified or None, None)
            return result
        services = {
            s.code: s.id
            for s in Service.select(Service.id, Service.code).where(Service.clinic == clinic)
        }
        reading = read(source, clinic, text_of(data, name), name, (start, end), services)
        apply(source, provider, clinic, reading, (start, end), actor, now, result, services)
    except DomainError as err:
        _record(source, now, None, None, err.message)
        raise
    _record(source, now, tag or None, modified or None, None, digest)
    if result.opening_ids and auto_offer(clinic):
        result.offers_sent = offer_openings(result.opening_ids, actor)
    return result


def auto_offer(clinic: Clinic) -> bool:
    return bool(((clinic.settings or {}).get("calendar") or {}).get("auto_offer", False))


def offer_openings(opening_ids: list[str], actor: str) -> int:
    """`[calendar] auto_offer`: each opening a calendar freed goes out by the clinic's
    workflow (SEQUENTIAL: the best candidate; BROADCAST: the top N), each in a transaction
    of its own after the sync's, through the one offer path (min notice, quiet hours and
    consent as anywhere). One that nobody can take, or that is too late, stays open for
    the desk. Returns the offers sent."""
    sent = 0
    for opening_id in opening_ids:
        try:
            sent += len(offer_slot(uuid.UUID(opening_id), actor))
        except DomainError:
            continue
    return sent


def clinic_days(clinic: Clinic) -> int:
    settings = (clinic.settings or {}).get("calendar") or {}
    return int(settings.get("days_ahead", DEFAULT_DAYS))


def _record(
    source: CalendarSource,
    now: dt.datetime,
    tag: str | None,
    modified: str | None,
    error: str | None,
    digest: str | None = None,
) -> None:
    """The source's run: when, its validators and content digest (kept on failure), and
    the error if any."""
    values: dict[str, Any] = {"checked_at": now, "error": error}
    if digest is not None:
        values["digest"] = digest
    if error is None:
        values["synced_at"] = now
        if tag is not None or modified is not None:
            values["tag"] = tag
            values["modified"] = modified
    else:
        values["failed_at"] = now
    CalendarSource.update(**values).where(CalendarSource.id == source.id).execute()


@dataclass
class Reading:
    """What a read found: the occurrences of every event (`only` None), or of the events
    named in `only` (the UIDs whose blocks changed or went), and the hashes to keep."""

    parsed: Parsed
    only: set[str] | None
    known: blocks.Known | None


def read(
    source: CalendarSource,
    clinic: Clinic,
    text: str,
    name: str,
    bounds: tuple[dt.datetime, dt.datetime],
    services: dict[str, Any],
) -> Reading:
    """The source's text read whole, or, when the last read was of this same window and
    context, only its events whose blocks changed (calendar/blocks.py)."""
    start, end = bounds
    zone = clinic.time_zone
    pieces = blocks.cut(text)
    if pieces is None:
        return Reading(read_text(text, name, start, end, zone), None, None)
    hashes = pieces.hashes()
    context = blocks.context_of(pieces, zone, start, end, source.spec, sorted(services))
    known = blocks.Known(clock.today(zone).isoformat(), context, hashes)
    last = blocks.Known.from_json(source.blocks)
    if last is None or (last.day, last.context) != (known.day, context):
        return Reading(read_text(text, name, start, end, zone), None, known)
    changed = {uid for uid, digest in hashes.items() if last.hashes.get(uid) != digest}
    gone = set(last.hashes) - set(hashes)
    parsed = Parsed([])
    if changed:
        part, lines = pieces.text_of(changed)
        parsed = read_text(part, name, start, end, zone, lines)
    return Reading(parsed, changed | gone, known)


def apply(
    source: CalendarSource,
    provider: Provider,
    clinic: Clinic,
    reading: Reading,
    bounds: tuple[dt.datetime, dt.datetime],
    actor: str,
    now: dt.datetime,
    result: SyncResult,
    services: dict[str, Any],
) -> None:
    start, end = bounds
    parsed = reading.parsed
    rules = SourceSpec.from_json(json.loads(source.spec)).match
    result.skipped.update(parsed.skipped)
    seen: dict[str, Occurrence] = {}
    for occurrence in days_of(parsed.occurrences, clinic.time_zone):
        if occurrence.key in seen:
            result.skip("repeated UID and RECURRENCE-ID")
            continue
        seen[occurrence.key] = occurrence
    with database.atomic():
        locked(CalendarSource.select().where(CalendarSource.id == source.id)).first()
        if reading.only is None:
            mine = _rows_of(source, start, end, list(seen))
        else:
            mine = _rows_of_uids(source, reading.only)
            result.unchanged += _booked_in(source, start, end) - sum(
                1
                for row in mine.values()
                if row.status == vocab.APPT_BOOKED and row.starts_at < end and row.ends_at > start
            )
        CalendarSource.update(
            blocks=reading.known.to_json() if reading.known is not None else None
        ).where(CalendarSource.id == source.id).execute()
        fresh: list[dict[str, Any]] = []  # new rows, written in batches after the loop
        moved_up = knock_on.released(
            [row.id for row in mine.values() if row.status != vocab.APPT_BOOKED]
        )
        for key, occurrence in seen.items():
            row = mine.get(key)
            service = service_for(occurrence, rules)
            values = {
                "starts_at": occurrence.starts_at,
                "ends_at": occurrence.ends_at,
                "service": services.get(service) if service else None,
                "summary": occurrence.summary or None,
                "away": occurrence.all_day,
            }
            if row is None:
                if occurrence.cancelled:
                    result.skip("cancelled before it was first synced")
                    continue
                fresh.append(
                    {
                        "id": uuid.uuid4(),
                        **Appointment.stamps(actor, now, new=True),
                        "clinic": clinic.id,
                        "provider": provider.id,
                        "client": None,
                        "entry": None,
                        "status": vocab.APPT_BOOKED,
                        "version": 1,
                        "calendar_source": source.id,
                        "calendar_key": key,
                        **values,
                    }
                )
                result.added += 1
                continue
            if occurrence.cancelled:
                if row.status == vocab.APPT_BOOKED:
                    _cancel(row, actor, now, result, "cancelled in the calendar")
                else:
                    result.unchanged += 1
                continue
            if row.status != vocab.APPT_BOOKED and str(row.id) in moved_up:
                result.skip(RELEASED)
                continue
            changed = {name: value for name, value in values.items() if _column(row, name) != value}
            if row.status != vocab.APPT_BOOKED:
                changed["status"] = vocab.APPT_BOOKED  # the calendar booked it again
                changed["cancelled_at"] = None
            if not changed:
                result.unchanged += 1
                continue
            before = {name: _shown(_column(row, name)) for name in changed}
            Appointment.update_by(actor, now, version=Appointment.version + 1, **changed).where(
                Appointment.id == row.id
            ).execute()
            audit.record(
                actor,
                "appointment.calendar_update",
                "appointment",
                row.id,
                {name: [before[name], _shown(value)] for name, value in changed.items()},
            )
            result.updated += 1
        insert_dicts(Appointment, fresh)
        audit.record_many(
            actor,
            "appointment.calendar_add",
            "appointment",
            [(row["id"], {"calendar": [None, result.source]}) for row in fresh],
        )
        for key, row in mine.items():
            if key in seen or row.status != vocab.APPT_BOOKED:
                continue
            if start <= row.starts_at < end:
                _cancel(row, actor, now, result, "gone from the calendar")


def days_of(occurrences: list[Occurrence], zone: str) -> list[Occurrence]:
    """Days away longer than a day, one per clinic day: no appointment lasts longer than the
    free-time search looks back (fill.availability.LONGEST)."""
    local = ZoneInfo(zone)
    result = []
    for occurrence in occurrences:
        if not occurrence.all_day or occurrence.ends_at - occurrence.starts_at <= dt.timedelta(
            hours=25
        ):
            result.append(occurrence)
            continue
        day = occurrence.starts_at.astimezone(local).date()
        while True:
            begins = dt.datetime.combine(day, dt.time(), local).astimezone(dt.UTC)
            if begins >= occurrence.ends_at:
                break
            this_day, day = day, day + dt.timedelta(days=1)
            ends = dt.datetime.combine(day, dt.time(), local).astimezone(dt.UTC)
            result.append(
                dataclasses.replace(
                    occurrence,
                    recurrence_id=f"{occurrence.recurrence_id}#{this_day.isoformat()}",
                    starts_at=begins,
                    ends_at=min(ends, occurrence.ends_at),
                )
            )
    return result


def _rows_of(
    source: CalendarSource, start: dt.datetime, end: dt.datetime, keys: list[str]
) -> dict[str, Appointment]:
    """The source's appointments in the window, and any the read names outside it (an
    occurrence moved into the window keeps its key: it is updated, never duplicated)."""
    query = Appointment.select().where(
        Appointment.calendar_source == source.id,
        Appointment.starts_at < end,
        Appointment.ends_at > start,
    )
    rows = {str(a.calendar_key): a for a in query}
    missing = [key for key in keys if key not in rows]
    for i in range(0, len(missing), 500):
        batch = Appointment.select().where(
            Appointment.calendar_source == source.id,
            Appointment.calendar_key.in_(missing[i : i + 500]),
        )
        rows.update({str(a.calendar_key): a for a in batch})
    return rows


def _rows_of_uids(source: CalendarSource, uids: set[str]) -> dict[str, Appointment]:
    """The source's appointments of these events, at any time (a key is UID|RECURRENCE-ID:
    each UID's keys are one range of the source's unique key index)."""
    rows: dict[str, Appointment] = {}
    ordered = sorted(uids)
    for i in range(0, len(ordered), 200):
        ranges = [
            (Appointment.calendar_key >= f"{uid}|") & (Appointment.calendar_key < f"{uid}}}")
            for uid in ordered[i : i + 200]
        ]
        query = Appointment.select().where(
            Appointment.calendar_source == source.id, reduce(operator.or_, ranges)
        )
        rows.update(
            {str(a.calendar_key): a for a in query if str(a.calendar_key).rsplit("|", 1)[0] in uids}
        )
    return rows


def _booked_in(source: CalendarSource, start: dt.datetime, end: dt.datetime) -> int:
    return (
        Appointment.select()
        .where(
            Appointment.calendar_source == source.id,
            Appointment.status == vocab.APPT_BOOKED,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
        .count()
    )


def _column(row: Appointment, name: str) -> Any:
    return row.service_id if name == "service" else getattr(row, name)


def _shown(value: Any) -> Any:
    return (
        value.isoformat()
        if isinstance(value, dt.datetime)
        else (str(value) if value is not None else None)
    )


def _cancel(row: Appointment, actor: str, now: dt.datetime, result: SyncResult, why: str) -> None:
    """The calendar took the booking back: cancelled as a desk would, its time opened unless
    it is an away day or past the clinic's notice cutoff."""
    opening = openings.cancel_locked(row, actor, now, why=why, open_time=not row.away)
    result.cancelled += 1
    if opening is not None:
        result.openings_created += 1
        result.opening_ids.append(str(opening.id))


def sources_of(clinic: Clinic, provider_code: str | None = None) -> list[CalendarSource]:
    query = clinic_sources(clinic)
    if provider_code:
        provider = openings.provider_by_code(clinic, provider_code)
        query = query.where(CalendarSource.provider == provider)
    return list(query.order_by(Provider.code, CalendarSource.created_at))


def import_file(
    clinic: Clinic, provider_code: str, data: bytes, name: str, actor: str
) -> SyncResult:
    """`calendar import FILE --provider CODE`: the file once, as the provider's "imported"
    source (its occurrences kept apart from any feed's, and re-importing the file updates them)."""
    provider = openings.provider_by_code(clinic, provider_code)
    source = CalendarSource.get_or_none(
        CalendarSource.provider == provider, CalendarSource.source == f"{IMPORTED}{name}"
    )
    if source is None:
        with database.atomic():
            source = CalendarSource.create_by(
                actor,
                clock.now(),
                provider=provider.id,
                source=f"{IMPORTED}{name}",
                label=name,
                spec=json.dumps(SourceSpec(f"{IMPORTED}{name}", ()).to_json()),
            )
            audit.record(
                actor,
                "calendar.source_added",
                "calendar_source",
                source.id,
                {"provider": [None, provider.code], "label": [None, name]},
            )
    return sync_source(source, actor, data=data)


def get_source(source_id: IdRef) -> CalendarSource:
    found = CalendarSource.get_or_none(CalendarSource.id == source_id)
    if found is None:
        raise NotFound("calendar source not found", field="source")
    return found


def checked_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 366:
        raise ValidationError(
            "calendar.days_ahead must be a whole number from 1 to 366", field="calendar.days_ahead"
        )
    return value


__all__ = ["Opening", "SyncResult", "import_file", "sources_of", "sync_source", "window"]


def sync_all(clinic: Clinic, actor: str, provider_code: str | None = None) -> dict[str, Any]:
    """Every configured source (or one provider's), each all or nothing: a source that fails
    is reported with its error and the others still sync. Safe from cron and the app's timer
    at once: a source's rows are written under its row lock."""
    done, failed = [], []
    for source in sources_of(clinic, provider_code):
        if source.source.startswith(IMPORTED):
            continue  # brought in once by `calendar import`; nothing to fetch
        try:
            done.append(sync_source(source, actor).to_dict())
        except DomainError as err:
            failed.append(
                {"provider": source.provider.code, "source": source.label, "error": err.message}
            )
    return {"synced": done, "failed": failed}


def source_status(clinic: Clinic) -> list[dict[str, Any]]:
    """Each source's last run, for the desk's "synced 5 min ago" and its warnings."""
    return [
        {
            "id": str(s.id),
            "provider": s.provider.code,
            "source": s.label,
            "synced_at": iso(s.synced_at),
            "checked_at": iso(s.checked_at),
            "failed_at": iso(s.failed_at),
            "error": s.error,
        }
        for s in sources_of(clinic)
    ]


def sync_if_due(clinic: Clinic, actor: str) -> dict[str, Any] | None:
    """The app's timer, each minute: every source once the clinic's `sync_minutes` have
    passed since it was last tried (0: the app never syncs; cron does). Failures are
    recorded on their sources, where the finder shows them."""
    every = sync_minutes(clinic)
    if every <= 0:
        return None
    now = clock.now()
    due = [
        s
        for s in sources_of(clinic)
        if not s.source.startswith(IMPORTED)
        and (s.checked_at is None or now - s.checked_at >= dt.timedelta(minutes=every))
    ]
    if not due:
        return None
    return sync_all(clinic, actor)
