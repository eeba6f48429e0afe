"""The entry editor, the cancel dialog, slots for an entry and help: snapshots, and whole
workflows driven by keys and then checked in the database."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from rich.console import Console
from textual.widgets import DataTable, Input, Select, SelectionList, Static

from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain import vocab
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.fill.slot_offers import slots_for_entry
from waitlist_tui.domain.store.models import Appointment, Client, Clinic, Entry
from waitlist_tui.domain.waitlist import changes, listing, reading
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui.screens.editor import EditorScreen
from waitlist_tui.tui.screens.help import key_table

TODAY = dt.date(2026, 11, 20)  # the frozen clinic date (FROZEN is 14:30 UTC, a Friday)


def first_waiting() -> EntryView:
    return listing.list_entries(listing.EntryQuery(statuses=(vocab.WAITING,), limit=1)).items[0]


def a_closed_entry() -> EntryView:
    return listing.list_entries(listing.EntryQuery(statuses=(vocab.BOOKED,), limit=1)).items[0]


async def open_editor_on(pilot, view: EntryView) -> None:
    await settle(pilot)
    pilot.app.push_screen(EditorScreen(reading.get(view.id)))
    await settle(pilot)


# --- snapshots ---------------------------------------------------------------------------------


def test_editor_new_snapshot(demo_db, snap_compare) -> None:
    async def new(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=new)


def test_editor_validation_errors_snapshot(demo_db, snap_compare) -> None:
    async def bad_range(pilot) -> None:
        await settle(pilot)
        await pilot.press("n", *"hana lee", "enter")
        await settle(pilot)
        await pilot.press("enter", "down", "enter", "tab", *"+2w", "tab", *"tomorrow", "ctrl+s")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=bad_range)


def test_editor_new_client_asks_for_consent_snapshot(demo_db, snap_compare) -> None:
    """A clinic that asks: the new client's consent boxes start blank, and saving without
    them shows the domain's error beside the client."""
    clinic = Clinic.get()
    clinic.settings = {**clinic.settings, "consent": {"default": "ask", "contact_line": ""}}
    clinic.save()

    async def unanswered(pilot) -> None:
        await settle(pilot)
        await pilot.press("n", *"ida wren", "enter")
        await settle(pilot)
        await pilot.press(*"617 555 0178", "tab", "tab", "tab", "tab")
        await pilot.press("enter", *"acu", "enter", "ctrl+s")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=unanswered)


def test_editor_read_only_snapshot(demo_db, snap_compare) -> None:
    closed = a_closed_entry()

    async def read_only(pilot) -> None:
        await open_editor_on(pilot, closed)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=read_only)


def test_cancel_dialog_snapshot(demo_db, snap_compare) -> None:
    async def ask(pilot) -> None:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=ask)


def test_help_screen_snapshot(demo_db, snap_compare) -> None:
    async def help_(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=help_)


# --- workflows ---------------------------------------------------------------------------------


async def test_add_entry_for_an_existing_client_in_few_keys(demo_db) -> None:
    hana = Client.get(Client.first_name == "Hana", Client.last_name == "Lee")
    before = Entry.select().where(Entry.client == hana).count()
    app = make_test_app()
    typed = ["hana lee", "f", "fri"]  # what the desk types: search text, chosen values
    keys = ["n", "enter", "enter", "enter", "tab", "ctrl+s"]  # everything else
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(keys[0], *typed[0], keys[1])  # n, search, enter picks
        await settle(pilot)
        await pilot.press(keys[2], *typed[1], keys[3])  # service: open, type to find, enter
        await pilot.press(keys[4], *typed[2], keys[5])  # start date, save
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    assert len(keys) <= 15
    made = Entry.select().where(Entry.client == hana).order_by(Entry.created_at.desc()).first()
    assert Entry.select().where(Entry.client == hana).count() == before + 1
    assert made.service.code == "PT-FU"
    assert made.date_range_start == dt.date(2026, 11, 27)  # "fri" on a Friday: next week's
    assert made.date_range_end == dt.date(2026, 12, 27)  # start + the clinic's 30 days
    assert made.created_by == "tester" and made.status == vocab.WAITING


