"""The offers triage screen: snapshots of its states, and keys checked against the database."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tests.conftest import FROZEN, STAFF
from tests.domain.fill_helpers import add_entry
from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain import clock
from waitlist_tui.domain.fill import contact_attempts, offers
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.messaging import outbox, receipts
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
)
from waitlist_tui.tui.formatting import countdown
from waitlist_tui.tui.screens.queue import QueueScreen
from waitlist_tui.tui.screens.triage import TriageScreen


def waiting(first: str, last: str, phone: str, service: str = "PT-EVAL", **kw) -> object:
    """An entry with a fixed name and phone, so that snapshots do not depend on test order."""
    return add_entry(
        client={"first_name": first, "last_name": last, "phone": phone}, service=service, **kw
    )


def four_offers() -> dict[str, offers.OfferView]:
    """Four sent offers with distinct holds (5 min, 72 min, 2 h, 25 h), one with two calls."""
    eve = waiting("Eve", "Park", "617-555-0105", "PT-FU")
    cara = waiting("Cara", "Diaz", "617-555-0103", "PT-FU")
    ann = waiting("Ann", "Lee", "617-555-0101", preferred_time_slots=["AFTERNOON"])
    dan = waiting("Dan", "Wu", "617-555-0104")

    def send(entry, provider: str, start: str, minutes: int, hold: int) -> offers.OfferView:
        opening = add_opening(provider, start, minutes, STAFF)
        return offers.offer(opening.id, STAFF, entry_id=entry.id, hold_minutes=hold)[0]

    sent = {
        "eve": send(eve, "KIM", "2026-11-24T09:00", 30, 5),
        "cara": send(cara, "PATEL", "2026-11-23T13:00", 30, 72),
        "ann": send(ann, "KIM", "2026-11-23T09:00", 60, 120),
        "dan": send(dan, "PATEL", "2026-11-25T10:00", 60, 1500),
    }
    for _ in range(2):
        contact_attempts.log_attempt(sent["cara"].id, "voicemail", STAFF)
    return sent


def in_line() -> tuple[offers.OfferView, object]:
    """A sequential offer to Ann Lee, with Bob Stone next in line."""
    waiting("Ann", "Lee", "617-555-0101", priority=1)
    bob = waiting("Bob", "Stone", "617-555-0102", priority=2)
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    return offers.offer(opening.id, STAFF)[0], bob


async def open_triage(pilot) -> None:
    await settle(pilot)
    pilot.app.push_screen(TriageScreen())
    await settle(pilot)


def table_keys(app) -> list[str]:
    return [str(k.value) for k in app.screen.query_one(DataTable).rows]


def message(app) -> Static:
    return app.screen.query_one("#triage-message", Static)


def live_offer_of(entry_id) -> Offer | None:
    return Offer.get_or_none(Offer.entry == entry_id, Offer.status == "sent")


# --- snapshots --------------------------------------------------------------------------------


def test_triage_with_offers_snapshot(clinic_only_db, snap_compare) -> None:
    four_offers()

    async def second_row(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("down")  # off the first row, whose countdown shows red
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=second_row)


def test_triage_shows_how_far_each_offer_text_got_snapshot(clinic_only_db, snap_compare) -> None:
    """Twilio's receipts on the offers: delivered, sent, waiting, and an undelivered text
    that tells the desk to phone (red)."""
    sent = four_offers()
    for name, status, delivery in (
        ("eve", "sent", "delivered"),
        ("cara", "sent", "undelivered"),
        ("ann", "sent", "sent"),
    ):
        key = outbox.offer_key(sent[name].id, "offer")
        OutboxMessage.update(status=status, delivery_status=delivery).where(
            OutboxMessage.idempotency_key == key
        ).execute()

    async def second_row(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("down", "down")  # the cursor off Cara's red "phone them"
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=second_row)


def test_narrow_triage_still_shows_how_far_each_text_got_snapshot(
    clinic_only_db, snap_compare
) -> None:
    """At 80 columns the offers keep their Text column: "phone them" in red for the
    undelivered text (the wide screen's other columns drop out)."""
    sent = four_offers()
    for name, delivery in (("eve", "delivered"), ("cara", "undelivered")):
        key = outbox.offer_key(sent[name].id, "offer")
        OutboxMessage.update(status="sent", delivery_status=delivery).where(
            OutboxMessage.idempotency_key == key
        ).execute()

    async def second_row(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=(80, 24), run_before=second_row)


def test_triage_after_accept_snapshot(clinic_only_db, snap_compare) -> None:
    four_offers()

    async def accept_first(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("a", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=accept_first)


def test_triage_accept_confirm_snapshot(clinic_only_db, snap_compare) -> None:
    four_offers()

    async def ask(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("a")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=ask)


def test_triage_empty_snapshot(clinic_only_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_triage)


# --- keys -------------------------------------------------------------------------------------


async def test_lists_sent_offers_soonest_to_expire_first(clinic_only_db) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        assert table_keys(app) == [str(sent[k].id) for k in ("eve", "cara", "ann", "dan")]
        table = app.screen.query_one(DataTable)
        cara = [str(c) for c in table.get_row(str(sent["cara"].id))]
        assert cara == [
            "1h 12m",
            "Cara Diaz",
            "+1 617-555-0103",
            "Mon 23 Nov 13:00",
            "PATEL",
            "PT-FU",
            "EXACT",
            "2 calls · voicemail",
            "queued",  # its text is in the outbox; no delivery loop ran
        ]


async def test_accept_books_the_offer(clinic_only_db) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmDialog"
        await pilot.press("y")
        await settle(pilot)
        eve = sent["eve"]
        assert Offer.get_by_id(eve.id).status == "accepted"
        assert Entry.get_by_id(eve.entry_id).status == "booked"
        assert Opening.get_by_id(eve.opening_id).status == "filled"
        assert Appointment.get(Appointment.entry == eve.entry_id).starts_at == eve.slot_start
        assert str(eve.id) not in table_keys(app) and len(table_keys(app)) == 3
        assert str(message(app).render()) == "Booked Eve Park · Tue 24 Nov 09:00 with KIM"


async def test_no_at_the_confirm_changes_nothing(clinic_only_db) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("a", "n")
        await settle(pilot)
        assert isinstance(app.screen, TriageScreen)
        assert Offer.get_by_id(sent["eve"].id).status == "sent"
        assert len(table_keys(app)) == 4


async def test_decline_advances_to_the_next_candidate(clinic_only_db) -> None:
    ann, bob = in_line()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("d", "y")
        await settle(pilot)
        assert Offer.get_by_id(ann.id).status == "declined"
        assert Entry.get_by_id(ann.entry_id).status == "waiting"
        following = live_offer_of(bob.id)
        assert following is not None and following.opening_id == ann.opening_id
        assert table_keys(app) == [str(following.id)]
        assert "next offer sent to Bob Stone" in str(message(app).render())


async def test_lost_race_shows_the_conflict_and_reloads(clinic_only_db) -> None:
    waiting("Cara", "Diaz", "617-555-0103")
    waiting("Dan", "Wu", "617-555-0104")
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    mine, theirs = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=2)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table_keys(app).index(str(mine.id)))
        offers.accept(theirs.id, "other-desk")  # another desk gets there first
        assert len(table_keys(app)) == 2  # the screen has not heard yet
        await pilot.press("a", "y")
        await settle(pilot)
        line = message(app)
        shown = str(line.render())
        mine_name = Entry.get_by_id(mine.entry_id).client.first_name
        theirs_name = Entry.get_by_id(theirs.entry_id).client.first_name
        assert f"Could not book {mine_name} " in shown and line.has_class("-error")
        assert f"another desk (other-desk) booked this slot first: {theirs_name} " in shown
        assert [n.severity for n in app._notifications] == ["error"]
        assert table_keys(app) == []  # reloaded: the sibling offer was rescinded
        assert Offer.get_by_id(mine.id).status == "rescinded"
        assert Entry.get_by_id(mine.entry_id).status == "waiting"
        assert Appointment.select().where(Appointment.entry == mine.entry_id).count() == 0


