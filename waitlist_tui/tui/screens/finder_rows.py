"""The match finder's data as the screen shows it: the day's calendar read and its rows, the
candidates' rows, and the status line over them. No widgets here."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rich.text import Text

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill.finder import CalendarRow, Found
from waitlist_tui.domain.fill.matching import COUNT_CAP, Candidate
from waitlist_tui.domain.quickdates import long_date, parse_quick_date
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui.formatting import phone_text, priority_text

CALENDAR_COLUMNS = ("Time", "Provider", "Client", "Service", "Status")
CANDIDATE_COLUMNS = ("Match", "Pri", "Waited", "Client", "Phone", "Why")
Cells = list[tuple[str, tuple[Text, ...]]]


def slot_label(found: Found, zone: ZoneInfo) -> str:
    view = found.opening
    start, end = view.starts_at.astimezone(zone), view.ends_at.astimezone(zone)
    return (
        f"{start:%a} {start.day} {start:%b} {start:%H:%M}–{end:%H:%M} with "
        f"{view.provider_code} ({view.minutes} min)"
    )


def counted(n: int, capped: bool) -> str:
    """Counts stop at COUNT_CAP per match type: a capped one is "at least"."""
    return f"{n}+" if capped else str(n)


def terms_text(found: Found, zone: ZoneInfo) -> Text:
    """What an offer made now would be, when it is not the plain hold: the slot's cutoff
    comes first ("reply by 10:00, the slot's cutoff"), or its message would wait for quiet
    hours past the deadline (phone instead). The rule is the domain's (offer_time)."""
    terms = found.terms
    if terms is None:
        return Text("")
    until = terms.deadline.astimezone(zone)
    if terms.phone_instead:
        return Text(f" · {terms.phone_instead} (reply by {until:%a %H:%M})", "bold yellow")
    if terms.capped:
        return Text(f" · reply by {until:%a %H:%M}, the slot's cutoff", "yellow")
    return Text("")


def rule_text(found: Found) -> Text:
    """Which lead-time rule an offer made now follows, and why ("starts in 30h: rule 24-72h
    SEQUENTIAL, hold 1h"), or that the opening's workflow was chosen by hand. Nothing when
    the clinic has no rules and nobody chose: the clinic's default, as always."""
    choice = found.choice
    if choice is None or (choice.rule is None and not choice.by_hand):
        return Text("")
    return Text(f" · {choice.why}", "cyan")


def match_text(candidate: Candidate) -> Text:
    if candidate.match_type == vocab.EXACT:
        return Text("EXACT", "bold green")
    return Text("PARTIAL", "yellow")  # what fails opens the Why column


def held_text(candidate: Candidate, held: dict[str, str]) -> Text:
    """Why an offer made now passes this fitting candidate over (spacing, daily limit),
    ahead of the match's own explanation: the domain's words (fill/held_back.py)."""
    words = held.get(str(candidate.entry_id))
    return Text(f"skipped now, {words} · ", "bold yellow") if words else Text("")


def why_text(candidate: Candidate | None, held: dict[str, str] | None = None) -> Text | str:
    """The cursor candidate's "why" in full (the column is cut on a narrow terminal)."""
    if candidate is None:
        return ""
    return Text.assemble(
        match_text(candidate),
        (f" {candidate.client_name}: ", "bold"),
        held_text(candidate, held or {}),
        candidate.explanation,
    )


def calendar_status(row: CalendarRow) -> Text:
    status = row.appointment.status
    if row.gap:
        return Text("open slot", "bold yellow")
    if row.open_slot:
        return Text("cancelled · open slot", "bold yellow")
    if row.opening_status == vocab.OPENING_FILLED:
        return Text("cancelled · refilled", "green")
    return Text(status, "" if status == vocab.APPT_BOOKED else "dim")


def calendar_cells(
    rows: list[CalendarRow], zone: ZoneInfo, now: dt.datetime
) -> tuple[Cells, int | None]:
    """The calendar's rows, and the first appointment still ahead that can be cancelled."""
    upcoming = None
    cells: Cells = []
    for i, row in enumerate(rows):
        view = row.appointment
        start = view.starts_at.astimezone(zone)
        cells.append(
            (
                str(view.id),
                (
                    Text(f"{start:%H:%M}–{view.ends_at.astimezone(zone):%H:%M}"),
                    Text(view.provider_code),
                    Text(printable(view.client_name) or "—", "" if view.client_name else "dim"),
                    Text(view.service_code or "any", "" if view.service_code else "dim"),
                    calendar_status(row),
                ),
            )
        )
        if upcoming is None and row.can_cancel and view.starts_at > now:
            upcoming = i
    return cells, upcoming


def calendar_title(
    day: dt.date, rows: list[CalendarRow], calendars: tuple[str, bool] | None = None
) -> Text:
    booked = sum(not row.gap for row in rows)
    count = f"{booked} appointment{'s' if booked != 1 else ''}" if booked else "none"
    gaps = len(rows) - booked
    if gaps:
        count += f", {gaps} open gap{'s' if gaps != 1 else ''}"
    title = Text.assemble(("Calendar ", "bold"), f"{long_date(day)} · {count} · [ ] other days")
    if calendars is not None:  # the clinic's own calendars feed this day: how fresh they are
        words, warning = calendars
        title.append(f" · {words}", "bold yellow" if warning else "dim")
    return title


def candidate_cells(items: list[Candidate], held: dict[str, str] | None = None) -> Cells:
    held = held or {}
    return [
        (  # Text, not str: plain words, no markup to parse per cell
            str(c.entry_id),
            (
                match_text(c),
                priority_text(c.priority),
                Text(f"{c.waited_days}d"),
                Text(c.client_name),
                Text(phone_text(c.phone)),
                Text.assemble(held_text(c, held), c.explanation),
            ),
        )
        for c in items
    ]


def status_line(found: Found, zone: ZoneInfo, include_partial: bool) -> Text:
    """The slot, how many candidates (PARTIAL ones counted or not), and what an offer would be."""
    exact = found.candidates.exact
    total = found.candidates.total if include_partial else exact
    if total:
        shown = "PARTIAL shown, p hides" if include_partial else "EXACT only, p shows all"
        partial = total - exact if include_partial else 0
        capped = exact >= COUNT_CAP or partial >= COUNT_CAP
        noun = "candidate" if total == 1 and not capped else "candidates"  # "1 candidates"
        summary = f" · {counted(total, capped)} {noun}"
        summary += f" ({counted(exact, exact >= COUNT_CAP)} exact) · {shown}"
    elif include_partial:
        summary = " · nobody on the waitlist fits this slot, not even partly"
    else:
        summary = " · no EXACT match (p shows PARTIAL ones)"
    return Text.assemble(
        (slot_label(found, zone), "bold"),
        "" if found.saved else " · not opened yet",
        summary,
        terms_text(found, zone),
        rule_text(found),
        (f" · outside hours: {found.outside_hours}", "bold yellow") if found.outside_hours else "",
    )


def date_read_back(typed: str, zone: ZoneInfo | None) -> Text:
    """The slot form's date as it reads ("→ Fri 20 Nov"), or a mark where it does not."""
    if not typed.strip() or zone is None:
        return Text("")
    try:
        day = parse_quick_date(typed, clock.today(str(zone)), "date")
    except DomainError:
        return Text("?", "bold red")
    return Text(f"→ {long_date(day)}", "green")
