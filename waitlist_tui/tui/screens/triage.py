"""Offers triage: sent offers waiting for a reply, soonest to expire first, and the replies
the desk takes on the phone (accept, decline, rescind, log a call).

Thin on purpose: every decision (who gets the next offer, whether a missed call releases the
offer, who won a race) is the domain's; this screen asks, then tells the desk what happened.
Countdowns tick every second from clock.now() without a query; a reload every few seconds
(and on resume, and ctrl+r) picks up what other desks did, keeping the cursor on its offer.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clients import display_phone
from waitlist_tui.domain.fill.fairness import OpeningWhy
from waitlist_tui.domain.fill.offers import OfferView
from waitlist_tui.domain.messaging import receipts
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.formatting import countdown, slot_text
from waitlist_tui.tui.narrow import NARROW_WIDTH, fit_footer
from waitlist_tui.tui.screens.attempt_dialog import Attempt, AttemptDialog
from waitlist_tui.tui.screens.dialogs import ConfirmDialog
from waitlist_tui.tui.screens.fairness_dialogs import WhyDialog, read_why, why_key
from waitlist_tui.tui.screens.triage_replies import (
    Answer,
    Loaded,
    Outcome,
    answer,
    outcome,
    read_offers,
)
from waitlist_tui.tui.widgets.fast_table import FastTable
from waitlist_tui.tui.widgets.footer import Footer

# Another desk's change to any of these may change the offers listed (answered, rescinded,
# ended with their entry or opening, a call logged, a text sent or its receipt come in).
LIVE_KINDS = ("offer", "entry", "opening", "appointment", "client", "message")
EMPTY = "No offers waiting for a reply."
HINT = "Call the client, then press a to accept, d to decline, or c to log the call."
COLUMNS = (
    ("expires", "Expires in"),
    ("client", "Client"),
    ("phone", "Phone"),
    ("slot", "Slot"),
    ("provider", "Provider"),
    ("service", "Service"),
    ("match", "Match"),
    ("attempts", "Calls"),
    ("text", "Text"),  # how far the offer's SMS got: an undelivered one says "phone them"
)
NARROW_COLUMNS = ("expires", "client", "phone", "slot", "provider", "text")  # calls: message line
NARROW_HIDDEN = {"triage.refresh"}


def text_cell(label: str) -> Text:
    """The offer's text, red when it did not reach the client (the desk phones them)."""
    return Text(label, style="bold red" if label == receipts.PHONE_THEM else "")


class Answered(calls.Done[Answer]):
    pass


class OffersRead(calls.Done[Loaded]):
    pass


class WhyRead(calls.Done[tuple[str, OpeningWhy]]):
    pass


def _why_of(title: str, opening_id: object) -> tuple[str, OpeningWhy]:
    return title, read_why(opening_id)


