"""The match finder: snapshots of its states, and the desk's key paths checked against the
database (a cancellation to an offer in 4 keys, broadcast to 3, a typed slot, the editor and
back with the finder's state kept)."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.widgets import DataTable, Input, Static

from tests.conftest import STAFF
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_triage import waiting
from waitlist_tui.domain import vocab
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.fill.matching import CandidateList
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.store.models import Appointment, Entry, Offer, Opening
from waitlist_tui.tui.screens.finder import FinderScreen
from waitlist_tui.tui.screens.finder_calls import CandidatesFound

SMALL = (80, 24)
TODAY = "2026-11-20"  # the frozen clock's Friday: entries must be able to take today's slots


def booked(first: str, last: str, phone: str, start: str, provider: str = "KIM") -> Appointment:
    """A booked appointment today (the frozen clock is Friday 20 Nov, 09:30 in New York)."""
    entry = waiting(first, last, phone, priority=5, date_range_start=TODAY)
    opening = add_opening(provider, start, 60, STAFF)
    offers.accept(offers.offer(opening.id, STAFF, entry_id=entry.id)[0].id, STAFF)
    return Appointment.get(Appointment.entry == entry.id)


def a_morning() -> dict[str, object]:
    """Bea's 11:00 with KIM today, and three people waiting: Ann fits exactly, Dan wants
    Tuesdays, Cara wants PATEL (distinct priorities, so the order is fixed)."""
    bea = booked("Bea", "Booked", "617-555-0100", "2026-11-20T11:00")
    booked("Hal", "Early", "617-555-0109", "2026-11-20T14:00", provider="PATEL")
    ann = waiting("Ann", "Lee", "617-555-0101", priority=1, date_range_start=TODAY)
    dan = waiting(
        "Dan", "Wu", "617-555-0104", priority=2, preferred_days=["TUESDAY"], date_range_start=TODAY
    )
    cara = waiting(
        "Cara",
        "Diaz",
        "617-555-0103",
        priority=3,
        preferred_providers=["PATEL"],
        date_range_start=TODAY,
    )
    return {"bea": bea, "ann": ann, "dan": dan, "cara": cara}


async def open_finder(pilot) -> None:
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)


def candidate_names(app) -> list[str]:
    return [c.client_name for c in app.screen.items]


def status(app) -> str:
    return str(app.screen.query_one("#finder-status", Static).render())


# --- snapshots --------------------------------------------------------------------------------


def test_finder_calendar_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_finder)


def test_finder_candidates_exact_and_partial_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def cancel_bea(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=cancel_bea)


def test_finder_at_80x24_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def cancel_bea(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SMALL, run_before=cancel_bea)


def test_finder_no_candidates_snapshot(clinic_only_db, snap_compare) -> None:
    booked("Bea", "Booked", "617-555-0100", "2026-11-20T11:00")

    async def cancel_bea(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=cancel_bea)


def test_finder_typed_slot_error_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def typed(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")  # provider list: the first is KIM
        await pilot.press("tab", *"today", "tab", *"11", "enter")  # Bea's time
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=typed)


def test_finder_broadcast_prompt_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def ask(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=ask)


def test_slots_for_an_entry_snapshot(clinic_only_db, snap_compare) -> None:
    """From a person to slots: Dan's free slots, from the queue's `o`."""
    a_morning()

    async def slots(pilot) -> None:
        await settle(pilot)
        await pilot.press("down", "o")  # the queue's second row: Dan (priority 2)
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=slots)


# --- keys -------------------------------------------------------------------------------------


async def test_a_cancellation_to_an_offer_in_four_keys(clinic_only_db) -> None:
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m", "enter", "y", "enter")  # typed ahead of every worker
        await settle(pilot)
        assert Appointment.get_by_id(people["bea"].id).status == vocab.APPT_CANCELLED
        offer = Offer.get(Offer.status == vocab.OFFER_SENT)
        assert offer.entry_id == people["ann"].id  # the best candidate
        assert offer.opening.appointment_id == people["bea"].id
        assert Entry.get_by_id(people["ann"].id).status == vocab.OFFERED
        assert isinstance(app.screen, FinderScreen)
        assert "Ann Lee" not in candidate_names(app)  # she holds the offer now


async def test_keep_the_booking_changes_nothing(clinic_only_db) -> None:
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "n")
        await settle(pilot)
        assert Appointment.get_by_id(people["bea"].id).status == vocab.APPT_BOOKED
        assert Opening.select().where(Opening.status == vocab.OPENING_OPEN).count() == 0


async def test_broadcast_to_three(clinic_only_db) -> None:
    a_morning()
    waiting("Eve", "Park", "617-555-0105", priority=4, date_range_start=TODAY)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        assert candidate_names(app)[:2] == ["Ann Lee", "Eve Park"]  # EXACT first
        await pilot.press("b")
        await pilot.pause()
        top = app.screen.query_one("#top", Input)
        assert top.value == "3"  # the clinic's default
        await pilot.press("enter")
        await settle(pilot)
        sent = Offer.select().where(Offer.status == vocab.OFFER_SENT)
        assert sent.count() == 3 and {o.opening.workflow for o in sent} == {"BROADCAST"}


async def test_broadcast_refuses_a_bad_count_and_sends_nothing(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("b", "backspace", "0", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#broadcast-error", Static).render())
        assert "1 to 50" in error
        await pilot.press("escape")
        await settle(pilot)
        sent = Offer.select().where(Offer.status == vocab.OFFER_SENT)
        assert sent.count() == 0 and isinstance(app.screen, FinderScreen)


async def test_partial_toggle_hides_and_shows(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        assert candidate_names(app) == ["Ann Lee", "Dan Wu", "Cara Diaz"]
        await pilot.press("p")
        await settle(pilot)
        assert candidate_names(app) == ["Ann Lee"] and "EXACT only" in status(app)
        await pilot.press("p")
        await settle(pilot)
        assert len(candidate_names(app)) == 3


async def test_a_typed_slot_is_opened_only_when_offered(clinic_only_db) -> None:
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")  # KIM
        await pilot.press("tab", *"mon", "tab", *"930", "enter")
        await settle(pilot)
        assert "Mon 23 Nov 09:30–10:30 with KIM" in status(app) and "not opened yet" in status(app)
        assert Opening.select().where(Opening.status == vocab.OPENING_OPEN).count() == 0
        assert app.focused is app.screen.query_one("#candidates", DataTable)
        await pilot.press("down", "enter")  # Dan: PARTIAL, he prefers Tuesdays
        await settle(pilot)
        offer = Offer.get(Offer.status == vocab.OFFER_SENT)
        assert offer.entry_id == people["dan"].id and offer.match_type == vocab.PARTIAL
        assert offer.opening.status == vocab.OPENING_OPEN


async def test_a_new_slots_list_starts_on_its_best_candidate(clinic_only_db) -> None:
    """The cursor stayed on the row of the client highlighted before (Cara, PARTIAL, third),
    and `enter` offered her the new slot instead of the top EXACT candidate."""
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")  # KIM
        await pilot.press("tab", *"mon", "tab", *"930", "enter")
        await settle(pilot)
        await pilot.press("down", "down")
        assert app.screen.cursor_candidate().client_name == "Cara Diaz"
        await pilot.press("ctrl+r")  # a reload of the same slot keeps her
        await settle(pilot)
        assert app.screen.cursor_candidate().client_name == "Cara Diaz"
        time = app.screen.query_one("#time", Input)
        time.value = "1100"
        time.focus()
        await pilot.press("enter")  # another gap
        await settle(pilot)
        assert "Mon 23 Nov 11:00" in status(app)
        assert candidate_names(app)[0] == "Ann Lee"
        assert app.screen.query_one("#candidates", DataTable).cursor_row == 0
        await pilot.press("enter")
        await settle(pilot)
        offer = Offer.get(Offer.status == vocab.OFFER_SENT)
        assert offer.entry_id == people["ann"].id and offer.match_type == vocab.EXACT


async def test_a_bad_typed_slot_names_the_field_and_writes_nothing(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")
        await pilot.press("tab", *"mon", "tab", *"27", "enter")
        await settle(pilot)
        assert "time must be a wall-clock time" in status(app)
        assert app.focused is app.screen.query_one("#time", Input)
        assert app.screen.query_one("#date", Input).value == "mon"  # kept
        assert Opening.select().count() == 2  # the two booked ones only


async def test_editor_and_back_keeps_the_finder(clinic_only_db) -> None:
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("down", "e")  # Dan's entry
        await settle(pilot)
        assert app.screen.__class__.__name__ == "EditorScreen"
        assert app.screen.entry.id == people["dan"].id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, FinderScreen)
        assert candidate_names(app) == ["Ann Lee", "Dan Wu", "Cara Diaz"]
        table = app.screen.query_one("#candidates", DataTable)
        assert table.cursor_row == 1  # still on Dan


async def test_an_open_slot_in_the_calendar_lists_its_candidates(clinic_only_db) -> None:
    from waitlist_tui.domain.fill.openings import cancel_appointment

    people = a_morning()
    cancel_appointment(people["bea"].id, STAFF)  # by another desk, or the CLI
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("up", "enter")
        await settle(pilot)
        assert candidate_names(app) == ["Ann Lee", "Dan Wu", "Cara Diaz"]


async def test_a_stale_candidate_list_is_dropped(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        screen = app.screen
        found = screen.found
        older = screen.calls.drop("candidates")  # a search still running...
        screen.calls.drop("candidates")  # ...when a newer one started
        stale = replace(found, candidates=CandidateList(found.opening.id, [], 0, 0))
        screen.calls.deliver("candidates", older, CandidatesFound, stale)
        await pilot.pause()
        assert screen.found is found
        assert candidate_names(app) == ["Ann Lee", "Dan Wu", "Cara Diaz"]


async def test_their_slots_then_back(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "SlotsScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, FinderScreen) and candidate_names(app)


async def test_a_gap_outside_the_providers_hours_is_offered_only_when_confirmed(
    clinic_only_db,
) -> None:
    """A gap typed at 01:30 or on a Sunday was offered without a word."""
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")  # KIM
        await pilot.press("tab", *"sun", "tab", *"930", "enter")  # KIM has no Sunday hours
        await settle(pilot)
        assert "outside hours: KIM does not work on Sundays" in status(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmDialog"
        await pilot.press("n")
        await settle(pilot)
        sent = Offer.select().where(Offer.status == vocab.OFFER_SENT)
        assert sent.count() == 0 and Opening.select().count() == 2  # nothing new
        await pilot.press("enter", "y")
        await settle(pilot)
        offer = Offer.get(Offer.status == vocab.OFFER_SENT)
        assert offer.opening.starts_at.weekday() == 6  # Sunday (14:30 UTC)


async def test_an_offered_gap_stays_in_the_days_calendar(clinic_only_db) -> None:
    """A gap typed in and offered was missing from the finder's calendar: the desk could not
    find it again from there."""
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("f", "enter", "down", "enter")  # KIM
        await pilot.press("tab", *"today", "tab", *"1300", "enter")  # KIM works to 14:00
        await settle(pilot)
        await pilot.press("enter")  # offered to the best candidate: the gap is an opening now
        await settle(pilot)
        title = str(app.screen.query_one("#calendar-title", Static).render())
        assert "2 appointments, 1 open gap" in title
        rows = app.screen.calendar
        gap = next(r for r in rows if r.gap)
        assert gap.appointment.provider_code == "KIM" and gap.open_slot
        assert [r.appointment.starts_at for r in rows] == sorted(
            r.appointment.starts_at for r in rows
        )
        table = app.screen.query_one("#calendar", DataTable)
        table.focus()
        table.move_cursor(row=rows.index(gap))
        await pilot.press("enter")  # back to its candidates, as for a cancelled booking's slot
        await settle(pilot)
        assert "13:00" in status(app) and app.screen.found.opening.id == gap.opening_id


async def test_looking_keeps_the_status_lines_and_the_next_status_fits_them(
    clinic_only_db, monkeypatch
) -> None:
    """The search's "Looking for candidates…" is written in the status line's lines as they
    are: a status of two lines shrunk to one for the search and grew back, laying the screen
    out twice per search. A status that needs fewer lines once the search is done shrinks."""
    a_morning()
    app = make_test_app()
    async with app.run_test(size=(60, 30)) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        line = app.screen.query_one("#finder-status", Static)
        tall = line.size.height
        assert tall > 1  # the slot, its counts and its terms, at 60 columns
        with monkeypatch.context() as search:
            search.setattr(app.screen.calls, "read", lambda *a, **k: None)  # still running
            app.screen.find(app.screen.source)
            await pilot.pause()
            assert "Looking for candidates" in status(app) and line.size.height == tall
        app.screen.find(app.screen.source)
        await settle(pilot)
        assert "3 candidates" in status(app) and line.size.height == tall
        app.screen.set_status(Text("Not offered: gone."))
        await pilot.pause()
        assert line.size.height == 1