async def test_call_no_answer_releases_and_advances(clinic_only_db) -> None:
    ann, bob = in_line()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("1", *"rang twice", "enter")
        await settle(pilot)
        released = Offer.get_by_id(ann.id)
        assert released.status == "expired" and released.note == "no answer · rang twice"
        row = AuditEvent.get(AuditEvent.action == "offer.contact_attempt")
        assert row.changes == {"outcome": "no_answer", "note": "rang twice"}
        following = live_offer_of(bob.id)
        assert following is not None and table_keys(app) == [str(following.id)]
        text = str(message(app).render())
        assert "Logged no answer for Ann Lee (1 call) · offer expired" in text
        assert "next offer sent to Bob Stone" in text


async def test_call_voicemail_shows_in_the_calls_column(clinic_only_db) -> None:
    ann, _ = in_line()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        for _ in range(2):
            await pilot.press("c", "2", "enter")
            await settle(pilot)
        assert Offer.get_by_id(ann.id).status == "sent"
        table = app.screen.query_one(DataTable)
        assert str(table.get_cell(str(ann.id), "attempts")) == "2 calls · voicemail"
        await pilot.press("c", "escape")
        await settle(pilot)
        assert contact_attempts.summary(ann.id).count == 2


async def test_rescind_and_escape(clinic_only_db) -> None:
    ann, bob = in_line()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("r", "enter")
        await settle(pilot)
        assert Offer.get_by_id(ann.id).status == "rescinded"
        assert live_offer_of(bob.id) is None  # rescinding does not advance
        assert "No offers waiting for a reply." in str(
            app.screen.query_one("#triage-empty", Static).render()
        )
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)