class TriageScreen(DeskScreen[None]):
    """Replies to offers, one key and one confirmation each."""

    DEFAULT_CSS = """
    TriageScreen #triage-summary {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    TriageScreen #triage-table {
        height: 1fr;
    }
    TriageScreen #triage-empty {
        height: 1fr;
        padding: 1 2;
        color: $text-muted;
        display: none;
    }
    TriageScreen.-empty #triage-empty {
        display: block;
    }
    TriageScreen.-empty #triage-table {
        display: none;
    }
    TriageScreen #triage-message {
        height: auto;
        padding: 0 1;
        border-top: solid $primary-background;
        color: $text-muted;
    }
    TriageScreen #triage-message.-ok {
        color: $text-success;
    }
    TriageScreen #triage-message.-error {
        color: $text-error;
        background: $error-muted;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding(
            "a", "accept", "Accept", id="triage.accept", tooltip="The client takes it: book it"
        ),
        Binding(
            "d",
            "decline",
            "Decline",
            id="triage.decline",
            tooltip="The client says no (sequential: the next candidate gets it)",
        ),
        Binding(
            "c",
            "call",
            "Log call",
            id="triage.call",
            tooltip="Log a phone attempt: no answer, voicemail, declined",
        ),
        Binding(
            "r",
            "rescind",
            "Rescind",
            id="triage.rescind",
            tooltip="Withdraw the offer; the client waits again",
        ),
        Binding(
            "ctrl+r",
            "refresh",
            "Refresh",
            id="triage.refresh",
            tooltip="Reload from the database now",
        ),
        Binding(
            "m",
            "messages",
            "Messages",
            id="triage.messages",
            tooltip="What the outbox sent to clients, what failed and why",
        ),
        why_key("triage"),
        Binding("escape", "back", "Back", id="triage.back", tooltip="Back to the queue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[OfferView] = []
        self.time_zone = "UTC"
        self.in_dialog = False  # resuming from our own dialog needs no reload
        self.narrow = False
        self.last_loaded: Loaded | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="triage-summary")
        yield FastTable(id="triage-table", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY, id="triage-empty")
        yield Static(HINT, id="triage-message", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.reload()
        self.set_interval(1.0, self.tick)

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH
        if narrow != self.narrow:
            self.narrow = narrow
            fit_footer(self, narrow, NARROW_HIDDEN)
            if self.last_loaded is not None:
                self.show(self.last_loaded)

    def on_screen_resume(self) -> None:
        if self.in_dialog:
            self.in_dialog = False
            return
        self.reload()

    # --- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def action_messages(self) -> None:
        """The outbox: did the offer's text go out, and if not, why."""
        from waitlist_tui.tui.screens.messages import MessagesScreen

        self.app.push_screen(MessagesScreen())

    def action_accept(self) -> None:
        """Ask, then book: the domain decides whether the slot is still free."""
        view = self.selected()
        if view:
            self.confirm(
                f"Book {printable(view.client_name)} into {self.slot(view)} "
                f"with {view.provider_code}?",
                lambda: self.act("accept", view),
            )

    def action_decline(self) -> None:
        view = self.selected()
        if view:
            self.confirm(
                f"Decline for {printable(view.client_name)} "
                f"({self.slot(view)} with {view.provider_code})?",
                lambda: self.act("decline", view),
            )

    def action_rescind(self) -> None:
        view = self.selected()
        if view:
            self.confirm(
                f"Rescind the offer to {printable(view.client_name)} "
                f"({self.slot(view)} with {view.provider_code})? They go back to waiting.",
                lambda: self.act("rescind", view),
            )

    def action_why(self) -> None:
        """Why the cursor offer's opening went to whom: its fairness record."""
        view = self.selected()
        if view is None:
            return
        title = f"Why: {self.slot(view)} with {view.provider_code}"
        self.calls.read(_why_of, title, view.opening_id, done=WhyRead, group="triage-why")

    @on(WhyRead)
    def why_read(self, message: WhyRead) -> None:
        title, why = message.value
        self.in_dialog = True
        self.app.push_screen(WhyDialog(title, why))

    def action_call(self) -> None:
        """Log a phone attempt; what it does to the offer is the clinic's rule, not ours."""
        view = self.selected()
        if view is None:
            return

        def logged(result: Attempt | None) -> None:
            if result:
                self.act("attempt", view, *result)

        self.in_dialog = True
        who = " · ".join(x for x in (printable(view.client_name), display_phone(view.phone)) if x)
        self.app.push_screen(AttemptDialog(who), logged)

    # --- helpers ------------------------------------------------------------------------------

    def current(self) -> OfferView | None:
        row = self.query_one(DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def selected(self) -> OfferView | None:
        """The cursor offer, or a word on the status line when the list is empty."""
        view = self.current()
        if view is None:
            self.say("No offer selected.")
        return view

    def slot(self, view: OfferView) -> str:
        return slot_text(view.slot_start, self.time_zone)

    def confirm(self, question: str, then: Callable[[], None]) -> None:
        self.in_dialog = True
        self.app.push_screen(ConfirmDialog(question), lambda yes: then() if yes else None)

    def say(self, message: str, error: bool = False, ok: bool = False) -> None:
        line = self.query_one("#triage-message", Static)
        line.update(message)
        line.set_class(error, "-error")
        line.set_class(ok and not error, "-ok")

    # --- domain calls -------------------------------------------------------------------------

    def act(self, verb: str, view: OfferView, outcome: str = "", note: str = "") -> None:
        """One reply, in a thread; its result is always shown, as the change is committed."""
        self.calls.write(
            answer,
            verb,
            view,
            self.desk.staff,
            outcome,
            note,
            done=Answered,
            group="triage-act",
            exclusive=True,
        )

    @on(Answered)
    def answered(self, message: Answered) -> None:
        self.done(outcome(message.value, self.time_zone))

    def done(self, result: Outcome) -> None:
        self.say(result.message, error=result.error, ok=not result.error)
        if result.error:
            self.app.notify(result.message, title="Not done", severity="error", markup=False)
        self.reload()

    def others_changed(self, changes: calls.Changes) -> None:
        """Another desk's change (the app's change feed): the offers read again, the cursor
        kept on its offer."""
        if changes.touches(*LIVE_KINDS):
            self.reload()

    def reload(self) -> None:
        """The sent offers, off the event loop; a newer reload drops an older one's rows."""
        self.calls.read(read_offers, done=OffersRead, group="triage-load")

    @on(OffersRead)
    def offers_read(self, message: OffersRead) -> None:
        self.show(message.value)

    # --- painting -----------------------------------------------------------------------------

    def show(self, loaded: Loaded) -> None:
        table = self.query_one(FastTable)
        cursor, cursor_row = self.current(), table.cursor_row
        self.time_zone = loaded.time_zone
        self.sub_title = f"Offers · {loaded.clinic_name}" if loaded.clinic_name else "Offers"
        now = clock.now()
        self.rows = [v for v in loaded.offers if countdown(v.expires_at, now) is not None]
        cells = [
            (
                countdown(view.expires_at, now),
                printable(view.client_name),
                display_phone(view.phone),
                self.slot(view),
                view.provider_code,
                view.service_code,
                view.match_type,
                loaded.attempts.get(str(view.id), ""),
                text_cell(loaded.texts.get(str(view.id), "")),
            )
            for view in self.rows
        ]
        # Widths measured here, not left to the table: its auto widths are settled on idle
        # and a repaint before that keeps cells cut to the header's width.
        scrolled = table.scroll_y
        table.clear(columns=True)
        self.last_loaded = loaded
        keep = [i for i, (key, _) in enumerate(COLUMNS) if not self.narrow or key in NARROW_COLUMNS]
        for index in keep:
            key, label = COLUMNS[index]
            width = max([cell_len(label), *(cell_len(str(row[index])) for row in cells)])
            table.add_column(label, key=key, width=width)
        for view, row in zip(self.rows, cells, strict=True):
            table.add_row(*(row[i] for i in keep), key=str(view.id))
        table.settle_dimensions()  # scrolled back before it is painted: no jump to the top
        table.scroll_to(y=scrolled, animate=False, immediate=True)
        ids = [view.id for view in self.rows]
        if cursor is not None and cursor.id in ids:
            table.move_cursor(row=ids.index(cursor.id))
        elif ids:  # its offer left the list: stay at the same place
            table.move_cursor(row=min(cursor_row, len(ids) - 1))
        self.query_one("#triage-empty", Static).update(loaded.error or EMPTY)
        self.paint_summary()

    def paint_summary(self) -> None:
        count = len(self.rows)
        self.set_class(not count, "-empty")
        self.query_one("#triage-summary", Static).update(
            f"{count} offer{'s' if count != 1 else ''} waiting for a reply · soonest to expire "
            "first"
            if count
            else "0 offers waiting for a reply"
        )

    def tick(self) -> None:
        """Every second: countdowns from clock.now(), and offers past their hold drop out."""
        if not self.rows:
            return
        now = clock.now()
        table = self.query_one(DataTable)
        for view in list(self.rows):
            text = countdown(view.expires_at, now)
            key = str(view.id)
            if text is None:
                table.remove_row(key)
                self.rows.remove(view)
            else:
                shown = table.get_cell(key, "expires")
                if not isinstance(shown, Text) or (shown.plain, shown.style) != (
                    text.plain,
                    text.style,
                ):
                    table.update_cell(key, "expires", text)
        self.paint_summary()
