"""`import --on-existing update` in bulk (issue 18): a batch's rows that change only an
entry's own columns are written a statement per set of changed columns (executemany; on
PostgreSQL execute_batch) with their audit rows in one insert, in the import's transaction.

A row is written here only when `changes.change` would write exactly these values and raise
nothing: its entry read (one query per 500 rows, locked on PostgreSQL), still open, its
fields parse, its service and preferred providers stay as they are, its date range stays
as it is (an offer's slot must still fit a new one) and its time window holds. Every other
row (a service, providers, dates or status that change; a value refused; an entry named
twice in the batch) goes back to the caller for `changes.change`, one at a time as before,
so its outcome and its error message are the desk's own.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, DomainError
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import Clinic, Entry, EntryProvider
from waitlist_tui.domain.waitlist.adding import Refs
from waitlist_tui.domain.waitlist.entry_input import (
    check_range,
    check_window,
    normalize_keys,
    parse_fields,
)

if TYPE_CHECKING:
    from waitlist_tui.domain.waitlist.importing import Existing

CHUNK = 500
# Fields whose change needs more than the entry's own row (offers, providers, the rollups):
# such a row goes to changes.change.
ELSEWHERE = ("service", "preferred_providers", "date_range_start", "date_range_end")


def bulk_update(
    rows: list[Existing],
    clinic: Clinic,
    refs: Refs,
    actor: str,
    counts: dict[str, int],
    written: list[str],
) -> list[Existing]:
    """Write the rows that can be written in bulk (counts and ids told); the others back, for
    `changes.change` one at a time."""
    from waitlist_tui.domain.waitlist.exchange import EDITABLE

    wanted = [r for r in rows if r.payload is not None and not _closes(r.kept)]
    seen: dict[uuid.UUID, int] = {}
    for r in wanted:
        seen[r.entry_id] = seen.get(r.entry_id, 0) + 1
    wanted = [r for r in wanted if seen[r.entry_id] == 1]
    if not wanted:
        return rows
    entries = _entries([r.entry_id for r in wanted])
    providers = _providers(list(entries))
    now = clock.now()
    done: set[int] = set()
    writes: dict[str, list[tuple[Any, ...]]] = {}
    logs: list[tuple[uuid.UUID | str, dict[str, Any]]] = []
    for row in wanted:
        entry = entries.get(row.entry_id)
        if entry is None:
            continue
        if entry.status in vocab.CLOSED_STATUSES:  # history stays as it is (update_existing)
            counts["skipped"] += 1
            done.add(row.number)
            continue
        patch = {k: v for k, v in row.payload.items() if k in EDITABLE}
        try:
            new = _plan(entry, clinic, refs, patch, providers.get(entry.id, set()))
        except DomainError:
            continue  # changes.change says why, in its own words
        if new is None:
            continue
        done.add(row.number)
        if not new:
            counts["skipped"] += 1
            continue
        query = Entry.update_by(actor, now, **new, version=Entry.version + 1).where(
            (Entry.id == entry.id)
            & (Entry.version == entry.version)
            & Entry.status.in_(list(vocab.ACTIVE_STATUSES))
        )
        sql, params = query.sql()
        writes.setdefault(sql, []).append(tuple(params))
        old = {k: getattr(entry, k) for k in new}
        logs.append((entry.id, audit.diff(old, new)))
        counts["updated"] += 1
        written.append(str(entry.id))
    _execute(writes)
    audit.record_many(actor, "entry.update", "entry", logs)
    return [r for r in rows if r.number not in done]


def _closes(kept: dict[str, Any]) -> bool:
    """Whether the row's status cancels or expires the entry (exchange.update_existing), or
    cannot be read: then changes.change does it (or says why not)."""
    from waitlist_tui.domain.waitlist.exchange import IMPORT_STATUS

    status = kept.get("status")
    if status is None:
        return False
    if not isinstance(status, str):
        return True
    return IMPORT_STATUS.get(status.strip().lower()) in (None, vocab.CANCELLED, vocab.EXPIRED)


def _plan(
    entry: Entry, clinic: Clinic, refs: Refs, patch: dict[str, Any], providers: set[uuid.UUID]
) -> dict[str, Any] | None:
    """The entry's columns the patch changes ({} for none), or None when changes.change must
    write the row (something besides the entry's own columns changes). Raises what a check
    refuses (then changes.change refuses it too). The service and providers resolved once
    per import (refs), the clinic the import's (pass 1 checked every id is its entry)."""
    data = normalize_keys(patch, partial=True)
    fields = parse_fields(data, clinic.time_zone)
    service_id = ids.fk_id(entry, "service")
    if "service" in data and refs.service(clinic, data["service"]).id != service_id:
        return None
    if "preferred_providers" in data:
        service = refs.service(clinic, str(service_id))
        wanted = refs.providers(clinic, service, data["preferred_providers"])
        if {p.id for p in wanted} != providers:
            return None
    if "date_range_start" in fields or "date_range_end" in fields:
        start = fields.get("date_range_start", entry.date_range_start)
        end = fields.get("date_range_end", entry.date_range_end)
        check_range(start, end, clinic.max_span_days)
    check_window(
        fields.get("preferred_time_start", entry.preferred_time_start),
        fields.get("preferred_time_end", entry.preferred_time_end),
    )
    new = {k: v for k, v in fields.items() if getattr(entry, k) != v}
    if any(k in new for k in ELSEWHERE) or "status" in new or "version" in new:
        return None
    return new


def _entries(wanted: list[uuid.UUID]) -> dict[uuid.UUID, Entry]:
    """The rows' entries, locked on PostgreSQL as changes.change locks each (one query per
    CHUNK ids)."""
    found: dict[uuid.UUID, Entry] = {}
    for i in range(0, len(wanted), CHUNK):
        query = locked(Entry.select().where(Entry.id.in_(wanted[i : i + CHUNK])))
        found.update((e.id, e) for e in query)
    return found


def _providers(entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """{entry id: its preferred providers' ids} (one query per CHUNK entries)."""
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for i in range(0, len(entry_ids), CHUNK):
        query = EntryProvider.select(EntryProvider.entry, EntryProvider.provider).where(
            EntryProvider.entry.in_(entry_ids[i : i + CHUNK])
        )
        pairs: Any = query.tuples()  # (entry id, provider id) rows
        for entry_id, provider_id in pairs:
            found.setdefault(entry_id, set()).add(provider_id)
    return found


def _execute(writes: dict[str, list[tuple[Any, ...]]]) -> None:
    """Each UPDATE's rows in one call. A row whose version or status is no longer the one
    read refuses the whole import (4090), as changes.change does: SQLite counts the rows
    written (this transaction holds the only write lock); on PostgreSQL the rows were read
    FOR UPDATE in this transaction, so no other writer can have changed them since."""
    cursor: Any = database.cursor()
    for sql, params in writes.items():
        if is_postgres():
            from psycopg2.extras import execute_batch

            execute_batch(cursor, sql, params, page_size=1000)
            continue
        cursor.executemany(sql, params)
        if cursor.rowcount != len(params):
            raise Conflict("waitlist request was changed by someone else; reload it and try again")
