"""The audit trail for managers (issue 20): who changed what, and when, across the clinic,
newest first, with filters: who, what kind, from and to (a day or a time), and an entry
(its id or first 8 characters, as `audit list --entry` takes). Ids are left out of the rows,
as in an entry's history.

Thin: privacy.trail.manager_trail reads it in a worker and refuses (4030) a desk that is not
a manager's (access/roles.py decides, not this screen); the refusal is shown in place of
the rows. Reached by `A` on the queue or the palette's "Go to Audit trail"; a desk logged in
with the desk role does not see the key. Filters apply on enter; escape leaves a filter for
the table, and the table for the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Static

from waitlist_tui.domain.access.roles import ManagersOnly
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.privacy import trail
from waitlist_tui.domain.privacy.trail import AuditRow
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.screens.history import local, show_trail
from waitlist_tui.tui.widgets.fast_table import FastTable
from waitlist_tui.tui.widgets.footer import Footer

LIMIT = 200  # rows shown; more: narrow the filters
# (input id, placeholder, trail.list_events keyword)
FILTERS = (
    ("audit-who", "who", "staff"),
    ("audit-kind", "what, e.g. offer", "kind"),
    ("audit-from", "from YYYY-MM-DD", "start"),
    ("audit-to", "to YYYY-MM-DD", "end"),
    ("audit-entry", "entry id", "entry"),
)


@dataclass(frozen=True)
class Loaded:
    rows: tuple[AuditRow, ...] = ()
    more: bool = False
    time_zone: str = "UTC"
    error: str | None = None
    refused: bool = False


def read_trail(viewer: str, filters: dict[str, str]) -> Loaded:
    """The newest LIMIT rows matching `filters`, as `viewer` may see them; a refusal or a bad
    filter comes back as its message."""
    try:
        rows = trail.manager_trail(viewer, limit=LIMIT + 1, **filters)
        return Loaded(tuple(rows[:LIMIT]), len(rows) > LIMIT, get_clinic().time_zone)
    except ManagersOnly as refused:
        return Loaded(error=refused.message, refused=True)
    except DomainError as err:
        return Loaded(error=err.message)


class TrailRead(calls.Done[Loaded]):
    pass


class AuditScreen(DeskScreen[None]):
    """The clinic's audit trail, filtered (managers only)."""

    DEFAULT_CSS = """
    AuditScreen #audit-filters {
        height: 3;
    }
    AuditScreen #audit-filters Input {
        width: 1fr;
    }
    AuditScreen #audit-summary {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    AuditScreen #audit-summary.refused {
        background: $error 30%;
        color: $text;
        text-style: bold;
    }
    AuditScreen #audit-table {
        height: 1fr;
    }
    AuditScreen #audit-detail {
        height: 4;
        padding: 0 1;
        border-top: solid $primary-background;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding(
            "slash",
            "filters",
            "Filters",
            id="audit.filters",
            tooltip="Type who, what kind, from, to or an entry; enter applies them",
        ),
        Binding("ctrl+r", "refresh", "Refresh", id="audit.refresh", tooltip="Read it again"),
        Binding("escape", "back", "Back", id="audit.back", tooltip="Back to the queue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[AuditRow] = []
        self.time_zone = "UTC"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="audit-filters"):
            for input_id, placeholder, _ in FILTERS:
                yield Input(placeholder=placeholder, id=input_id, max_length=80)
        yield Static("Loading…", id="audit-summary", markup=False)
        yield FastTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Audit trail"
        self.query_one(DataTable).focus()
        self.reload()

    def filters(self) -> dict[str, str]:
        found = {}
        for input_id, _, keyword in FILTERS:
            value = self.query_one(f"#{input_id}", Input).value.strip()
            if value:
                found[keyword] = value
        return found

    def action_filters(self) -> None:
        self.query_one("#audit-who", Input).focus()

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(DataTable).focus()
        else:
            self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    @on(Input.Submitted)
    def apply(self, event: Input.Submitted) -> None:
        self.reload()

    def reload(self) -> None:
        self.calls.read(
            read_trail, self.desk.staff, self.filters(), done=TrailRead, group="audit-load"
        )

    @on(TrailRead)
    def show(self, message: TrailRead) -> None:
        loaded = message.value
        self.time_zone = loaded.time_zone
        self.rows = show_trail(self.query_one(DataTable), loaded.rows, self.time_zone)
        summary = self.query_one("#audit-summary", Static)
        summary.set_class(loaded.refused, "refused")
        if loaded.error:
            summary.update(printable(loaded.error))
        else:
            more = (
                f"the {LIMIT} newest shown: narrow the filters" if loaded.more else "newest first"
            )
            summary.update(f"{len(self.rows)} changes, {more} · / filters, enter applies")
        self.paint_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_detail()

    def paint_detail(self) -> None:
        row = self.query_one(DataTable).cursor_row
        detail = self.query_one("#audit-detail", Static)
        if not 0 <= row < len(self.rows):
            detail.update("")
            return
        r = self.rows[row]
        parts: list[Any] = []
        for name, value in r.changes.items():
            if isinstance(value, list) and len(value) == 2:
                old, new = value
                parts.append(f"{name}: {new}" if old in (None, "") else f"{name}: {old} → {new}")
            else:
                parts.append(f"{name}: {value}")
        head = f"{r.action} by {r.actor}, {local(r.at, self.time_zone)}"
        detail.update(f"{printable(head)}\n{printable('  ·  '.join(parts))}")
