"""An entry's provider preference as SQL, written for each backend's planner.

An entry takes a provider when it names no preferred provider, or names that one. SQLite runs
`NOT EXISTS (any preference) OR EXISTS (this one)` row by row: most entries name no provider,
so one index probe settles them. PostgreSQL plans that OR of EXISTS as two hashed subplans,
each built from all of entry_provider (44k rows at 100,000 entries, 3-10 ms, twice in a
NOT (...)) before the first row comes back, even for a page of 50. There, one correlated
aggregate over the entry's own links (1: names this provider, 0: names only others, NULL: no
preference) is one index probe per entry read.

Matching reads entry.provider_ids instead (listed_takes_provider): the trigger-kept text of
the entry's preferred providers (schema v19, store/demand_columns.py) settles the rule from
the entry's own row, with no probe at all. Counting 200 candidates of each match type over
1,000,000 waiting entries probed entry_provider for every entry read on the way.
"""

from __future__ import annotations

import uuid
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


def provider_key(provider_id: IdRef) -> str:
    """The provider's id as entry.provider_ids holds it: uuid text on PostgreSQL, hex on
    SQLite (demand_columns.providers_of)."""
    found = provider_id if isinstance(provider_id, uuid.UUID) else uuid.UUID(str(provider_id))
    return str(found) if is_postgres() else found.hex


def listed_takes_provider(key: Any) -> Any:
    """takes_provider from entry.provider_ids: it names no provider, or names `key` (the
    provider's provider_key, or a placeholder for it). Ids are of fixed length in that
    comma-separated list, so finding the text is finding the id."""
    found = fn.strpos if is_postgres() else fn.instr
    return Entry.provider_ids.is_null() | (found(Entry.provider_ids, key) > 0)
