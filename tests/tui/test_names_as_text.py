"""Names, notes and other typed text appear as typed: "[" in a name is not a style tag.

DataTable, Label, Static, notify and the command palette read a str as markup: a client
named "Ann [/b]" stopped the triage screen and the palette (MarkupError), and "[VIP]" vanished.

The dates below are the frozen clock's (Friday 2026-11-20, the `tui_db` fixture under `clinic_only_db` freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

from textual.widgets import DataTable, Label

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry
from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.fill.openings import add_opening

NAME = ("Ann [/b]", "Lee [VIP]")


def cells(table: DataTable) -> list[str]:
    return [str(getattr(cell, "plain", cell)) for row in range(table.row_count)
            for cell in table.get_row_at(row)]  # fmt: skip


async def test_a_name_with_brackets_shows_as_typed_everywhere(clinic_only_db) -> None:
    view = add_entry(
        client={"first_name": NAME[0], "last_name": NAME[1], "phone": "617-555-0107"},
        notes="call [red]after[/] 5 [/x]",
    )
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    offers.offer(opening.id, STAFF, entry_id=view.id)
    full = f"{NAME[0]} {NAME[1]}"
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert full in cells(app.screen.query_one(DataTable))
        await pilot.press("ctrl+p", *"ann")
        await pilot.pause(1.0)
        await pilot.press("enter")  # the palette's hit for the entry opens it
        await settle(pilot)
        assert type(app.screen).__name__ == "EditorScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert full in cells(app.screen.query_one(DataTable))
        await pilot.press("r")  # rescind asks first, naming the client
        await pilot.pause()
        question = app.screen.query_one(".dialog-question", Label)
        assert full in str(question.render())


async def test_control_characters_in_a_name_or_note_show_escaped(clinic_only_db) -> None:
    """Names are refused with control characters now; one stored before (an old import)
    shows escaped in the queue, its detail and the triage list, never sent raw to the
    terminal."""
    from waitlist_tui.domain.store.models import Client, Entry

    view = add_entry(client={"first_name": "Bea", "last_name": "Ray", "phone": "617-555-0108"})
    Client.update(first_name="Bea\x1b[2J").execute()
    Entry.update(notes="line one\nline\x07two").execute()
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    offers.offer(opening.id, STAFF, entry_id=view.id)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = cells(app.screen.query_one(DataTable))
        assert "Bea\\x1b[2J Ray" in shown
        assert not any("\x1b" in cell or "\x07" in cell for cell in shown)
        detail = " ".join(str(getattr(w.render(), "plain", "")) for w in app.screen.query("Static"))
        assert "\x07" not in detail and "\x1b" not in detail
        await pilot.press("t")
        await settle(pilot)
        assert "Bea\\x1b[2J Ray" in cells(app.screen.query_one(DataTable))
