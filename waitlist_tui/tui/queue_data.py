"""The queue's pages as the screen receives them, and its first page read before the app is up.

No Textual import here: `open_tui` starts reading the first page on a thread of its own while
the app's modules load (~120 ms of imports), so the queue's first paint already has its rows
instead of painting "Loading…" and then waiting for a cold read.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

from waitlist_tui.domain import session
from waitlist_tui.domain.catalog.clinics import get_clinic, providers, services
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.waitlist import listing

PAGE_SIZE = 50  # two screens of rows: less to lay out per keystroke than 100
COUNT_CAP = 1000  # "of 1,000+": counting every match of "g" cost 60-180 ms a keystroke


@dataclass(frozen=True)
class Loaded:
    """A page as the worker hands it to the screen."""

    page: listing.Page | None
    clinic_name: str | None
    error: str | None = None
    spec: listing.EntryQuery | None = None
    service_codes: tuple[str, ...] = ()
    provider_codes: tuple[str, ...] = ()
    time_zone: str = "UTC"  # the clinic's: the detail pane's slot and deadline


def first_spec() -> listing.EntryQuery:
    """What the queue shows when it opens: waiting + offered, by priority, first page."""
    return listing.EntryQuery(limit=PAGE_SIZE, count_cap=COUNT_CAP)


def fetch(spec: listing.EntryQuery, with_choices: bool) -> Loaded:
    """A page, and the first time the filter choices too (on the caller's connection)."""
    try:
        clinic = get_clinic()
        codes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        if with_choices:
            codes = (
                tuple(s.code for s in services(clinic) if s.kind == "appointment"),
                tuple(p.code for p in providers(clinic)),
            )
        return Loaded(
            listing.list_entries(spec, clinic),
            clinic.name,
            spec=spec,
            service_codes=codes[0],
            provider_codes=codes[1],
            time_zone=clinic.time_zone,
        )
    except DomainError as err:
        return Loaded(None, None, err.message, spec=spec)


def prefetch() -> Future[Loaded]:
    """The first page, read on a thread with its own connection (closed when done)."""
    result: Future[Loaded] = Future()

    def run() -> None:
        try:
            with session.connection():
                result.set_result(fetch(first_spec(), True))
        except BaseException as exc:  # the screen reads the page again itself
            result.set_exception(exc)

    threading.Thread(target=run, name="waitlist-first-page", daemon=True).start()
    return result
