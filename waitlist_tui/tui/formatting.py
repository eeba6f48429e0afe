"""How entries read on screen: short days and parts of day, date ranges, colours."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rich.text import Text

from waitlist_tui.domain import vocab
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist.views import EntryView

STATUS_STYLE = {
    vocab.WAITING: "",
    vocab.OFFERED: "bold yellow",
    vocab.BOOKED: "green",
    vocab.CANCELLED: "dim",
    vocab.EXPIRED: "dim red",
}
PRIORITY_STYLE = {1: "bold red", 2: "yellow", 3: "", 4: "dim", 5: "dim"}


def when_short(view: EntryView) -> str:
    """'Mon Wed · AM' / 'any · 09:00-14:00'."""
    days = " ".join(vocab.DAY_SHORT[d] for d in view.preferred_days) or "any day"
    parts = [vocab.SLOT_SHORT[s] for s in view.preferred_time_slots]
    if view.preferred_time_start:
        parts.append(f"{view.preferred_time_start}-{view.preferred_time_end}")
    return f"{days} · {' '.join(parts)}" if parts else days


def date_range(start: dt.date, end: dt.date) -> str:
    """'Nov 22–Dec 18'; a range into another year ends with that year: the old
    '20 Dec 2026–02 Jan 2027' was the widest cell and cut every name at 80 columns."""
    if start.year != end.year:
        return f"{start:%b} {start.day}–{end:%b} {end.day}, {end.year}"
    if start.month == end.month:
        return f"{start:%b} {start.day}–{end.day}"
    return f"{start:%b} {start.day}–{end:%b} {end.day}"


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def priority_text(priority: int) -> Text:
    return Text(str(priority), style=PRIORITY_STYLE.get(priority, ""), justify="center")


def phone_text(e164: str | None) -> str:
    """Formatted once phonenumbers is loaded (after the first paint: it costs ~35 ms to
    import, a tenth of the start-up budget); E.164 until then."""
    if e164 and "phonenumbers" in sys.modules:
        from waitlist_tui.domain.catalog.clients import display_phone

        return display_phone(e164)
    return e164 or ""


def slot_text(start: dt.datetime, time_zone: str) -> str:
    """The slot on the clinic's wall clock: 'Mon 23 Nov 10:30'."""
    return start.astimezone(ZoneInfo(time_zone)).strftime("%a %d %b %H:%M")


@dataclass(frozen=True)
class LiveOffer:
    """An offered entry's slot and deadline, for its detail pane."""

    slot_start: dt.datetime
    provider_code: str
    expires_at: dt.datetime
    time_zone: str


def detail_text(view: EntryView, now: dt.datetime, offer: LiveOffer | None = None) -> Text:
    """The cursor entry in full: who, how to reach them, what they want, its live offer
    (slot and reply-by: an offered entry showed neither) and its history."""
    contact = " · ".join(x for x in (phone_text(view.client.phone), view.client.email) if x)
    wants = ", ".join(p.name for p in view.preferred_providers) or "any provider"
    text = Text()
    text.append(printable(view.client.name), style="bold")
    text.append(f"  {contact}\n")
    text.append(
        f"{view.service.name} ({view.service.duration_minutes} min) · {wants} · "
        f"{when_short(view)} · {date_range(view.date_range_start, view.date_range_end)}"
        f" · {view.payment_type.replace('_', ' ').lower()}\n"
    )
    text.append(
        f"{view.status} · priority {view.priority} · waiting {view.waited_days(now)} days"
        f" · added by {view.created_by}",
        style="dim",
    )
    if view.self_joined:  # the client asked on the /join page and confirmed their phone
        text.append(" · self-joined online", style="bold")
    if offer is not None:
        left = countdown(offer.expires_at, now)
        text.append(
            f"\noffered {slot_text(offer.slot_start, offer.time_zone)} with "
            f"{offer.provider_code} · reply by {slot_text(offer.expires_at, offer.time_zone)}",
            style="bold",
        )
        text.append(f" ({left.plain} left)" if left else " (the hold has run out)")
    if view.notes:
        text.append(f"\n{printable(view.notes, keep_lines=True)}", style="italic")
    return text


URGENT = dt.timedelta(minutes=10)


def countdown(expires_at: dt.datetime, now: dt.datetime) -> Text | None:
    """'1h 12m', '4m 05s' (red under ten minutes); None once the hold has run out."""
    left = expires_at - now
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return None
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m {secs:02d}s"
    return Text(text, style="bold red" if left < URGENT else "")