async def test_add_entry_for_a_new_client(demo_db) -> None:
    clients_before = Client.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"zed quinn", "enter")
        await settle(pilot)
        assert isinstance(app.focused, Input) and app.focused.id == "phone"
        await pilot.press(*"617 555 0199", "tab", *"zed@example.com", "tab")
        # may we text them, email them: the clinic's default (yes) already chosen
        assert app.focused is app.screen.query_one("#consent-sms")
        await pilot.press("tab", "tab")
        await pilot.press("enter", *"acu", "enter", "tab", *"+3d", "tab", *"+2w")
        await pilot.press("tab", "1", "3", "tab", "2", "ctrl+s")  # Mon Wed, afternoon
        await settle(pilot)
    zed = Client.get(Client.first_name == "Zed", Client.last_name == "Quinn")
    assert Client.select().count() == clients_before + 1
    assert zed.phone == "+16175550199" and zed.email == "zed@example.com"
    assert (zed.consent_sms, zed.consent_email) == (True, True)
    made = Entry.get(Entry.client == zed)
    assert made.date_range_start == dt.date(2026, 11, 23)
    assert made.date_range_end == dt.date(2026, 12, 7)  # +2w from the start
    assert vocab.from_mask(made.preferred_days, vocab.DAYS) == ["MONDAY", "WEDNESDAY"]
    assert vocab.from_mask(made.preferred_time_slots, vocab.TIME_SLOTS) == ["AFTERNOON"]


async def test_space_ticks_the_first_provider_right_after_tabbing_in(demo_db) -> None:
    """No row was highlighted on focus, so `space` ticked nothing and the entry was saved as
    "any provider"."""
    hana = Client.get(Client.first_name == "Hana", Client.last_name == "Lee")
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"hana lee", "enter")
        await settle(pilot)
        await pilot.press("enter", *"f", "enter", "tab", *"fri")
        await settle(pilot)
        providers = app.screen.query_one("#providers", SelectionList)
        assert providers.highlighted is None and providers.option_count > 1
        for _ in range(12):  # tab on until the providers have the focus, as the desk does
            if app.focused is providers:
                break
            await pilot.press("tab")
        assert app.focused is providers and providers.highlighted == 0
        first = providers.get_option_at_index(0).value
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    made = Entry.select().where(Entry.client == hana).order_by(Entry.created_at.desc()).first()
    assert [p.code for p in reading.get(made.id).preferred_providers] == [first]


async def test_a_new_client_who_says_no_to_texts_is_saved_so(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"una vale", "enter")
        await settle(pilot)
        await pilot.press(*"617 555 0177", "tab", "tab")
        assert app.focused is app.screen.query_one("#consent-sms")
        await pilot.press("enter", "down", "enter")  # Yes -> No
        await settle(pilot)
        await pilot.press("tab", "tab", "enter", *"acu", "enter", "ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    una = Client.get(Client.first_name == "Una", Client.last_name == "Vale")
    assert (una.consent_sms, una.consent_email) == (False, True)


async def test_a_clinic_that_asks_refuses_a_new_client_until_consent_is_chosen(demo_db) -> None:
    clinic = Clinic.get()
    clinic.settings = {**clinic.settings, "consent": {"default": "ask", "contact_line": ""}}
    clinic.save()
    before = Client.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"ida wren", "enter")
        await settle(pilot)
        await pilot.press(*"617 555 0178", "tab", "tab")
        sms = app.screen.query_one("#consent-sms", Select)
        assert sms.is_blank() and app.focused is sms  # nothing chosen for them
        await pilot.press("tab", "tab", "enter", *"acu", "enter", "ctrl+s")
        await settle(pilot)
        error = str(app.screen.query_one("#err-client", Static).render())
        assert "May we text them? Choose yes or no: this clinic asks every new client" in error
        assert "May we email them? Choose yes or no" in error  # both at once
        assert app.focused is sms and Client.select().count() == before
        await pilot.press("enter", "down", "enter")  # past "ask them": Yes
        await pilot.press("tab", "enter", "down", "down", "enter")  # email: No
        await settle(pilot)
        assert (sms.value, app.screen.query_one("#consent-email", Select).value) == ("yes", "no")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    ida = Client.get(Client.first_name == "Ida", Client.last_name == "Wren")
    assert (ida.consent_sms, ida.consent_email) == (True, False)


