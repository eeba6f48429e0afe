"""The match finder, from an opening to people: pick the slot, read the ranked candidates,
offer it.

The slot comes from the day's calendar (a client phoning to cancel: cursor, enter, y) or
from a typed slot (provider, quick date, time, minutes). Candidates load in a worker; an
enter typed before they arrive offers to the best one once they do, so `m enter y enter`
goes from a cancelled appointment to a sent offer. The screen stays on the stack while an
entry is edited or its slots are shown, so nothing typed here is lost on the way back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import finder
from waitlist_tui.domain.fill.finder import CalendarRow, Found, TypedSlot
from waitlist_tui.domain.fill.matching import Candidate
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.screens import fairness_dialogs
from waitlist_tui.tui.screens import finder_calls as results
from waitlist_tui.tui.screens import finder_dialogs as asks
from waitlist_tui.tui.screens import finder_keys as keys
from waitlist_tui.tui.screens import finder_rows as shown
from waitlist_tui.tui.widgets.fast_table import FastTable, fill, refill
from waitlist_tui.tui.widgets.footer import Footer
from waitlist_tui.tui.widgets.static_text import update_static

FORM_FIELDS = ("provider", "date", "time", "minutes")


# Another desk's change to any of these may change the calendar or the candidates.
LIVE_KINDS = ("entry", "offer", "opening", "appointment", "client")


class FinderScreen(DeskScreen[None]):
    """Who should get this slot: the day's calendar or a typed slot, then the candidates."""

    HELP_TITLE = "match finder"

    BINDINGS = keys.BINDINGS

    def __init__(self, day: dt.date | None = None) -> None:
        super().__init__()
        self.day = day
        self.zone: ZoneInfo | None = None
        self.calendar: list[CalendarRow] = []
        self.found: Found | None = None
        self.shown_slot: tuple[str, dt.datetime, dt.datetime] | None = None  # whose list it is
        self.hours_confirmed: tuple[str, dt.datetime, dt.datetime] | None = None
        self.items: list[Candidate] = []
        self.include_partial = True
        # A search is running (not `loading`: that is Textual's reactive, which covers the
        # whole screen with a LoadingIndicator and lays it out again at each search).
        self.searching = False
        self.pending_offer = False
        self.busy = False
        self.source: Any = None  # what the candidates are for: an opening id or a TypedSlot
        self.broadcast_default = 3  # the clinic's, once the calendar has loaded
        # The reads under way are for another desk's change: rows updated where they
        # changed, cursors left where they are, no "looking" status in between.
        self.live_calendar = False
        self.live_candidates = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="calendar-title")
        calendar: DataTable[object] = FastTable(id="calendar", cursor_type="row")
        calendar.add_columns(*shown.CALENDAR_COLUMNS)
        yield calendar
        with Horizontal(id="slot-form"):
            yield Label("Or a slot:", id="form-label")
            yield Select[str]([], prompt="provider", id="provider", compact=True)
            yield Input(placeholder="today, fri, 24 nov", id="date", compact=True)
            yield Input(placeholder="09:00", id="time", compact=True)
            yield Input(value="60", placeholder="min", id="minutes", type="integer", compact=True)
            yield Static("", id="date-read")
        yield Static(
            "A client cancels: their booking, enter. A free slot: f, then provider, date, time.",
            id="finder-status",
        )
        table: DataTable[object] = FastTable(id="candidates", cursor_type="row")
        table.add_columns(*shown.CANDIDATE_COLUMNS)
        yield table
        yield Static("", id="why")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Match finder"
        self.query_one("#calendar", DataTable).focus()
        self.load_calendar()

    # --- live desks -----------------------------------------------------------------------

    def others_changed(self, changes: calls.Changes) -> None:
        """Another desk's change (the app's change feed): the day's calendar and the
        candidates read again, in place."""
        if not changes.touches(*LIVE_KINDS):
            return
        self.load_calendar(live=True)
        if self.source is not None and not self.busy:
            self.find(self.source, live=True)

    # --- calendar -------------------------------------------------------------------------

    def load_calendar(self, live: bool = False) -> None:
        self.live_calendar = live
        self.calls.read(
            results.read_calendar,
            self.day,
            done=results.CalendarRead,
            failed=results.CalendarFailed,
            group="calendar",
        )

    @on(results.CalendarFailed)
    def calendar_failed(self, message: results.CalendarFailed) -> None:
        self.set_status(Text(message.error.message, "bold red"))

    @on(results.CalendarRead)
    def show_calendar(self, message: results.CalendarRead) -> None:
        read = message.value
        day, zone, rows = read.day, read.zone, read.rows
        self.broadcast_default = read.broadcast_top_n
        first_load = self.zone is None
        self.day, self.zone, self.calendar = day, zone, rows
        picker = self.query_one("#provider", Select)
        if first_load:
            picker.set_options([(c, c) for c in read.provider_codes])
        table = self.query_one("#calendar", DataTable)
        cells, upcoming = shown.calendar_cells(rows, zone, clock.now())
        if self.live_calendar:
            self.live_calendar = False
            at = table.cursor_row
            key = table.ordered_rows[at].key.value if 0 <= at < table.row_count else None
            refill(table, shown.CALENDAR_COLUMNS, cells)
            keys = [k for k, _ in cells]
            if key in keys and keys.index(key) != table.cursor_row:
                table.move_cursor(row=keys.index(key))
        else:
            fill(table, shown.CALENDAR_COLUMNS, cells)
            if upcoming is not None:
                table.move_cursor(row=upcoming)
        title = shown.calendar_title(day, rows, read.calendars)
        self.query_one("#calendar-title", Static).update(title)

    def action_day(self, step: int) -> None:
        if self.day is not None:
            self.day = self.day + dt.timedelta(days=step)
            self.load_calendar()

    def take_calendar_row(self) -> None:
        table = self.query_one("#calendar", DataTable)
        if not 0 <= table.cursor_row < len(self.calendar):
            return
        row = self.calendar[table.cursor_row]
        if row.open_slot:
            self.find(row.opening_id)
            return
        if not row.can_cancel:
            self.notify("This appointment's time is not open.", severity="warning")
            return
        view = row.appointment

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#candidates", DataTable).focus()
                self.searching = True
                self.cancel_appointment(view.id)

        self.app.push_screen(asks.confirm_cancel(view, self.zone or ZoneInfo("UTC")), answered)

    def cancel_appointment(self, appointment_id: Any) -> None:
        self.calls.write(
            finder.cancel_for_waitlist,
            appointment_id,
            self.desk.staff,
            done=results.AppointmentCancelled,
            failed=results.SearchFailed,
        )

    @on(results.AppointmentCancelled)
    def cancelled(self, message: results.AppointmentCancelled) -> None:
        found = message.value
        self.notify("Appointment cancelled; its time is open.")
        self.source = found.opening.id
        self.calls.drop("candidates")  # a search still running was for what is on screen
        self.show_found(found)
        self.load_calendar()

    # --- typed slot -----------------------------------------------------------------------

    def typed_slot(self) -> TypedSlot:
        picker = self.query_one("#provider", Select)
        return TypedSlot(
            "" if picker.is_blank() else str(picker.value),
            self.query_one("#date", Input).value,
            self.query_one("#time", Input).value,
            self.query_one("#minutes", Input).value,
        )

    @on(Input.Changed, "#date")
    def date_typed(self, event: Input.Changed) -> None:
        self.query_one("#date-read", Static).update(shown.date_read_back(event.value, self.zone))

    def submit_form(self) -> None:
        slot = self.typed_slot()
        for name, value in zip(
            FORM_FIELDS[:3], (slot.provider, slot.date_text, slot.time_text), strict=True
        ):
            if not value.strip():  # fill the form left to right before searching
                self.query_one(f"#{name}").focus()
                return
        self.query_one("#candidates", DataTable).focus()
        self.find(slot)

    # --- candidates -----------------------------------------------------------------------

    def find(self, source: Any, live: bool = False) -> None:
        self.source = source
        self.searching = True
        self.live_candidates = live
        if not live:
            # in the status line's lines as they are: its next text is most often as tall
            self.set_status(Text("Looking for candidates…", "dim"), keep_height=True)
        self.calls.read(
            results.find_candidates,
            source,
            done=results.CandidatesFound,
            failed=results.SearchFailed,
            group="candidates",
            via="reader",
        )

    @on(results.CandidatesFound)
    def candidates_found(self, message: results.CandidatesFound) -> None:
        self.show_found(message.value)

    def show_found(self, found: Found) -> None:
        self.searching = False
        slot = (found.opening.provider_code, found.opening.starts_at, found.opening.ends_at)
        fresh, self.shown_slot = slot != self.shown_slot, slot
        self.found = found
        self.show_candidates(fresh=fresh)
        if self.pending_offer:
            self.pending_offer = False
            self.action_choose()

    def show_candidates(self, fresh: bool = False) -> None:
        """A list for another slot starts on its best candidate (`enter` offered the slot to
        whoever sat on the old cursor row); a reload of the same slot keeps the client."""
        found = self.found
        if found is None:
            return
        keep = None if fresh else self.cursor_candidate()
        items = found.candidates.items
        self.items = items if self.include_partial else [c for c in items if c.fails == ()]
        table = self.query_one("#candidates", DataTable)
        rows = shown.candidate_cells(self.items, found.held)
        live, self.live_candidates = self.live_candidates, False
        (refill if live else fill)(table, shown.CANDIDATE_COLUMNS, rows)
        at = 0
        if keep is not None:
            at = next((i for i, c in enumerate(self.items) if c.entry_id == keep.entry_id), 0)
        if self.items:
            table.move_cursor(row=at)
        self.set_status(
            shown.status_line(found, self.zone or ZoneInfo("UTC"), self.include_partial)
        )

    @on(results.SearchFailed)
    def search_failed(self, message: results.SearchFailed) -> None:
        self.failed(message.error)

    def failed(self, err: DomainError) -> None:
        self.searching = self.busy = self.pending_offer = False
        self.found, self.items, self.shown_slot = None, [], None  # the list was for another slot
        self.query_one("#candidates", DataTable).clear()
        self.query_one("#why", Static).update("")
        self.set_status(Text(err.message, "bold red"))
        if err.field in FORM_FIELDS:
            self.query_one(f"#{err.field}").focus()
        elif err.field == "start":
            self.query_one("#date").focus()

    @on(DataTable.RowHighlighted, "#candidates")
    def explain(self, event: DataTable.RowHighlighted) -> None:
        """The Why column is cut on a narrow terminal: the cursor candidate's reads in full."""
        update_static(self.query_one("#why", Static), self.cursor_why())

    def cursor_why(self) -> Text | str:
        held = self.found.held if self.found is not None else {}
        return shown.why_text(self.cursor_candidate(), held)

    def set_status(self, text: Text, keep_height: bool = False) -> None:
        update_static(self.query_one("#finder-status", Static), text, keep_height)

    def cursor_candidate(self) -> Candidate | None:
        table = self.query_one("#candidates", DataTable)
        if self.items and 0 <= table.cursor_row < len(self.items):
            return self.items[table.cursor_row]
        return None

    # --- actions --------------------------------------------------------------------------

    def action_choose(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "calendar":
            self.take_calendar_row()
        elif isinstance(focused, DataTable) and focused.id == "candidates":
            if self.searching:
                self.pending_offer = True
                return
            candidate = self.cursor_candidate()
            if candidate is not None:
                self.send(candidate.entry_id, None, None)
        elif isinstance(focused, Input) and focused.id in FORM_FIELDS:
            self.submit_form()
        else:
            raise SkipAction()  # a Select and its list handle enter themselves

    def action_broadcast(self) -> None:
        if self.found is None or not self.items:
            self.notify("Find candidates for a slot first.", severity="warning")
            return
        from waitlist_tui.tui.screens.dialogs import BroadcastDialog

        def answered(top: int | None) -> None:
            if top:
                self.send(None, "BROADCAST", top)

        default = self.broadcast_default
        exact = self.found.candidates.exact
        self.app.push_screen(
            BroadcastDialog(
                shown.slot_label(self.found, self.zone or ZoneInfo("UTC")), default, exact
            ),
            answered,
        )

    def send(self, entry_id: Any, workflow: str | None, top: int | None) -> None:
        """Offer the slot; one outside the provider's hours is offered only once the desk
        says so (a gap typed at 01:30 or on a Sunday went out without a word)."""
        if self.busy or self.found is None:
            return
        found = self.found
        if found.outside_hours and self.hours_confirmed != self.shown_slot:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.hours_confirmed = self.shown_slot
                    self.send(entry_id, workflow, top)

            self.app.push_screen(
                asks.confirm_outside_hours(found, self.zone or ZoneInfo("UTC")), answered
            )
            return
        self.busy = True
        self.calls.write(
            results.send_found,
            found,
            self.desk.staff,
            entry_id,
            workflow,
            top,
            done=results.Offered,
            failed=results.OfferRefused,
        )

    @on(results.OfferRefused)
    def offer_failed(self, message: results.OfferRefused) -> None:
        err = message.error
        self.busy = False
        self.notify(f"Not offered: {err.message}", severity="error", markup=False)
        self.set_status(Text(err.message, "bold red"))
        self.reload_candidates()

    @on(results.Offered)
    def offered(self, message: results.Offered) -> None:
        sent = message.value
        self.busy = False
        note, phone = asks.offered_note(sent, self.zone or ZoneInfo("UTC"))
        self.notify(note, markup=False, severity="warning" if phone else "information")
        if self.found is not None and not self.found.saved:
            self.source = sent[0].opening_id  # the slot is an opening now
        self.reload_candidates()
        self.load_calendar()

    def reload_candidates(self) -> None:
        if self.source is not None:
            self.find(self.source)

    def action_reload(self) -> None:
        self.load_calendar()
        self.reload_candidates()

    def action_toggle_partial(self) -> None:
        self.include_partial = not self.include_partial
        self.show_candidates()

    def action_edit(self) -> None:
        from waitlist_tui.tui.screens.editor import EditorScreen

        self.open_candidate(EditorScreen, self.reload_candidates)

    def action_slots(self) -> None:
        from waitlist_tui.tui.screens.slots import SlotsScreen

        self.open_candidate(SlotsScreen, self.action_reload)

    def open_candidate(
        self, screen: Callable[[EntryView], Screen[Any]], then: Callable[[], None]
    ) -> None:
        """The cursor candidate's entry, as it is now, in another screen; `then` on return."""
        candidate = self.cursor_candidate()
        view = calls.fresh_entry(self.app, candidate.entry_id) if candidate else None
        if view is not None:
            self.app.push_screen(screen(view), lambda _: then())

    # --- fairness -------------------------------------------------------------------------

    def action_why(self) -> None:
        """The opening's fairness record: what the desk saw each time it was offered."""
        found = self.found
        if found is None or not found.saved:
            self.notify("Not offered yet: no ranking recorded.", severity="warning")
            return
        self.calls.read(
            fairness_dialogs.read_why,
            found.opening.id,
            done=results.WhyRead,
            failed=results.SearchFailed,
            group="why",
        )

    @on(results.WhyRead)
    def why_read(self, message: results.WhyRead) -> None:
        if self.found is None:
            return
        title = f"Why: {shown.slot_label(self.found, self.zone or ZoneInfo('UTC'))}"
        self.app.push_screen(fairness_dialogs.WhyDialog(title, message.value))

    def action_skip(self) -> None:
        """Skip the cursor candidate for this opening with a typed reason."""
        found, candidate = self.found, self.cursor_candidate()
        if found is None or candidate is None:
            self.notify("Put the cursor on a candidate first.", severity="warning")
            return
        if not found.saved:
            self.notify("Open the slot first: offer it, or skip once it is an opening.")
            return

        def answered(reason: str | None) -> None:
            if reason:
                self.calls.write(
                    fairness_dialogs.fairness.skip_candidate,
                    found.opening.id,
                    candidate.entry_id,
                    reason,
                    self.desk.staff,
                    done=results.Skipped,
                    failed=results.OfferRefused,
                )

        slot = shown.slot_label(found, self.zone or ZoneInfo("UTC"))
        self.app.push_screen(fairness_dialogs.SkipDialog(candidate.client_name, slot), answered)

    @on(results.Skipped)
    def skipped(self, message: results.Skipped) -> None:
        self.notify(f"Skipped: {message.value['reason']}", markup=False)
        self.reload_candidates()

    def action_type_slot(self) -> None:
        self.query_one("#provider", Select).focus()

    def action_calendar(self) -> None:
        self.query_one("#calendar", DataTable).focus()

    def action_back(self) -> None:
        self.dismiss(None)