async def test_ticks_count_down_and_drop_expired_without_a_query(
    clinic_only_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        screen = app.screen
        assert isinstance(screen, TriageScreen)
        table = screen.query_one(DataTable)
        reloads: list[bool] = []
        monkeypatch.setattr(screen, "reload", lambda: reloads.append(True))
        monkeypatch.setattr(clock, "now", lambda: FROZEN + dt.timedelta(minutes=5, seconds=1))
        screen.tick()
        await pilot.pause()
        assert reloads == []  # no reload was asked for
        assert table_keys(app) == [str(sent[k].id) for k in ("cara", "ann", "dan")]
        assert str(table.get_cell(str(sent["cara"].id), "expires")) == "1h 06m"
        assert str(table.get_cell(str(sent["ann"].id), "expires")) == "1h 54m"


async def test_refresh_picks_up_another_desk_and_keeps_the_cursor(clinic_only_db) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("down", "down")  # on Ann
        offers.rescind(sent["cara"].id, "other-desk")
        await pilot.press("ctrl+r")
        await settle(pilot)
        keys = table_keys(app)
        assert str(sent["cara"].id) not in keys
        assert keys[app.screen.query_one(DataTable).cursor_row] == str(sent["ann"].id)


async def test_another_desks_change_shows_without_a_key(clinic_only_db) -> None:
    """The app's change feed (live desks): an offer another desk rescinds leaves the list
    on its own, the cursor staying on its offer."""
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        assert app.watcher is not None and app.watcher.ready.wait(10)
        await pilot.press("down", "down")  # on Ann
        offers.rescind(sent["dan"].id, "other-desk")
        for _ in range(200):  # until the feed brings it (bounded: a broken feed fails)
            await pilot.pause(0.05)
            if str(sent["dan"].id) not in table_keys(app):
                break
        await settle(pilot)
        keys = table_keys(app)
        assert str(sent["dan"].id) not in keys
        assert keys[app.screen.query_one(DataTable).cursor_row] == str(sent["ann"].id)


async def test_a_delivery_receipt_shows_without_a_key(clinic_only_db) -> None:
    """Twilio reports Dan's offer text undelivered (the server, another process): the row
    says "phone them" on its own."""
    sent = four_offers()
    key = outbox.offer_key(sent["dan"].id, "offer")
    OutboxMessage.update(status="sent", provider_message_id="SM" + "d" * 32).where(
        OutboxMessage.idempotency_key == key
    ).execute()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        assert app.watcher is not None and app.watcher.ready.wait(10)
        table = app.screen.query_one(DataTable)
        assert str(table.get_cell(str(sent["dan"].id), "text")) == "sent"
        receipts.record_status("SM" + "d" * 32, "undelivered", "30003")
        for _ in range(200):
            await pilot.pause(0.05)
            if str(table.get_cell(str(sent["dan"].id), "text")) == "phone them":
                break
        assert str(table.get_cell(str(sent["dan"].id), "text")) == "phone them"


async def test_resume_reloads(clinic_only_db) -> None:
    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        screen = app.screen
        await app.push_screen(Screen())
        offers.rescind(sent["ann"].id, "other-desk")
        app.pop_screen()
        await settle(pilot)
        assert app.screen is screen and str(sent["ann"].id) not in table_keys(app)


def test_countdown_format() -> None:
    now = FROZEN
    assert str(countdown(now + dt.timedelta(hours=1, minutes=12, seconds=30), now)) == "1h 12m"
    short = countdown(now + dt.timedelta(minutes=4, seconds=5), now)
    assert short is not None and short.plain == "4m 05s" and "red" in str(short.style)
    ten = countdown(now + dt.timedelta(minutes=10), now)
    assert ten is not None and "red" not in str(ten.style)
    assert str(countdown(now + dt.timedelta(days=1, hours=3), now)) == "1d 3h"
    assert countdown(now, now) is None


# --- knock-on fill (issue 22) -----------------------------------------------------------------


def knock_on_offer() -> offers.OfferView:
    """Ann Lee holds a later appointment (Mon 30 Nov 10:00 with KIM) and is offered Monday
    23 Nov 09:00; Bob Stone waits; the clinic offers freed times at once (auto_offer)."""
    from waitlist_tui.domain.fill import booking
    from waitlist_tui.domain.store.models import Clinic

    ann = waiting("Ann", "Lee", "617-555-0101", priority=1)
    waiting("Bob", "Stone", "617-555-0102", priority=2)
    clinic = Clinic.get()
    later = booking.add_appointment(
        clinic, str(ann.client.id), "KIM", "PT-EVAL", "2026-11-30T10:00", STAFF
    )
    Appointment.update(entry=ann.id).where(Appointment.id == later.id).execute()
    settings = {**(clinic.settings or {}), "calendar": {"auto_offer": True}}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    return offers.offer(opening.id, STAFF)[0]


def test_triage_after_a_knock_on_accept_snapshot(clinic_only_db, snap_compare) -> None:
    knock_on_offer()

    async def accept_it(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("a", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=accept_it)


async def test_accept_says_the_later_appointment_went_to_the_next(clinic_only_db) -> None:
    sent = knock_on_offer()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("a", "y")
        await settle(pilot)
        assert str(message(app).render()) == (
            "Booked Ann Lee · Mon 23 Nov 09:00 with KIM · later appointment released "
            "(7.0 days sooner), offered to Bob Stone"
        )
        assert Entry.get_by_id(sent.entry_id).status == "booked"
        assert len(table_keys(app)) == 1  # Bob's offer of the freed Monday 30th
