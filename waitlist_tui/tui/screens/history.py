"""An entry's history: its audit trail (issue 19), oldest first, from the queue (`h`).

The rows are the entry's own and those of what belongs to it (its offers, appointments,
the messages that told them and the replies that answered): privacy.trail.entry_history, read
in a worker. The line under the table shows the highlighted row's changes in full; ids are
left out of the table (the desk reads the what, not the keys). Keyboard only: arrows move,
escape goes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.privacy import trail
from waitlist_tui.domain.privacy.trail import AuditRow
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

COLUMNS = ("When", "Who", "What", "On", "Changes")


@dataclass(frozen=True)
class Loaded:
    rows: tuple[AuditRow, ...] = ()
    time_zone: str = "UTC"
    error: str | None = None


def read_history(entry_id: Any) -> Loaded:
    try:
        return Loaded(tuple(trail.entry_history(entry_id)), get_clinic().time_zone)
    except DomainError as err:
        return Loaded(error=err.message)


class HistoryRead(calls.Done[Loaded]):
    pass


_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _no_ids(value: Any) -> Any:
    if isinstance(value, str):
        return _ID.sub("…", value)
    if isinstance(value, list):
        return [_no_ids(v) for v in value]
    return value


def without_ids(row: AuditRow) -> AuditRow:
    """The row with the fields that only hold ids left out, and ids inside text (a
    message's key) shortened to …."""
    kept = {
        k: _no_ids(v)
        for k, v in row.changes.items()
        if not (isinstance(v, list) and all(x is None or _is_id(x) for x in v))
    }
    return AuditRow(row.id, row.at, row.actor, row.action, row.object_type, row.object_id, kept)


def show_trail(table: DataTable[Any], rows: Any, zone: str) -> list[AuditRow]:
    """Audit rows into a table, in the clinic's time, ids shortened (the history and the
    manager's audit screen); the rows shown."""
    shown = [without_ids(r) for r in rows]
    fill(
        table,
        list(COLUMNS),
        [
            (
                str(r.id),
                (
                    local(r.at, zone),
                    printable(r.actor),
                    r.action,
                    r.object_type,
                    printable(r.summary(60)),
                ),
            )
            for r in shown
        ],
    )
    return shown


def local(at: Any, zone: str) -> str:
    import pendulum

    return pendulum.instance(at).in_timezone(zone).format("ddd D MMM YYYY HH:mm")


class HistoryScreen(DeskScreen[None]):
    """Who did what to one entry, and when."""

    DEFAULT_CSS = """
    HistoryScreen #history-summary {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    HistoryScreen #history-table {
        height: 1fr;
    }
    HistoryScreen #history-detail {
        height: 8;
        padding: 0 1;
        border-top: solid $primary-background;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("ctrl+r", "refresh", "Refresh", id="history.refresh", tooltip="Read it again"),
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to the queue"),
    ]

    def __init__(self, entry: EntryView) -> None:
        super().__init__()
        self.entry = entry
        self.rows: list[AuditRow] = []
        self.time_zone = "UTC"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="history-summary", markup=False)
        yield FastTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "History"
        self.query_one(DataTable).focus()
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.calls.read(read_history, self.entry.id, done=HistoryRead, group="history-load")

    @on(HistoryRead)
    def show(self, message: HistoryRead) -> None:
        loaded = message.value
        self.time_zone = loaded.time_zone
        self.rows = show_trail(self.query_one(DataTable), loaded.rows, self.time_zone)
        e = self.entry
        who = printable(e.client.name)
        summary = f"{who} · {e.service.name} · {e.status} · {len(self.rows)} changes, oldest first"
        self.query_one("#history-summary", Static).update(loaded.error or summary)
        self.paint_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_detail()

    def paint_detail(self) -> None:
        row = self.query_one(DataTable).cursor_row
        detail = self.query_one("#history-detail", Static)
        if not 0 <= row < len(self.rows):
            detail.update("No history." if not self.rows else "")
            return
        r = self.rows[row]
        parts = []
        for name, value in r.changes.items():
            if isinstance(value, list) and len(value) == 2:
                old, new = value
                parts.append(f"{name}: {new}" if old in (None, "") else f"{name}: {old} → {new}")
            else:
                parts.append(f"{name}: {value}")
        head = f"{r.action} by {r.actor}, {local(r.at, self.time_zone)}"
        detail.update(f"{printable(head)}\n{printable('  ·  '.join(parts))}")
