"""The queue: the home screen, a page of entries at a time from the service layer.

A filter bar narrows it (search as you type, status, service, provider, sort); every change
reloads the page in an exclusive worker, so a fast typist never waits for stale results. A
panel under the table shows the cursor entry in full.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Select, Static

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import listing
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.formatting import date_range
from waitlist_tui.tui.narrow import NARROW_WIDTH, fit_footer
from waitlist_tui.tui.queue_data import PAGE_SIZE, Loaded, fetch, first_spec
from waitlist_tui.tui.screens import queue_calls as results
from waitlist_tui.tui.screens import queue_keys as keys
from waitlist_tui.tui.screens import queue_rows as shown
from waitlist_tui.tui.widgets.fast_table import FastTable, fill, refill
from waitlist_tui.tui.widgets.footer import Footer

CALENDARS_SECONDS = 30.0  # the app syncs calendars on a minute's timer
# Another desk's change to any of these may change what the queue's page shows (an offer
# sent or answered moves its entry's status; a booking books it; a client's name changes).
LIVE_KINDS = ("entry", "offer", "client", "appointment")
NARROW_HIDDEN = {"queue.sort", "queue.filters", "queue.search"}  # their widgets are on screen


class QueueScreen(DeskScreen[None]):
    """Entries waiting and offered, most urgent and longest waiting first."""

    HELP_TITLE = "queue"
    # The list has the focus from the start (by default the search box would, and moving it
    # on mount styled both widgets again).
    AUTO_FOCUS = "#queue-table"

    BINDINGS = keys.BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.query_spec = first_spec()
        self.rows: list[EntryView] = []
        self.total_count = 0
        self.total_capped = False  # total_count is a floor: more match (a capped count)
        self.choices_loaded = False
        self.keep_cursor = True  # the last load's: where the cursor goes when its page comes
        self.focus_id: uuid.UUID | None = None  # put the cursor here after the next load
        self.resumed = False
        self.calendars: tuple[str, bool] | None = None  # how fresh the clinic's calendars are
        self.live = False  # the load under way reads the page again for another desk's change

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
                [(label, i) for i, (label, _) in enumerate(shown.STATUS_CHOICES)],
                value=0,
                allow_blank=False,
                id="status",
            )
            codes = (early.service_codes, early.provider_codes) if early else ((), ())
            yield Select(((c, c) for c in codes[0]), prompt="Any service", id="service")
            yield Select(((c, c) for c in codes[1]), prompt="Any provider", id="provider")
        summary = Static("Loading…", id="summary")
        table = FastTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*shown.COLUMNS)
        empty, detail = Static("", id="empty"), Static("", id="detail")
        if early is not None:
            self.put(early, False, table, summary, empty, detail)
        yield summary
        yield table
        yield empty
        yield detail
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(CALENDARS_SECONDS, self.read_calendars)
        self.read_calendars()
        if self.last_loaded is not None:
            self.call_after_refresh(self.desk.queue_ready)

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
        view = calls.fresh_entry(self.app, entry_id)
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

    def cancel_entry(self, view: EntryView, reason: str) -> None:
        self.calls.write(
            results.cancel_entry,
            view,
            reason,
            self.desk.staff,
            done=results.EntryCancelled,
            failed=results.CancelRefused,
        )

    @on(results.EntryCancelled)
    def entry_cancelled(self, message: results.EntryCancelled) -> None:
        view = message.value
        self.notify(f"Cancelled: {printable(view.client.name)} · {view.service.code}", markup=False)
        self.load()

    @on(results.CancelRefused)
    def cancel_refused(self, message: results.CancelRefused) -> None:
        self.notify(f"Not cancelled: {message.error.message}", severity="error", markup=False)
        self.load()

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

    def action_history(self) -> None:
        view = self.cursor_entry()
        if view is None:
            return
        from waitlist_tui.tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(view))

    def action_finder(self) -> None:
        from waitlist_tui.tui.screens.finder import FinderScreen

        self.app.push_screen(FinderScreen())

    def action_audit_trail(self) -> None:
        from waitlist_tui.tui.screens.audit import AuditScreen

        self.app.push_screen(AuditScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The audit key is hidden (and inert) on a desk logged in with the desk role; the
        domain refuses a non-manager whatever the key (access/roles.py)."""
        return not (action == "audit_trail" and getattr(self.app, "role", None) == "desk")

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
        names = [name for name, _ in shown.SORT_CHOICES]
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

    def requery(self, **changes: Any) -> None:
        """A new filter or sort: back to the first page."""
        self.query_spec = replace(self.query_spec, **changes)
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
            and shown.STATUS_CHOICES[event.value][1] != self.query_spec.statuses
        ):
            self.requery(statuses=shown.STATUS_CHOICES[event.value][1])

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
            panel.update(
                shown.entry_detail(self.rows[index], clock.now(), self.last_loaded), layout=False
            )
        else:
            panel.update("", layout=False)

    # --- loading ------------------------------------------------------------------------------

    def others_changed(self, changes: calls.Changes) -> None:
        """Another desk changed something (the app's change feed): the page on show is read
        again if it may show it, the cursor kept on its entry, what is typed left alone."""
        if changes.touches(*LIVE_KINDS):
            self.load(keep_cursor=True, live=True)

    def load(self, keep_cursor: bool = True, live: bool = False) -> None:
        """Off the event loop; a newer load makes an older one's page stale. `live`: the same
        page read again (another desk's change): only the rows that changed are repainted."""
        self.keep_cursor = keep_cursor
        self.live = live
        spec = replace(self.query_spec, limit=PAGE_SIZE, offset=self.page_offset)
        self.calls.read(self.read_page, spec, done=results.PageRead, group="queue", via="none")

    def read_page(self, spec: listing.EntryQuery) -> Loaded:
        """In the worker: the page read while the app loaded if it is the one asked for,
        else a page read on the reader."""
        loaded = self.prefetched(wait=True)
        if loaded is None or loaded.spec != spec:
            loaded = calls.read_now(self.app, fetch, spec, not self.choices_loaded)
        return loaded

    def read_calendars(self) -> None:
        self.calls.read(results.calendars_fresh, done=results.CalendarsRead, group="calendars")

    def summary_width(self) -> int:
        return self.app.size.width - 2  # the summary line's padding

    @on(results.CalendarsRead)
    def calendars_read(self, message: results.CalendarsRead) -> None:
        if message.value != self.calendars:
            self.calendars = message.value
            if self.last_loaded is not None and self.last_loaded.page is not None:
                spec = self.last_loaded.spec or self.query_spec
                self.query_one("#summary", Static).update(
                    shown.summary_text(
                        self.last_loaded.page, spec, self.calendars, self.summary_width()
                    ),
                    layout=False,
                )

    @on(results.PageRead)
    def page_read(self, message: results.PageRead) -> None:
        self.show(message.value, self.keep_cursor, self.live)

    def prefetched(self, wait: bool) -> Loaded | None:
        """The first page, if the app began reading it before it was up (queue_data); left
        for the worker to wait for when it is not read yet and `wait` is False."""
        pending = self.desk.first_page
        if pending is None or (not wait and not pending.done()):
            return None
        self.desk.first_page = None
        try:
            loaded = pending.result()
        except Exception:  # read again on the reader, which reports errors
            return None
        return loaded if loaded.spec == self.query_spec else None

    def show(self, loaded: Loaded, keep_cursor: bool, live: bool = False) -> None:
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
            live,
        )
        self.call_after_refresh(self.desk.queue_ready)

    def put(
        self,
        loaded: Loaded,
        keep_cursor: bool,
        table: DataTable,
        summary: Static,
        empty: Static,
        detail: Static,
        live: bool = False,
    ) -> None:
        """The page into the widgets (mounted, or still being composed); `live`: the rows
        on show are updated where they changed (fast_table.refill)."""
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
        cells = [shown.row_cells(page, view, now, self.narrow) for view in page.items]
        labels = shown.NARROW_COLUMNS if self.narrow else shown.COLUMNS
        room = (table.size.width or self.app.size.width) - table.styles.scrollbar_size_vertical
        (refill if live else fill)(
            table,
            labels,
            [(str(v.id), row) for v, row in zip(page.items, cells, strict=True)],
            fit=room,
            shrink=shown.NARROW_SHRINK if self.narrow else shown.SHRINK,
        )
        if current is not None:
            for index, view in enumerate(self.rows):
                if view.id == current:
                    table.move_cursor(row=index)
                    break
        spec = loaded.spec or self.query_spec
        summary.update(  # one fixed line
            shown.summary_text(page, spec, self.calendars, self.summary_width()), layout=False
        )
        if page.items:
            self.remove_class("-empty")
            at = self.rows[min(table.cursor_row, len(self.rows) - 1)]
            detail.update(shown.entry_detail(at, now, loaded), layout=False)
        else:
            self.add_class("-empty")
            detail.update("", layout=False)
            empty.update(
                "No entries match: clear the search or change the filters."
                if shown.is_filtered(spec)
                else "Nobody is waiting. Entries you add appear here."
            )