async def test_edit_the_date_range(demo_db) -> None:
    target = first_waiting()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor_on(pilot, target)
        app.screen.query_one("#start", Input).focus()
        await pilot.press(*"mon", "tab", *"dec 18", "ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen", app.screen.query_one("#banner")
    after = reading.get(target.id)
    assert (after.date_range_start, after.date_range_end) == (
        dt.date(2026, 11, 23),
        dt.date(2026, 12, 18),
    )
    assert after.version == target.version + 1 and after.updated_by == "tester"


async def test_domain_error_shows_beside_the_field_and_keeps_values(demo_db) -> None:
    count = Entry.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"hana lee", "enter", "enter", "down", "enter")
        await pilot.press("tab", *"+2w", "tab", *"tomorrow", "ctrl+s")
        await settle(pilot)
        error = app.screen.query_one("#err-dates", Static)
        assert "End date is before the start date" in str(error.render())  # the desk's words
        assert app.screen.query_one("#start", Input).value == "+2w"
        assert app.screen.query_one("#end", Input).value == "tomorrow"
        assert app.focused is app.screen.query_one("#end", Input)
        await pilot.press(*"+1w", "ctrl+s")  # fix it: the end replaces what was selected
        await settle(pilot)
    assert Entry.select().count() == count + 1


async def test_every_error_shows_at_once_in_the_desks_words(demo_db) -> None:
    """One error showed per save, in code words, and the phone's error sent the focus to the
    first name: now each field says what is wrong and the focus goes to the first."""
    count = Client.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"zed quinn", "enter")
        await settle(pilot)
        await pilot.press(*"abc", "tab", *"zed@example.com", "tab", "tab", "tab")  # consents
        await pilot.press("enter", *"acu", "enter", "tab", *"+2w", "tab", *"tomorrow", "ctrl+s")
        await settle(pilot)
        client = str(app.screen.query_one("#err-client", Static).render())
        dates = str(app.screen.query_one("#err-dates", Static).render())
        assert "Phone 'abc' is not a phone number: type it as 617 555 0142" in client
        assert "The string supplied" not in client and "client.phone" not in client
        assert "End date is before the start date" in dates
        banner = str(app.screen.query_one("#banner", Static).render())
        assert "fix the 2 fields marked below" in banner
        assert app.focused is app.screen.query_one("#phone", Input)  # not the first name
        assert app.screen.query_one("#phone", Input).value == "abc"  # kept
    assert Client.select().count() == count


def test_desk_words_keep_the_sense_and_drop_the_code() -> None:
    from waitlist_tui.tui.desk_words import desk_words

    assert desk_words("service", "service is required") == "Service is needed"
    assert desk_words("date_range_end", "date_range_end is in the past") == (
        "End date has already passed"
    )
    assert (
        desk_words(
            "client.email", "client.email 'x' is not a valid email address: It must have an @-sign."
        )
        == "Email 'x' is not an email address: It must have an @-sign."
    )
    assert "preferred time start" not in desk_words(
        "preferred_time_start", "preferred_time_start must be before preferred_time_end"
    )


async def test_bad_quick_date_is_refused_before_the_domain(demo_db) -> None:
    count = Entry.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"hana lee", "enter", "enter", "down", "enter", "tab", *"soon")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "'soon' is not a date" in str(app.screen.query_one("#err-dates", Static).render())
        assert "not a date" in str(app.screen.query_one("#start-read", Static).render())
    assert Entry.select().count() == count


async def test_escape_with_changes_asks_before_discarding(demo_db) -> None:
    count = Entry.select().count()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"hana", "escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmDialog"
        await pilot.press("n")  # keep editing: nothing lost
        await settle(pilot)
        assert app.screen.query_one("#client-search", Input).value == "hana"
        await pilot.press("escape", "y")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
        await pilot.press("n", "escape")  # nothing typed: leaves at once
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    assert Entry.select().count() == count


