"""A calendar booking released by knock-on fill stays released: the feed, which still lists
the client's old time until someone edits the calendar, must neither book it again nor open
the same time twice. Both backends; the clock is frozen at Fri 20 Nov 2026 09:30 New York."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import STAFF
from tests.domain.calendar.test_sync import SERIES, feed, rewrite
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.timetravel import move_to
from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.calendar.sources import SourceSpec
from waitlist_tui.domain.calendar.sync import RELEASED, sync_source
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    CalendarSource,
    Clinic,
    Opening,
    Provider,
)

DEC_7 = "series-1@example.com|2026-12-07T14:00:00+00:00"


@pytest.fixture
def source(clinic: Clinic, tmp_path: Path) -> CalendarSource:
    path = tmp_path / "kim.ics"
    path.write_text(feed(SERIES))
    kim = Provider.get(Provider.code == "KIM")
    spec = SourceSpec(str(path), (("follow", "PT-FU"),))
    return CalendarSource.create_by(
        STAFF,
        dt.datetime.now(dt.UTC),
        provider=kim.id,
        source=str(path),
        label="kim.ics",
        spec=json.dumps(spec.to_json()),
    )


def _release(source: CalendarSource) -> Appointment:
    """Sync, link the Dec 7 booking to Ana's entry (the desk knows it is hers), and let her
    accept an earlier slot: the Dec 7 booking is released."""
    assert sync_source(CalendarSource.get_by_id(source.id), STAFF).added == 4
    ana = add_entry("Ana", priority=1)
    later = Appointment.get(Appointment.calendar_key == DEC_7)
    Appointment.update(entry=ana.id, client=ana.client.id).where(
        Appointment.id == later.id
    ).execute()
    sent = offers.offer(monday_opening("11:00").id, STAFF)
    reply = offers.accept(sent[0].id, STAFF)
    assert reply.knock_on is not None and reply.knock_on.appointment_id == later.id
    assert Appointment.get_by_id(later.id).status == vocab.APPT_CANCELLED
    return later


def _released_stays(later: Appointment) -> None:
    row = Appointment.get_by_id(later.id)
    assert row.status == vocab.APPT_CANCELLED and row.cancelled_at is not None
    same_time = Opening.select().where(Opening.starts_at == later.starts_at)
    assert same_time.count() == 1 and same_time.get().source == "knock_on"
    booked = Appointment.select().where(
        Appointment.starts_at == later.starts_at, Appointment.status == vocab.APPT_BOOKED
    )
    assert not booked.exists()


def test_the_unchanged_feed_synced_again_leaves_the_release_alone(
    source: CalendarSource,
) -> None:
    later = _release(source)
    audits = AuditEvent.select().count()
    again = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert again.not_modified
    _released_stays(later)
    assert AuditEvent.select().count() == audits


def test_the_same_feed_read_again_does_not_book_the_released_time(
    source: CalendarSource,
) -> None:
    """The same events in a touched file (or on the next clinic day, when the window moves)
    are read row by row: the released booking is not "booked again by the calendar"."""
    later = _release(source)
    rewrite(source, feed(SERIES))
    again = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert not again.not_modified
    assert (again.added, again.updated, again.cancelled, again.openings_created) == (0, 0, 0, 0)
    _released_stays(later)


def test_the_next_day_s_sync_does_not_book_the_released_time(source: CalendarSource) -> None:
    """On a new clinic day the window has moved and the feed is read whole, every
    occurrence compared with its row."""
    later = _release(source)
    move_to(clock.now() + dt.timedelta(days=1))
    again = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert not again.not_modified and again.updated == 0 and again.openings_created == 0
    assert again.skipped == {RELEASED: 1}
    _released_stays(later)
