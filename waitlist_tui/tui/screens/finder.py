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
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic, providers
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import finder
from waitlist_tui.domain.fill.finder import CalendarRow, Found, TypedSlot
from waitlist_tui.domain.fill.matching import COUNT_CAP, Candidate
from waitlist_tui.domain.fill.offers import OfferView
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.quickdates import long_date, parse_quick_date
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui.formatting import phone_text, priority_text
from waitlist_tui.tui.reader import fresh_entry, read
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

FORM_FIELDS = ("provider", "date", "time", "minutes")
CALENDAR_COLUMNS = ("Time", "Provider", "Client", "Service", "Status")
CANDIDATE_COLUMNS = ("Match", "Pri", "Waited", "Client", "Phone", "Why")


def slot_label(found: Found, zone: ZoneInfo) -> str:
    view = found.opening
    start, end = view.starts_at.astimezone(zone), view.ends_at.astimezone(zone)
    return (
        f"{start:%a} {start.day} {start:%b} {start:%H:%M}–{end:%H:%M} with "
        f"{view.provider_code} ({view.minutes} min)"
    )


def counted(n: int, capped: bool) -> str:
    """Counts stop at COUNT_CAP per match type: a capped one is "at least"."""
    return f"{n}+" if capped else str(n)


def update_static(widget: Static, content: Text | str) -> None:
    """`widget.update(content)`, laying the screen out again only when the new text needs
    another number of lines: a layout repaints the whole screen, and the status and "why"
    lines change on every search and every cursor move while their height rarely does."""
    width = widget.content_size.width
    cap = widget.styles.max_height
    if not widget.is_mounted or width <= 0 or (cap is not None and not cap.is_cells):
        widget.update(content)
        return
    before = widget.content_size.height
    widget.update(content, layout=False)
    needed = widget.get_content_height(widget.size, widget.app.size, width)
    if cap is not None:
        needed = min(needed, int(cap.value))
    if needed != before:
        widget.refresh(layout=True)


def terms_text(found: Found, zone: ZoneInfo) -> Text:
    """What an offer made now would be, when it is not the plain hold: the slot's cutoff
    comes first ("reply by 10:00, the slot's cutoff"), or its message would wait for quiet
    hours past the deadline (phone instead). The rule is the domain's (offer_time)."""
    terms = found.terms
    if terms is None:
        return Text("")
    until = terms.deadline.astimezone(zone)
    if terms.phone_instead:
        return Text(f" · {terms.phone_instead} (reply by {until:%a %H:%M})", "bold yellow")
    if terms.capped:
        return Text(f" · reply by {until:%a %H:%M}, the slot's cutoff", "yellow")
    return Text("")


def match_text(candidate: Candidate) -> Text:
    if candidate.match_type == vocab.EXACT:
        return Text("EXACT", "bold green")
    return Text("PARTIAL", "yellow")  # what fails opens the Why column


