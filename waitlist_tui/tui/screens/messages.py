"""Messages: what the outbox sent, what waits (quiet hours, a retry), what failed and why.

Thin on purpose: the rows come from outbox.list_messages (recipients already masked) in a
thread worker; `s` cycles the status filter, the line under the table shows the highlighted
message's text and its last error. Reachable from the triage screen (`m`) and, by class, from
the command palette.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.messaging.outbox import MessageView, local_text
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

FILTERS: tuple[str | None, ...] = (None, "pending", "sent", "failed", "dead")
COLUMNS = (
    ("created", "Queued"),
    ("kind", "Kind"),
    ("to", "To"),
    ("client", "Client"),
    ("status", "Status"),
    ("tries", "Tries"),
    ("when", "Next try / sent"),
    ("delivery", "Delivery"),  # the SMS provider's receipt: red when it never arrived
    ("error", "Last error"),
)
STATUS_STYLE = {"pending": "", "sent": "green", "failed": "yellow", "dead": "bold red"}
DELIVERY_STYLE = {"delivered": "green", "undelivered": "bold red", "failed": "bold red"}


@dataclass(frozen=True)
class Loaded:
    rows: tuple[MessageView, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    time_zone: str = "UTC"
    error: str | None = None


def read_messages(status: str | None) -> Loaded:
    try:
        clinic = get_clinic()
        return Loaded(
            tuple(outbox.list_messages(status, clinic=clinic)),
            outbox.status_counts(clinic),
            clinic.time_zone,
        )
    except DomainError as err:
        return Loaded(error=err.message)


class MessagesRead(calls.Done[Loaded]):
    pass


class MessagesScreen(DeskScreen[None]):
    """The outbox, newest first, filtered by status."""

    DEFAULT_CSS = """
    MessagesScreen #messages-summary {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    MessagesScreen #messages-table {
        height: 1fr;
    }
    MessagesScreen #messages-detail {
        height: 5;
        padding: 0 1;
        border-top: solid $primary-background;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding(
            "s",
            "cycle_status",
            "Status filter",
            id="messages.status",
            tooltip="Show all, pending, sent, failed or dead messages",
        ),
        Binding("ctrl+r", "refresh", "Refresh", id="messages.refresh", tooltip="Reload the outbox"),
        Binding("escape", "back", "Back", id="messages.back", tooltip="Back to the last screen"),
    ]

    def __init__(self, status: str | None = None) -> None:
        super().__init__()
        self.status = status
        self.rows: list[MessageView] = []
        self.time_zone = "UTC"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="messages-summary")
        yield FastTable(id="messages-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="messages-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Messages"
        self.query_one(DataTable).focus()
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def action_cycle_status(self) -> None:
        """all -> pending -> sent -> failed -> dead -> all."""
        self.status = FILTERS[(FILTERS.index(self.status) + 1) % len(FILTERS)]
        self.reload()

    def reload(self) -> None:
        self.calls.read(read_messages, self.status, done=MessagesRead, group="messages-load")

    @on(MessagesRead)
    def show(self, message: MessagesRead) -> None:
        loaded = message.value
        self.time_zone = loaded.time_zone
        self.rows = list(loaded.rows)
        # Widths from the cells themselves (fill): columns left to size themselves settle on
        # idle, and a paint before that showed every cell cut to its header's width.
        fill(
            self.query_one(DataTable),
            [label for _, label in COLUMNS],
            [
                (
                    str(m.id),
                    (
                        local_text(m.created_at, self.time_zone),
                        m.kind.replace("_", " "),
                        f"{m.channel} {m.recipient}",
                        printable(m.client_name),
                        Text(m.status, style=STATUS_STYLE.get(m.status, "")),
                        m.tries,
                        local_text(m.sent_at or m.next_attempt_at, self.time_zone),
                        Text(
                            m.delivery_status or "",
                            style=DELIVERY_STYLE.get(m.delivery_status or "", ""),
                        ),
                        m.last_error if len(m.last_error) <= 17 else m.last_error[:16] + "…",
                    ),
                )
                for m in self.rows
            ],
        )
        shown = self.status or "all"
        counts = " · ".join(f"{n} {s}" for s, n in loaded.counts.items())
        summary = loaded.error or f"Showing {shown} ({len(self.rows)}) · {counts} · s: filter"
        self.query_one("#messages-summary", Static).update(summary)
        self.paint_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.paint_detail()

    def paint_detail(self) -> None:
        row = self.query_one(DataTable).cursor_row
        detail = self.query_one("#messages-detail", Static)
        if not 0 <= row < len(self.rows):
            detail.update("No messages." if not self.rows else "")
            return
        m = self.rows[row]
        head = f"{m.key} · {m.subject}" if m.subject else m.key
        error = f"\nLast error: {m.last_error}" if m.last_error else ""
        if m.interrupted:
            error += (
                f"\n{m.interrupted} attempt(s) cut off mid-send (the sender stopped): "
                "it may have gone twice, unless the provider dropped the repeat by its key"
            )
        if m.delivery_status in ("undelivered", "failed"):
            code = f", error {m.delivery_error}" if m.delivery_error else ""
            at = local_text(m.delivery_at, self.time_zone)
            error += f"\nNot delivered ({m.delivery_status}{code}, {at}): phone the client"
        detail.update(f"{head}\n{m.body}{error}")
