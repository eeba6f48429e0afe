"""The queue: the home screen, a page of entries at a time from the service layer.

A filter bar narrows it (search as you type, status, service, provider, sort); every change
reloads the page in an exclusive worker, so a fast typist never waits for stale results. A
panel under the table shows the cursor entry in full.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static
from textual.worker import get_current_worker

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import changes, listing
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui.formatting import (
    LiveOffer,
    countdown,
    date_range,
    detail_text,
    priority_text,
    status_text,
    when_short,
)
from waitlist_tui.tui.narrow import NARROW_WIDTH, fit_footer
from waitlist_tui.tui.queue_data import PAGE_SIZE, Loaded, fetch, first_spec
from waitlist_tui.tui.reader import fresh_entry, read
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

REFRESH_SECONDS = 10.0
COLUMNS = (
    "Pri",
    "Client",
    "Service",
    "Providers",
    "When",
    "Dates",
    "Waited",
    "Status",
    "Reply in",
)
NARROW_COLUMNS = ("Pri", "Client", "Service", "Dates", "Waited", "Status")
# Columns that give up width when a page is wider than the screen (names, provider lists and
# day/time preferences; the detail pane shows them in full), so the status and countdown stay.
SHRINK = (3, 4, 1)
NARROW_SHRINK = (1, 2)
NARROW_HIDDEN = {"queue.sort", "queue.filters", "queue.search"}  # their widgets are on screen
STATUS_CHOICES = [
    ("Waiting + offered", vocab.ACTIVE_STATUSES),
    ("Waiting", (vocab.WAITING,)),
    ("Offered", (vocab.OFFERED,)),
    ("Booked", (vocab.BOOKED,)),
    ("Cancelled", (vocab.CANCELLED,)),
    ("Expired", (vocab.EXPIRED,)),
    ("All", vocab.ENTRY_STATUSES),
]
SORT_CHOICES = [
    ("priority", "by priority, then longest wait"),
    ("wait", "longest wait first"),
    ("start", "by date range start"),
]


class QueueScreen(Screen[None]):
    """Entries waiting and offered, most urgent and longest waiting first."""

    HELP_TITLE = "queue"
    # The list has the focus from the start (by default the search box would, and moving it
    # on mount styled both widgets again).
    AUTO_FOCUS = "#queue-table"

    BINDINGS = [
        Binding("n", "new_entry", "New", id="queue.new", tooltip="Add a waitlist entry"),
        Binding("e", "edit_entry", "Edit", id="queue.edit", tooltip="Open the cursor entry"),
        Binding(
            "o",
            "offer_slot",
            "Offer",
            id="queue.offer",
            tooltip="Find free slots for the cursor entry and offer one",
        ),
        Binding(
            "x",
            "cancel_entry",
            "Cancel",
            id="queue.cancel",
            tooltip="Cancel the cursor entry (asks first)",
        ),
        Binding(
            "m",
            "finder",
            "Fill slot",
            id="queue.finder",
            tooltip="Match finder: a cancelled appointment or a free slot to the right clients",
        ),
        Binding("t", "triage", "Offers", id="queue.triage", tooltip="Offers waiting for a reply"),
        Binding(
            "S",
            "dashboard",
            "Stats",
            id="queue.dashboard",
            tooltip="How well the waitlist fills the calendar: figures, weekly chart, tables",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="queue.search",
            tooltip="Find a client by name, phone or email as you type",
        ),
        Binding(
            "f",
            "filters",
            "Filters",
            id="queue.filters",
            tooltip="Filter by status, service and provider",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="queue.sort",
            tooltip="Priority + wait, longest wait, or date range start",
        ),
        Binding(
            "]",
            "next_page",
            "Next page",
            id="queue.next_page",
            tooltip="Show the next page",
            show=False,
        ),
        Binding(
            "[",
            "prev_page",
            "Prev page",
            id="queue.prev_page",
            tooltip="Show the previous page",
            show=False,
        ),
        Binding(
            "ctrl+r",
            "refresh",
            "Refresh",
            id="queue.refresh",
            tooltip="Reload from the database now",
            show=False,
        ),
        Binding(
            "escape",
            "back_to_list",
            "List",
            id="queue.back",
            show=False,
            tooltip="Leave the filter bar for the list",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.query_spec = first_spec()
        self.rows: list[EntryView] = []
        self.total_count = 0
        self.total_capped = False  # total_count is a floor: more match (a capped count)
        self.choices_loaded = False
        self.generation = 0  # bumped by every filter change; older pages are dropped
        self.focus_id: uuid.UUID | None = None  # put the cursor here after the next load
        self.resumed = False

    def compose(self) -> ComposeResult:
        # A first page read while the app was loading (queue_data.prefetch) is put in the
        # widgets before they mount: the first frame painted shows it (shown on mount, it
        # came a frame later, ~30 ms into a ~350 ms start).
        early = self.prefetched(wait=False)
        self.choices_loaded = early is not None
        self.narrow = False
        self.last_loaded: Loaded | None = None
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ name, phone or email (esc: list)", id="search")
            yield Select(
                [(label, i) for i, (label, _) in enumerate(STATUS_CHOICES)],
                value=0,
                allow_blank=False,
                id="status",
            )
            codes = (early.service_codes, early.provider_codes) if early else ((), ())
            yield Select(((c, c) for c in codes[0]), prompt="Any service", id="service")
            yield Select(((c, c) for c in codes[1]), prompt="Any provider", id="provider")
        summary = Static("Loading…", id="summary")
        table = FastTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        empty, detail = Static("", id="empty"), Static("", id="detail")
        if early is not None:
            self.put(early, False, table, summary, empty, detail)
        yield summary
        yield table
        yield empty
        yield detail
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self.load)
        if self.last_loaded is not None:
            self.call_after_refresh(self.app.queue_ready)  # type: ignore[attr-defined]

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Also the first load, unless compose put the prefetched page in: a screen is resumed
        when it is first shown (loading on mount too ran the first page twice on a cold start)."""
        if not self.resumed:
            # Just composed: every widget was styled as it mounted. Screen's own handler
            # (after this one) would style them all again.
            self.resumed = True
            event.refresh_styles = False
            if self.last_loaded is not None:
                return
        self.load()

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH
        if narrow == self.narrow:
            return
        self.narrow = narrow
        fit_footer(self, narrow, NARROW_HIDDEN)
        if self.last_loaded is not None:
            self.show(self.last_loaded, keep_cursor=True)

    # --- actions ------------------------------------------------------------------------------

    def cursor_entry(self) -> EntryView | None:
        table = self.query_one(DataTable)
        if self.rows and 0 <= table.cursor_row < len(self.rows):
            return self.rows[table.cursor_row]
        return None

    def action_new_entry(self) -> None:
        from waitlist_tui.tui.screens.editor import EditorScreen  # loaded on first use: start-up

        self.app.push_screen(EditorScreen(), self.after_edit)

    def action_edit_entry(self) -> None:
        view = self.cursor_entry()
        if view is not None:
            self.open_entry(view.id)

    @on(DataTable.RowSelected)
    def row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_entry()

    def open_entry(self, entry_id: uuid.UUID) -> None:
        view = fresh_entry(self.app, entry_id)
        if view is None:
            self.load()  # the list is out of date too
            return
        from waitlist_tui.tui.screens.editor import EditorScreen

        self.app.push_screen(EditorScreen(view), self.after_edit)

    def after_edit(self, view: EntryView | None) -> None:
        if view is not None:
            self.focus_id = view.id

    def action_cancel_entry(self) -> None:
        view = self.cursor_entry()
        if view is None:
            return
        if view.is_closed:
            self.notify(f"This entry is already {view.status}.", severity="warning")
            return

        from waitlist_tui.tui.screens.dialogs import CancelEntryDialog

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.cancel_entry(view, reason)

        self.app.push_screen(
            CancelEntryDialog(
                printable(view.client.name),
                f"{view.service.name} · {date_range(view.date_range_start, view.date_range_end)}"
                f" · {view.status}",
            ),
            answered,
        )

    @work(thread=True, group="writes")
    def cancel_entry(self, view: EntryView, reason: str) -> None:
        staff = self.app.staff  # type: ignore[attr-defined]
        try:
            with database.connection_context():
                changes.cancel(view.id, staff, version=view.version, reason=reason)
            message = f"Cancelled: {printable(view.client.name)} · {view.service.code}"
            severity = "information"
        except DomainError as err:
            message, severity = f"Not cancelled: {err.message}", "error"
        self.app.call_from_thread(self.notify, message, severity=severity, markup=False)
        self.app.call_from_thread(self.load)

    def action_offer_slot(self) -> None:
        view = self.cursor_entry()
        if view is None:
            return
        if view.status != vocab.WAITING:
            self.notify(
                f"Only a waiting entry can be offered a slot; this one is {view.status}.",
                severity="warning",
            )
            return
        from waitlist_tui.tui.screens.slots import SlotsScreen

        self.app.push_screen(SlotsScreen(view))

    def action_finder(self) -> None:
        from waitlist_tui.tui.screens.finder import FinderScreen

        self.app.push_screen(FinderScreen())

    def action_triage(self) -> None:
        from waitlist_tui.tui.screens.triage import TriageScreen

        self.app.push_screen(TriageScreen())

    def action_dashboard(self) -> None:
        from waitlist_tui.tui.screens.dashboard import open_dashboard

        open_dashboard(self.app)

    def action_refresh(self) -> None:
        self.load()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_filters(self) -> None:
        self.query_one("#status", Select).focus()

    def action_back_to_list(self) -> None:
        self.query_one(DataTable).focus()

    def action_cycle_sort(self) -> None:
        names = [name for name, _ in SORT_CHOICES]
        following = names[(names.index(self.query_spec.sort) + 1) % len(names)]
        self.requery(sort=following)

    def action_next_page(self) -> None:
        more = self.page_offset + PAGE_SIZE < self.total_count or self.total_capped
        if self.rows and more:
            self.page_offset += PAGE_SIZE
            self.load(keep_cursor=False)

    def action_prev_page(self) -> None:
        if self.page_offset:
            self.page_offset = max(0, self.page_offset - PAGE_SIZE)
            self.load(keep_cursor=False)

    # --- filter bar ---------------------------------------------------------------------------

    def requery(self, **changes: object) -> None:
        """A new filter or sort: back to the first page."""
        self.query_spec = replace(self.query_spec, **changes)  # type: ignore[arg-type]
        self.generation += 1
        self.page_offset = 0
        self.load(keep_cursor=False)

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.requery(search=event.value.strip() or None)

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.query_one(DataTable).focus()

    @on(Select.Changed, "#status")
    def status_changed(self, event: Select.Changed) -> None:
        if (
            isinstance(event.value, int)
            and STATUS_CHOICES[event.value][1] != self.query_spec.statuses
        ):
            self.requery(statuses=STATUS_CHOICES[event.value][1])

    @on(Select.Changed, "#service")
    def service_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        if value != self.query_spec.service:
            self.requery(service=value)

    @on(Select.Changed, "#provider")
    def provider_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        if value != self.query_spec.provider:
            self.requery(provider=value)

    @on(DataTable.RowHighlighted)
    def show_detail(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_detail(event.cursor_row)

    def refresh_detail(self, index: int | None = None) -> None:
        if index is None:
            index = self.query_one(DataTable).cursor_row
        panel = self.query_one("#detail", Static)
        # A fixed height (app.tcss): a new text needs no layout pass of the whole screen.
        if 0 <= index < len(self.rows):
            panel.update(self.detail(self.rows[index], clock.now()), layout=False)
        else:
            panel.update("", layout=False)

    # --- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="queue")
    def load(self, keep_cursor: bool = True) -> None:
        """Runs off the event loop; a newer load cancels an older one."""
        spec = replace(self.query_spec, limit=PAGE_SIZE, offset=self.page_offset)
        loaded = self.prefetched(wait=True)
        if loaded is None or loaded.spec != spec:
            loaded = read(self.app, fetch, spec, self.generation, not self.choices_loaded)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, loaded, keep_cursor)

    def prefetched(self, wait: bool) -> Loaded | None:
        """The first page, if the app began reading it before it was up (queue_data); left
        for the worker to wait for when it is not read yet and `wait` is False."""
        pending = getattr(self.app, "first_page", None)
        if pending is None or (not wait and not pending.done()):
            return None
        self.app.first_page = None  # type: ignore[attr-defined]
        try:
            loaded = pending.result()
        except Exception:  # read again on the reader, which reports errors
            return None
        return loaded if loaded.spec == self.query_spec and not self.generation else None

    def show(self, loaded: Loaded, keep_cursor: bool) -> None:
        if loaded.generation != self.generation:
            return  # a thread worker cannot be stopped mid-query: its stale page is dropped
        if loaded.service_codes and not self.choices_loaded:
            self.choices_loaded = True
            self.query_one("#service", Select).set_options((c, c) for c in loaded.service_codes)
            self.query_one("#provider", Select).set_options((c, c) for c in loaded.provider_codes)
        self.put(
            loaded,
            keep_cursor,
            self.query_one(DataTable),
            self.query_one("#summary", Static),
            self.query_one("#empty", Static),
            self.query_one("#detail", Static),
        )
        self.call_after_refresh(self.app.queue_ready)  # type: ignore[attr-defined]

    def put(
        self,
        loaded: Loaded,
        keep_cursor: bool,
        table: DataTable,
        summary: Static,
        empty: Static,
        detail: Static,
    ) -> None:
        """The page into the widgets (mounted, or still being composed)."""
        if loaded.page is None:
            self.add_class("-empty")
            summary.update("No clinic", layout=False)
            empty.update(loaded.error or "")
            return
        page = loaded.page
        self.sub_title = loaded.clinic_name or ""
        current = None
        if keep_cursor and self.rows and 0 <= table.cursor_row < len(self.rows):
            current = self.rows[table.cursor_row].id
        if self.focus_id is not None:
            current, self.focus_id = self.focus_id, None
        self.rows, self.total_count = page.items, page.total
        self.total_capped = page.total_capped
        self.last_loaded = loaded
        now = clock.now()
        cells = [self.row_cells(page, view, now) for view in page.items]
        labels = NARROW_COLUMNS if self.narrow else COLUMNS
        room = (table.size.width or self.app.size.width) - table.styles.scrollbar_size_vertical
        fill(
            table,
            labels,
            [(str(v.id), row) for v, row in zip(page.items, cells, strict=True)],
            fit=room,
            shrink=NARROW_SHRINK if self.narrow else SHRINK,
        )
        if current is not None:
            for index, view in enumerate(self.rows):
                if view.id == current:
                    table.move_cursor(row=index)
                    break
        spec = loaded.spec or self.query_spec
        summary.update(self.summary_line(page, spec), layout=False)  # one fixed line
        if page.items:
            self.remove_class("-empty")
            detail.update(
                self.detail(self.rows[min(table.cursor_row, len(self.rows) - 1)], now),
                layout=False,
            )
        else:
            self.add_class("-empty")
            detail.update("", layout=False)
            empty.update(
                "No entries match: clear the search or change the filters."
                if self.is_filtered(spec)
                else "Nobody is waiting. Entries you add appear here."
            )

    def row_cells(self, page: listing.Page, view: EntryView, now: dt.datetime) -> tuple:
        reply_in = self.reply_in(page, view, now)
        if self.narrow:  # the detail panel shows providers and days
            status = status_text(view.status)
            if reply_in:
                status = Text.assemble(status, " ", reply_in)
            return (
                priority_text(view.priority),
                printable(view.client.name),
                view.service.code,
                date_range(view.date_range_start, view.date_range_end),
                f"{view.waited_days(now)}d",
                status,
            )
        return (
            priority_text(view.priority),
            printable(view.client.name),
            view.service.code,
            " ".join(p.code for p in view.preferred_providers) or Text("any", style="dim"),
            when_short(view),
            date_range(view.date_range_start, view.date_range_end),
            f"{view.waited_days(now)}d",
            status_text(view.status),
            reply_in,
        )

    def detail(self, view: EntryView, now: dt.datetime) -> Text:
        """The detail pane's text, with the live offer's slot and deadline when there is one."""
        loaded = self.last_loaded
        offer = None
        if loaded is not None and loaded.page is not None and view.id in loaded.page.offer_slots:
            start, provider = loaded.page.offer_slots[view.id]
            expires = loaded.page.offer_expires[view.id]
            offer = LiveOffer(start, provider, expires, loaded.time_zone)
        return detail_text(view, now, offer)

    @staticmethod
    def reply_in(page: listing.Page, view: EntryView, now: dt.datetime) -> Text | str:
        expires = page.offer_expires.get(view.id)
        if expires is None:
            return ""
        return countdown(expires, now) or Text("expired", "dim")

    @staticmethod
    def is_filtered(q: listing.EntryQuery) -> bool:
        return bool(q.search or q.service or q.provider or q.statuses != vocab.ACTIVE_STATUSES)

    @staticmethod
    def summary_line(page: listing.Page, q: listing.EntryQuery) -> str:
        label = next(
            (name for name, statuses in STATUS_CHOICES if statuses == q.statuses), "entries"
        ).lower()
        what = [label]
        if q.service:
            what.append(q.service)
        if q.provider:
            what.append(f"for {q.provider}")
        if q.search:
            what.append(f'matching "{q.search}"')
        order = dict(SORT_CHOICES)[q.sort]
        if not page.items:
            return f"0 {' '.join(what)}"
        return (
            f"{page.offset + 1:,}–{page.offset + len(page.items):,} of {page.total:,}"
            f"{'+' if page.total_capped else ''} "
            f"{' '.join(what)} · {order}"
        )
