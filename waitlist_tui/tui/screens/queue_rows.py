"""The queue's rows as the desk reads them: the columns, the filter choices, a row's cells,
the detail pane and the summary line. No widgets here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.text import Text

from waitlist_tui.domain import vocab
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import listing
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
from waitlist_tui.tui.queue_data import Loaded

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


def row_cells(
    page: listing.Page, view: EntryView, now: dt.datetime, narrow: bool
) -> tuple[Any, ...]:
    """One row of the table; narrow: the detail panel shows providers and days."""
    reply = reply_in(page, view, now)
    if narrow:
        status = status_text(view.status)
        if reply:
            status = Text.assemble(status, " ", reply)
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
        reply,
    )


def entry_detail(view: EntryView, now: dt.datetime, loaded: Loaded | None) -> Text:
    """The detail pane's text, with the live offer's slot and deadline when there is one."""
    offer = None
    if loaded is not None and loaded.page is not None and view.id in loaded.page.offer_slots:
        start, provider = loaded.page.offer_slots[view.id]
        expires = loaded.page.offer_expires[view.id]
        offer = LiveOffer(start, provider, expires, loaded.time_zone)
    return detail_text(view, now, offer)


def reply_in(page: listing.Page, view: EntryView, now: dt.datetime) -> Text | str:
    expires = page.offer_expires.get(view.id)
    if expires is None:
        return ""
    return countdown(expires, now) or Text("expired", "dim")


def is_filtered(q: listing.EntryQuery) -> bool:
    return bool(q.search or q.service or q.provider or q.statuses != vocab.ACTIVE_STATUSES)


def summary_text(
    page: listing.Page, q: listing.EntryQuery, calendars: tuple[str, bool] | None, width: int
) -> Text:
    """The queue's one fixed line: the page, and how fresh the clinic's calendars are (a
    warning in bold when one failed or went stale: the free slots may be wrong). On a line
    too narrow for all of it the order goes first, then a calendar note that is no warning."""
    full = summary_line(page, q)
    if calendars is None:
        return Text(full)
    words, warning = calendars
    note = Text(f" · {words}", "bold yellow" if warning else "dim")
    for line in (full, summary_line(page, q, with_order=False)):
        if len(line) + len(note) <= width:
            return Text(line).append_text(note)
    return Text(line).append_text(note) if warning else Text(full)


def summary_line(page: listing.Page, q: listing.EntryQuery, *, with_order: bool = True) -> str:
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
        f"{' '.join(what)}{f' · {order}' if with_order else ''}"
    )
