"""The queue's writes and the messages its calls' results come back in (calls.py); its pages
are read by queue_data.fetch, which the app also runs before it is up."""

from __future__ import annotations

from waitlist_tui.domain import clock
from waitlist_tui.domain.calendar.freshness import freshness
from waitlist_tui.domain.catalog.clinics import get_clinic, has_clinic
from waitlist_tui.domain.waitlist import changes
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.queue_data import Loaded


class PageRead(calls.Done[Loaded]):
    """A page of the queue."""


class CalendarsRead(calls.Done["tuple[str, bool] | None"]):
    """How fresh the clinic's calendars are (calendar.freshness)."""


def calendars_fresh() -> tuple[str, bool] | None:
    """None before a clinic is set up: the queue says that itself."""
    return freshness(get_clinic(), clock.now()) if has_clinic() else None


class EntryCancelled(calls.Done[EntryView]):
    pass


class CancelRefused(calls.Failed):
    pass


def cancel_entry(view: EntryView, reason: str, staff: str) -> EntryView:
    """Cancelled as the desk saw it: a version changed since is refused, not overwritten."""
    return changes.cancel(view.id, staff, version=view.version, reason=reason)
