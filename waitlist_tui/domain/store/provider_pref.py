"""An entry's provider preference as SQL, written for each backend's planner.

An entry takes a provider when it names no preferred provider, or names that one. SQLite runs
`NOT EXISTS (any preference) OR EXISTS (this one)` row by row: most entries name no provider,
so one index probe settles them. PostgreSQL plans that OR of EXISTS as two hashed subplans,
each built from all of entry_provider (44k rows at 100,000 entries, 3-10 ms, twice in a
NOT (...)) before the first row comes back, even for a page of 50. There, one correlated
aggregate over the entry's own links (1: names this provider, 0: names only others, NULL: no
preference) is one index probe per entry read.
"""

from __future__ import annotations

from typing import Any

from peewee import SQL, Case, fn

from waitlist_tui.domain.store.db import is_postgres
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Entry, EntryProvider


def takes_provider(provider: IdRef | Any) -> Any:
    """A condition on Entry: it would take `provider` (a Provider or its id)."""
    link = EntryProvider.alias()
    if is_postgres():
        names_this = Case(None, [(link.provider == provider, 1)], 0)
        verdict = link.select(fn.MAX(names_this)).where(link.entry == Entry.id)
        # `<> 0` rather than `= 1`: the same rows, but the planner guesses that most rows
        # pass (as they do) instead of 1 in 200, which made it read and sort a service's
        # every waiting entry rather than walk its index in queue order to the first 50.
        return fn.COALESCE(verdict, 1) != 0
    any_pref = link.select(SQL("1")).where(link.entry == Entry.id)
    names_it = link.select(SQL("1")).where((link.entry == Entry.id) & (link.provider == provider))
    return ~fn.EXISTS(any_pref) | fn.EXISTS(names_it)
