"""The queue's writes and the messages its calls' results come back in (calls.py); its pages
are read by queue_data.fetch, which the app also runs before it is up."""

from __future__ import annotations

from waitlist_tui.domain.waitlist import changes
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.queue_data import Loaded


class PageRead(calls.Done[Loaded]):
    """A page of the queue."""


class EntryCancelled(calls.Done[EntryView]):
    pass


class CancelRefused(calls.Failed):
    pass


def cancel_entry(view: EntryView, reason: str, staff: str) -> EntryView:
    """Cancelled as the desk saw it: a version changed since is refused, not overwritten."""
    return changes.cancel(view.id, staff, version=view.version, reason=reason)
