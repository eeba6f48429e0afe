"""The demo clinic ships two sample feeds (assets/calendars: Google Calendar's and Outlook's
export shapes, weekly series that land in any day's window): a demo build syncs them, and
the bookings it generates leave their times free. Both backends (through `db`); the clock
is frozen at Fri 20 Nov 2026 09:30 in New York."""

from __future__ import annotations

import datetime as dt

from waitlist_tui.demo import build as demo
from waitlist_tui.domain import vocab
from waitlist_tui.domain.assets import demo_clinic, directory
from waitlist_tui.domain.calendar.freshness import freshness
from waitlist_tui.domain.calendar.sync import source_status
from waitlist_tui.domain.store.models import Appointment, Clinic


def test_the_demo_clinic_names_its_sample_feeds_among_the_assets() -> None:
    sources = {
        p["code"]: [c["source"] for c in p.get("calendars", [])] for p in demo_clinic()["providers"]
    }
    assert sources["KIM"] == [str(directory() / "calendars" / "kim.ics")]
    assert sources["PATEL"] == [str(directory() / "calendars" / "patel.ics")]
    assert all((directory() / "calendars" / name).is_file() for name in ("kim.ics", "patel.ics"))


def test_a_demo_build_syncs_the_feeds_and_books_around_them(db) -> None:
    demo.build(entries=120, seed=3)
    clinic = Clinic.get()
    status = {s["provider"]: s for s in source_status(clinic)}
    assert set(status) == {"KIM", "PATEL"}
    assert all(s["synced_at"] and not s["error"] for s in status.values())
    assert freshness(clinic, dt.datetime(2026, 11, 20, 14, 31, tzinfo=dt.UTC)) == (
        "calendars synced 09:30",
        False,
    )
    from_feeds = list(
        Appointment.select().where(
            Appointment.calendar_source.is_null(False), Appointment.status == vocab.APPT_BOOKED
        )
    )
    titles = {a.summary for a in from_feeds}
    assert {"Team meeting", "Supervision", "CPD day (away)"} <= titles
    assert "Lunch (shown as free)" not in titles  # TRANSP:TRANSPARENT blocks nothing
    # Thu 26 Nov, 12:00 New York: Kim's weekly new-patients clinic, an assessment
    thursday = [
        a for a in from_feeds if a.starts_at == dt.datetime(2026, 11, 26, 17, tzinfo=dt.UTC)
    ]
    assert [(a.provider.code, a.service.code) for a in thursday] == [("KIM", "PT-EVAL")]
    # the generated calendar leaves the feeds' times free
    generated = Appointment.select().where(
        Appointment.calendar_source.is_null(), Appointment.status == vocab.APPT_BOOKED
    )
    clashes = [
        (a.provider_id, a.starts_at)
        for a in generated
        for b in from_feeds
        if a.provider_id == b.provider_id and a.starts_at < b.ends_at and b.starts_at < a.ends_at
    ]
    assert clashes == []