async def test_quitting_from_a_dirty_editor_asks_first(demo_db) -> None:
    """ctrl+q (Textual's priority quit) and `q` with the focus off the inputs went straight out
    and lost the half-typed entry; both ask now, from the editor or a dialog above it."""
    app = make_test_app()
    exits: list[str] = []
    app.exit = lambda *a, **k: exits.append("exit")  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", *"hana")
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmDialog" and exits == []
        await pilot.press("ctrl+q")  # asking again does not stack a second dialog
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen) and exits == []
        assert app.screen.query_one("#client-search", Input).value == "hana"
        app.screen.query_one("#days").focus()  # off the inputs: `q` reaches the app's binding
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ConfirmDialog" and exits == []
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.query_one("#client-search", Input).value == "hana"
        await pilot.press("ctrl+q", "y")
        await settle(pilot)
        assert exits == ["exit"]


async def test_quitting_with_a_clean_editor_does_not_ask(demo_db) -> None:
    app = make_test_app()
    exits: list[str] = []
    app.exit = lambda *a, **k: exits.append("exit")  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert exits == ["exit"] and isinstance(app.screen, EditorScreen)


async def test_closed_entry_is_read_only(demo_db) -> None:
    closed = a_closed_entry()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor_on(pilot, closed)
        banner = str(app.screen.query_one("#banner", Static).render())
        assert f"Read only: this entry is {closed.status}" in banner
        booked = Appointment.get(Appointment.entry == closed.id)
        local = booked.starts_at.astimezone(ZoneInfo("America/New_York"))
        assert f"Appointment: {local:%a %d %b %H:%M} with {booked.provider.code}" in banner
        assert all(w.disabled for w in app.screen.query("#form Input"))
        await pilot.press("ctrl+s", "escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    assert reading.get(closed.id).version == closed.version


async def test_cancel_an_entry_with_a_reason(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        target = str(next(iter(table.rows)).value)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press(*"booked elsewhere", "enter")
        await settle(pilot)
        assert target not in [str(k.value) for k in table.rows]
    after = reading.get(target)
    assert after.status == vocab.CANCELLED and after.updated_by == "tester"
    assert after.notes.endswith("Cancelled: booked elsewhere")


async def test_cancel_dialog_escape_keeps_the_entry(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        target = str(next(iter(app.screen.query_one(DataTable).rows)).value)
        await pilot.press("x", "escape")
        await settle(pilot)
    assert reading.get(target).status in vocab.ACTIVE_STATUSES


async def test_offer_a_free_slot_to_the_cursor_entry(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f", "enter", "down", "enter", "escape")  # waiting only
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        keys = [str(row.value) for row in table.rows]
        target = next(key for key in keys if slots_for_entry(key))  # one with free time
        await pilot.press(*["down"] * keys.index(target))
        await pilot.press("o")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "SlotsScreen"
        assert app.screen.query_one(DataTable).row_count > 0
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    sent = offers.list_offers(entry=target)
    assert len(sent) == 1 and sent[0].status == vocab.OFFER_SENT
    assert reading.get(target).status == vocab.OFFERED


async def test_help_lists_the_screens_keys(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(key_table(app.screen.under))
        keys = console.export_text()
        for binding_id in ("queue.new", "queue.edit", "queue.cancel", "queue.triage"):
            assert binding_id in keys
        assert keys.count("app.help") == 1  # `? / f1` is one binding id, not "app.help, app.help"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"


async def test_enter_typed_ahead_of_the_search_waits_for_its_results(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        search = screen.query_one("#client-search", Input)
        search.value = "hana lee"  # typed and entered before any search came back
        screen.pick_client()
        assert screen.chosen is None and screen.pick_pending
        await settle(pilot)
        assert screen.chosen is not None and screen.chosen.label.startswith("Hana Lee")


# --- keep the later appointment (issue 22, knock-on fill) --------------------------------------


def test_editor_keeps_the_later_appointment_snapshot(demo_db, snap_compare) -> None:
    """An entry marked to keep its later appointment opens with the choice shown."""
    target = first_waiting()
    changes.update(target.id, {"keep_later_appointment": True}, "tester")

    async def marked(pilot) -> None:
        await open_editor_on(pilot, target)
        app = pilot.app
        app.screen.query_one("#keep-later", Select).focus()
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=marked)


async def test_the_later_appointment_choice_is_saved(demo_db) -> None:
    target = first_waiting()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_editor_on(pilot, target)
        assert app.screen.query_one("#keep-later", Select).value == "release"
        app.screen.query_one("#keep-later", Select).value = "keep"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "QueueScreen"
    after = reading.get(target.id)
    assert after.keep_later_appointment is True and after.version == target.version + 1
