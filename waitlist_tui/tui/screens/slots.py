"""Free slots for one entry, by date and provider; enter offers the cursor slot to the entry.

This is the "from a person to slots" direction of matching: the desk has a client on the
phone and wants to offer them something now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.fill.offers import OfferView
from waitlist_tui.domain.fill.slot_offers import offer_slot, slots_for_entry
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.formatting import date_range, when_short
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

SLOT_COLUMNS = ("Date", "Time", "Provider")


@dataclass(frozen=True)
class SlotRow:
    provider_id: Any
    provider: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Slots:
    rows: list[SlotRow]
    zone: ZoneInfo


@dataclass(frozen=True)
class Sent:
    offer: OfferView
    zone: ZoneInfo


def read_slots(entry_id: Any) -> Slots:
    zone = ZoneInfo(get_clinic().time_zone)
    rows = [
        SlotRow(g.provider_id, f"{g.provider_name} ({g.provider_code})", start, end)
        for g in slots_for_entry(entry_id)
        for start, end in g.slots
    ]
    return Slots(rows, zone)


def send_offer(entry_id: Any, row: SlotRow, staff: str) -> Sent:
    sent = offer_slot(entry_id, row.provider_id, row.start, staff)
    return Sent(sent, ZoneInfo(get_clinic().time_zone))


class SlotsRead(calls.Done[Slots]):
    pass


class SlotsFailed(calls.Failed):
    pass


class SlotOffered(calls.Done[Sent]):
    pass


class OfferRefused(calls.Failed):
    pass


class SlotsScreen(DeskScreen[OfferView | None]):
    """The entry's free slots in its date range, days and times, soonest first."""

    HELP_TITLE = "free slots screen"

    BINDINGS = [
        Binding(
            "enter",
            "offer",
            "Offer slot",
            id="slots.offer",
            tooltip="Open this slot and offer it to the client",
            priority=True,
        ),
        Binding("ctrl+r", "reload", "Refresh", id="slots.refresh", tooltip="Look again"),
        Binding("escape", "back", "Back", id="slots.back", tooltip="Back without offering"),
    ]

    def __init__(self, entry: EntryView) -> None:
        super().__init__()
        self.entry = entry
        self.rows: list[SlotRow] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        view = self.entry
        yield Static(
            Text.assemble(
                ("Free slots for ", ""),
                (printable(view.client.name), "bold"),
                f" · {view.service.name} ({view.service.duration_minutes} min) · "
                f"{when_short(view)} · {date_range(view.date_range_start, view.date_range_end)}"
                f" · {', '.join(p.code for p in view.preferred_providers) or 'any provider'}",
            ),
            id="slots-title",
        )
        table: DataTable[object] = FastTable(id="slots-table", cursor_type="row")
        table.add_columns(*SLOT_COLUMNS)
        yield table
        yield Static("Looking for free slots…", id="slots-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Offer a slot"
        self.query_one(DataTable).focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)

    def load(self) -> None:
        self.calls.read(
            read_slots, self.entry.id, done=SlotsRead, failed=SlotsFailed, group="slots"
        )

    @on(SlotsRead)
    def slots_read(self, message: SlotsRead) -> None:
        self.show(message.value.rows, message.value.zone, None)

    @on(SlotsFailed)
    def slots_failed(self, message: SlotsFailed) -> None:
        self.show([], None, message.error.message)

    def show(self, rows: list[SlotRow], zone: ZoneInfo | None, error: str | None) -> None:
        table = self.query_one(DataTable)
        status = self.query_one("#slots-status", Static)
        self.rows = rows
        last_day = None
        cells = []
        for i, row in enumerate(rows):
            local = row.start.astimezone(zone)
            day = local.date()
            cells.append(
                (
                    str(i),
                    (
                        f"{local:%a} {day.day} {local:%b}" if day != last_day else "",
                        f"{local:%H:%M}–{row.end.astimezone(zone):%H:%M}",
                        row.provider,
                    ),
                )
            )
            last_day = day
        fill(table, SLOT_COLUMNS, cells)  # sized from the cells at once, not on idle
        if error:
            status.update(Text(error, "bold red"))
        elif rows:
            status.update(f"{len(rows)} free slots · enter offers the cursor slot")
        else:
            status.update(
                "No free slot fits this entry's dates, days and times. Widen them in the "
                "editor (e), or wait for a cancellation."
            )

    def action_offer(self) -> None:
        table = self.query_one(DataTable)
        if self.busy or not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        self.busy = True
        self.send(self.rows[table.cursor_row])

    def send(self, row: SlotRow) -> None:
        self.calls.write(
            send_offer,
            self.entry.id,
            row,
            self.desk.staff,
            done=SlotOffered,
            failed=OfferRefused,
            group="offer",
        )

    @on(OfferRefused)
    def failed(self, message: OfferRefused) -> None:
        err = message.error
        self.busy = False
        self.notify(f"Not offered: {err.message}", severity="error", markup=False)
        self.query_one("#slots-status", Static).update(Text(err.message, "bold red"))
        self.load()

    @on(SlotOffered)
    def sent(self, message: SlotOffered) -> None:
        sent, zone = message.value.offer, message.value.zone
        start = sent.slot_start.astimezone(zone)
        until = sent.expires_at.astimezone(zone)
        self.notify(
            f"Offered {start:%a} {start.day} {start:%b %H:%M} with {sent.provider_code} to "
            f"{printable(sent.client_name)}; reply by {until:%a %H:%M}",
            markup=False,  # a name is text: "[" in it is not a style
        )
        self.dismiss(sent)

    @on(DataTable.RowSelected)
    def chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_offer()
