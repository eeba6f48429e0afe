"""The queue: the home screen, a page of entries at a time from the service layer."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from waitlist_tui.domain import clock, entries
from waitlist_tui.domain.clinics import get_clinic
from waitlist_tui.domain.db import database
from waitlist_tui.domain.entry_views import EntryView
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.tui.formatting import date_range, priority_text, status_text, when_short

PAGE_SIZE = 100
REFRESH_SECONDS = 10.0
COLUMNS = ("Pri", "Client", "Service", "Providers", "When", "Dates", "Waited", "Status")


@dataclass(frozen=True)
class Loaded:
    """A page as the worker hands it to the screen."""

    page: entries.Page | None
    clinic_name: str | None
    error: str | None = None


class QueueScreen(Screen[None]):
    """Entries waiting and offered, most urgent and longest waiting first."""

    BINDINGS = [
        Binding("]", "next_page", "Next page", id="queue.next_page", tooltip="Show the next page"),
        Binding(
            "[", "prev_page", "Prev page", id="queue.prev_page", tooltip="Show the previous page"
        ),
        Binding(
            "ctrl+r",
            "refresh",
            "Refresh",
            id="queue.refresh",
            tooltip="Reload from the database now",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.query_spec = entries.EntryQuery(limit=PAGE_SIZE)
        self.rows: list[EntryView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="summary")
        table: DataTable[object] = DataTable(
            id="queue-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="empty")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    def on_screen_resume(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_next_page(self) -> None:
        if self.rows and self.page_offset + PAGE_SIZE < self.total_count:
            self.page_offset += PAGE_SIZE
            self.load(keep_cursor=False)

    def action_prev_page(self) -> None:
        if self.page_offset:
            self.page_offset = max(0, self.page_offset - PAGE_SIZE)
            self.load(keep_cursor=False)

    total_count = 0

    @work(thread=True, exclusive=True, group="queue")
    def load(self, keep_cursor: bool = True) -> None:
        """Runs off the event loop; a newer load cancels an older one."""
        spec = entries.EntryQuery(
            statuses=self.query_spec.statuses,
            limit=PAGE_SIZE,
            offset=self.page_offset,
            sort=self.query_spec.sort,
        )
        with database.connection_context():
            try:
                clinic = get_clinic()
                loaded = Loaded(entries.list_entries(spec, clinic), clinic.name)
            except DomainError as err:
                loaded = Loaded(None, None, err.message)
        self.app.call_from_thread(self.show, loaded, keep_cursor)

    def show(self, loaded: Loaded, keep_cursor: bool) -> None:
        table = self.query_one(DataTable)
        summary = self.query_one("#summary", Static)
        empty = self.query_one("#empty", Static)
        if loaded.page is None:
            self.add_class("-empty")
            summary.update("No clinic")
            empty.update(loaded.error or "")
            self.app.queue_ready()  # type: ignore[attr-defined]
            return
        page = loaded.page
        self.sub_title = loaded.clinic_name or ""
        current = (
            self.rows[table.cursor_row].id
            if keep_cursor and self.rows and 0 <= table.cursor_row < len(self.rows)
            else None
        )
        self.rows, self.total_count = page.items, page.total
        now = clock.now()
        table.clear()
        for view in page.items:
            table.add_row(
                priority_text(view.priority),
                view.client.name,
                view.service.code,
                " ".join(p.code for p in view.preferred_providers) or Text("any", style="dim"),
                when_short(view),
                date_range(view.date_range_start, view.date_range_end),
                f"{view.waited_days(now)}d",
                status_text(view.status),
                key=str(view.id),
            )
        if current is not None:
            for index, view in enumerate(self.rows):
                if view.id == current:
                    table.move_cursor(row=index)
                    break
        statuses = " + ".join(s for s in self.query_spec.statuses)
        if page.items:
            self.remove_class("-empty")
            summary.update(
                f"{page.offset + 1:,}–{page.offset + len(page.items):,} of "
                f"{page.total:,} {statuses} · by priority, then longest wait"
            )
        else:
            self.add_class("-empty")
            summary.update(f"0 {statuses}")
            empty.update("Nobody is waiting. Entries you add appear here.")
        self.app.queue_ready()  # type: ignore[attr-defined]