class FinderScreen(Screen[None]):
    """Who should get this slot: the day's calendar or a typed slot, then the candidates."""

    HELP_TITLE = "match finder"

    BINDINGS = [
        Binding(
            "enter",
            "choose",
            "Choose",
            id="finder.choose",
            tooltip="Calendar: use this appointment's time · candidates: offer to this client",
            priority=True,
        ),
        Binding("b", "broadcast", "Broadcast", id="finder.broadcast", tooltip="Offer to the top N"),
        Binding(
            "p", "toggle_partial", "Partial", id="finder.partial", tooltip="Show or hide PARTIAL"
        ),
        Binding("e", "edit", "Edit", id="finder.edit", tooltip="Open the candidate's entry"),
        Binding("s", "slots", "Slots", id="finder.slots", tooltip="Free slots for them"),
        Binding("f", "type_slot", "Slot", id="finder.type", tooltip="Provider, date, time"),
        Binding(
            "c",
            "calendar",
            "Calendar",
            id="finder.calendar",
            tooltip="The day's bookings",
            show=False,
        ),
        Binding("]", "day(1)", "Next day", id="finder.next_day", show=False),
        Binding("[", "day(-1)", "Prev day", id="finder.prev_day", show=False),
        Binding("ctrl+r", "reload", "Refresh", id="finder.refresh", show=False),
        Binding("escape", "back", "Back", id="finder.back", tooltip="Back to the queue"),
    ]

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
        self.generation = 0
        self.source: Any = None  # what the candidates are for: an opening id or a TypedSlot
        self.broadcast_default = 3  # the clinic's, once the calendar has loaded

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="calendar-title")
        calendar: DataTable[object] = FastTable(id="calendar", cursor_type="row")
        calendar.add_columns(*CALENDAR_COLUMNS)
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
        table.add_columns(*CANDIDATE_COLUMNS)
        yield table
        yield Static("", id="why")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Match finder"
        self.query_one("#calendar", DataTable).focus()
        self.load_calendar()

    # --- calendar -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="calendar")
    def load_calendar(self) -> None:
        try:
            with database.connection_context():
                clinic = get_clinic()
                zone = ZoneInfo(clinic.time_zone)
                day = self.day or clock.today(clinic.time_zone)
                rows = finder.day_calendar(day, clinic)
                codes = [p.code for p in providers(clinic)]
                self.broadcast_default = clinic.broadcast_top_n
        except DomainError as err:
            self.app.call_from_thread(self.set_status, Text(err.message, "bold red"))
            return
        self.app.call_from_thread(self.show_calendar, day, zone, rows, codes)

    def show_calendar(
        self, day: dt.date, zone: ZoneInfo, rows: list[CalendarRow], codes: list[str]
    ) -> None:
        first_load = self.zone is None
        self.day, self.zone, self.calendar = day, zone, rows
        picker = self.query_one("#provider", Select)
        if first_load:
            picker.set_options([(c, c) for c in codes])
        table = self.query_one("#calendar", DataTable)
        now = clock.now()
        upcoming = None
        cells = []
        for i, row in enumerate(rows):
            view = row.appointment
            start = view.starts_at.astimezone(zone)
            cells.append(
                (
                    str(view.id),
                    (
                        Text(f"{start:%H:%M}–{view.ends_at.astimezone(zone):%H:%M}"),
                        Text(view.provider_code),
                        Text(printable(view.client_name) or "—", "" if view.client_name else "dim"),
                        Text(view.service_code or "any", "" if view.service_code else "dim"),
                        self.calendar_status(row),
                    ),
                )
            )
            if upcoming is None and row.can_cancel and view.starts_at > now:
                upcoming = i
        fill(table, CALENDAR_COLUMNS, cells)
        if upcoming is not None:
            table.move_cursor(row=upcoming)
        booked = sum(not row.gap for row in rows)
        count = f"{booked} appointment{'s' if booked != 1 else ''}" if booked else "none"
        gaps = len(rows) - booked
        if gaps:
            count += f", {gaps} open gap{'s' if gaps != 1 else ''}"
        self.query_one("#calendar-title", Static).update(
            Text.assemble(
                ("Calendar ", "bold"),
                f"{long_date(day)} · {count} · [ ] other days",
            )
        )

    @staticmethod
    def calendar_status(row: CalendarRow) -> Text:
        status = row.appointment.status
        if row.gap:
            return Text("open slot", "bold yellow")
        if row.open_slot:
            return Text("cancelled · open slot", "bold yellow")
        if row.opening_status == vocab.OPENING_FILLED:
            return Text("cancelled · refilled", "green")
        return Text(status, "" if status == vocab.APPT_BOOKED else "dim")

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
        start = view.starts_at.astimezone(self.zone)
        from waitlist_tui.tui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#candidates", DataTable).focus()
                self.searching = True
                self.cancel_appointment(view.id)

        self.app.push_screen(
            ConfirmDialog(
                f"{printable(view.client_name)} cancels {start:%H:%M} with {view.provider_code}?",
                f"{view.service_code} · {long_date(start.date())}. The appointment is cancelled "
                "and its time offered from the waitlist.",
                yes="Cancel it and find candidates",
                no="Keep the booking",
            ),
            answered,
        )

    @work(thread=True, group="writes")
    def cancel_appointment(self, appointment_id: Any) -> None:
        staff = self.app.staff  # type: ignore[attr-defined]
        try:
            with database.connection_context():
                found = finder.cancel_for_waitlist(appointment_id, staff)
        except DomainError as err:
            self.app.call_from_thread(self.failed, err)
            return
        self.app.call_from_thread(self.cancelled, found)

    def cancelled(self, found: Found) -> None:
        self.notify("Appointment cancelled; its time is open.")
        self.source = found.opening.id
        self.generation += 1
        self.show_found(found, self.generation)
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
        read = self.query_one("#date-read", Static)
        if not event.value.strip() or self.zone is None:
            read.update("")
            return
        try:
            day = parse_quick_date(event.value, clock.today(str(self.zone)), "date")
        except DomainError:
            read.update(Text("?", "bold red"))
            return
        read.update(Text(f"→ {long_date(day)}", "green"))

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

    def find(self, source: Any) -> None:
        self.source = source
        self.generation += 1
        self.searching = True
        self.set_status(Text("Looking for candidates…", "dim"))
        self.load_candidates(source, self.generation)

    @work(thread=True, exclusive=True, group="candidates")
    def load_candidates(self, source: Any, generation: int) -> None:
        """Always EXACT and PARTIAL: `p` then filters what is on screen without a query (the
        EXACT ones rank first, so the list holds every EXACT one it has room for)."""
        find = finder.find_for_typed if isinstance(source, TypedSlot) else finder.find_for_opening
        try:
            found = read(self.app, find, source)
        except DomainError as err:
            self.app.call_from_thread(self.failed, err, generation)
            return
        self.app.call_from_thread(self.show_found, found, generation)

    def show_found(self, found: Found, generation: int) -> None:
        if generation != self.generation:
            return  # an older search finished after a newer one started
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
        rows = [
            (  # Text, not str: plain words, no markup to parse per cell
                str(c.entry_id),
                (
                    match_text(c),
                    priority_text(c.priority),
                    Text(f"{c.waited_days}d"),
                    Text(c.client_name),
                    Text(phone_text(c.phone)),
                    Text(c.explanation),
                ),
            )
            for c in self.items
        ]
        fill(table, CANDIDATE_COLUMNS, rows)
        at = 0
        if keep is not None:
            at = next((i for i, c in enumerate(self.items) if c.entry_id == keep.entry_id), 0)
        if self.items:
            table.move_cursor(row=at)
        exact = found.candidates.exact
        total = found.candidates.total if self.include_partial else exact
        if total:
            shown = "PARTIAL shown, p hides" if self.include_partial else "EXACT only, p shows all"
            partial = total - exact if self.include_partial else 0
            capped = exact >= COUNT_CAP or partial >= COUNT_CAP
            summary = f" · {counted(total, capped)} candidates"
            summary += f" ({counted(exact, exact >= COUNT_CAP)} exact) · {shown}"
        elif self.include_partial:
            summary = " · nobody on the waitlist fits this slot, not even partly"
        else:
            summary = " · no EXACT match (p shows PARTIAL ones)"
        zone = self.zone or ZoneInfo("UTC")
        self.set_status(
            Text.assemble(
                (slot_label(found, zone), "bold"),
                "" if found.saved else " · not opened yet",
                summary,
                terms_text(found, zone),
                (f" · outside hours: {found.outside_hours}", "bold yellow")
                if found.outside_hours
                else "",
            )
        )

    def failed(self, err: DomainError, generation: int | None = None) -> None:
        if generation is not None and generation != self.generation:
            return
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
        candidate = self.cursor_candidate()
        why = self.query_one("#why", Static)
        if candidate is None:
            update_static(why, "")
            return
        update_static(
            why,
            Text.assemble(
                match_text(candidate),
                (f" {candidate.client_name}: ", "bold"),
                candidate.explanation,
            ),
        )

    def set_status(self, text: Text) -> None:
        update_static(self.query_one("#finder-status", Static), text)

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
            BroadcastDialog(slot_label(self.found, self.zone or ZoneInfo("UTC")), default, exact),
            answered,
        )

    def send(self, entry_id: Any, workflow: str | None, top: int | None) -> None:
        """Offer the slot; one outside the provider's hours is offered only once the desk
        says so (a gap typed at 01:30 or on a Sunday went out without a word)."""
        if self.busy or self.found is None:
            return
        found = self.found
        if found.outside_hours and self.hours_confirmed != self.shown_slot:
            from waitlist_tui.tui.screens.dialogs import ConfirmDialog

            def answered(yes: bool | None) -> None:
                if yes:
                    self.hours_confirmed = self.shown_slot
                    self.send(entry_id, workflow, top)

            self.app.push_screen(
                ConfirmDialog(
                    f"Offer {slot_label(found, self.zone or ZoneInfo('UTC'))}?",
                    f"The slot is outside the provider's hours: {found.outside_hours}.",
                    yes="Offer it anyway",
                    no="Don't offer",
                ),
                answered,
            )
            return
        self.busy = True
        self.offer_worker(found, entry_id, workflow, top)

    @work(thread=True, group="writes")
    def offer_worker(
        self, found: Found, entry_id: Any, workflow: str | None, top: int | None
    ) -> None:
        staff = self.app.staff  # type: ignore[attr-defined]
        try:
            with database.connection_context():
                sent = offer_slot(
                    found.target, staff, entry_id=entry_id, workflow=workflow, top=top
                )
        except DomainError as err:
            self.app.call_from_thread(self.offer_failed, err)
            return
        self.app.call_from_thread(self.offered, sent)

    def offer_failed(self, err: DomainError) -> None:
        self.busy = False
        self.notify(f"Not offered: {err.message}", severity="error", markup=False)
        self.set_status(Text(err.message, "bold red"))
        self.reload_candidates()

    def offered(self, sent: list[OfferView]) -> None:
        self.busy = False
        zone = self.zone or ZoneInfo("UTC")
        until = sent[0].expires_at.astimezone(zone)
        who = sent[0].client_name if len(sent) == 1 else f"{len(sent)} clients"
        phone = {v.phone_instead for v in sent if v.phone_instead}
        self.notify(
            f"Offered to {who}; reply by {until:%a %H:%M}"
            + "".join(f" · {reason}" for reason in sorted(phone)),
            markup=False,
            severity="warning" if phone else "information",
        )
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
        candidate = self.cursor_candidate()
        if candidate is None:
            return
        view = fresh_entry(self.app, candidate.entry_id)
        if view is None:
            return
        from waitlist_tui.tui.screens.editor import EditorScreen

        self.app.push_screen(EditorScreen(view), lambda _: self.reload_candidates())

    def action_slots(self) -> None:
        candidate = self.cursor_candidate()
        if candidate is None:
            return
        view = fresh_entry(self.app, candidate.entry_id)
        if view is None:
            return
        from waitlist_tui.tui.screens.slots import SlotsScreen

        self.app.push_screen(SlotsScreen(view), lambda _: self.action_reload())

    def action_type_slot(self) -> None:
        self.query_one("#provider", Select).focus()

    def action_calendar(self) -> None:
        self.query_one("#calendar", DataTable).focus()

    def action_back(self) -> None:
        self.dismiss(None)
