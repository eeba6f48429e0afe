"""entry.provider_ids and entry.ever_offered (schema v19), kept by triggers so that `stats
demand` (domain/stats/demand.py) reads them from its covering indexes: at 99,000 waiting
entries the per-entry look-up of the preferred providers and the offer probe per ended entry
were most of its time.

Installed and dropped with the stats triggers (rollups.triggers), so every path that turns
those off (a migration, a bulk load after maintenance.wipe) turns these off too; such a load
calls refill() before putting them back. No service writes the columns.

provider_ids holds every preferred provider, active or not ("id,id" in id order, as the
stored ids read: hex on SQLite, the uuid text on PostgreSQL; NULL for none): the report
drops the inactive ones itself.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.rollups import Trigger, dialect

LINK_INSERT = "demand_link_ins"


def providers_of(d: q.Dialect, entry: str) -> str:
    """The provider_ids text of the entry whose id is the SQL `entry`."""
    if d.postgres:
        return (
            "(SELECT string_agg(ep.provider_id::text, ',' ORDER BY ep.provider_id) "
            f"FROM entry_provider ep WHERE ep.entry_id = {entry})"
        )
    # SQLite reads the links in (entry_id, provider_id) index order: ids in order
    return (
        f"(SELECT group_concat(ep.provider_id) FROM entry_provider ep WHERE ep.entry_id = {entry})"
    )


def offered(entry: str) -> str:
    return f"EXISTS (SELECT 1 FROM offer o WHERE o.entry_id = {entry})"


def _set_providers(d: q.Dialect, ref: str) -> str:
    return f"UPDATE entry SET provider_ids = {providers_of(d, ref)} WHERE id = {ref}"


def _set_offered(ref: str) -> str:
    return f"UPDATE entry SET ever_offered = {offered(ref)} WHERE id = {ref}"


def triggers(d: q.Dialect) -> list[Trigger]:
    """The links change provider_ids; an offer sets ever_offered, and its removal (an
    opening deleted takes its offers) asks again."""
    return [
        Trigger(LINK_INSERT, "AFTER", "INSERT", "entry_provider", steps=(
            ("sql", _set_providers(d, "NEW.entry_id")),
        )),
        Trigger("demand_link_upd", "AFTER", "UPDATE", "entry_provider",
                ("entry_id", "provider_id"), steps=(
            ("sql", _set_providers(d, "OLD.entry_id")),
            ("sql", _set_providers(d, "NEW.entry_id")),
        )),
        Trigger("demand_link_del", "AFTER", "DELETE", "entry_provider", steps=(
            ("sql", _set_providers(d, "OLD.entry_id")),
        )),
        Trigger("demand_offer_ins", "AFTER", "INSERT", "offer", steps=(
            ("sql", "UPDATE entry SET ever_offered = TRUE WHERE id = NEW.entry_id "
                    "AND NOT ever_offered"),
        )),
        Trigger("demand_offer_upd", "AFTER", "UPDATE", "offer", ("entry_id",), steps=(
            ("sql", _set_offered("OLD.entry_id")),
            ("sql", _set_offered("NEW.entry_id")),
        )),
        Trigger("demand_offer_del", "AFTER", "DELETE", "offer", steps=(
            ("sql", _set_offered("OLD.entry_id")),
        )),
    ]  # fmt: skip


def refill(d: q.Dialect) -> None:
    """Work both columns out afresh for every entry (a migration, a bulk load that ran with
    the triggers off), writing only the rows that differ (most entries name no provider and
    were never offered: a rewrite of every row took 36 s at 100,000 entries on PostgreSQL).
    Caller owns the transaction."""
    providers, sent = providers_of(d, "entry.id"), offered("entry.id")
    differ = "IS DISTINCT FROM" if d.postgres else "IS NOT"
    database.execute_sql(
        f"UPDATE entry SET provider_ids = {providers}, ever_offered = {sent} "
        f"WHERE provider_ids {differ} {providers} OR ever_offered <> {sent}"
    )


class BulkLinks:
    """provider_ids while a bulk write adds links with demand_link_ins off (the trigger's
    UPDATE of the entry per link, through all its indexes, cost an import of 20,000 rows a
    third more time): new entries carry the column in their own row (text), an entry
    changed one at a time is set by one UPDATE afterwards (add)."""

    CHUNK = 2000 if sqlite3.sqlite_version_info >= (3, 32) else 900

    def __init__(self, active: bool) -> None:
        d = dialect()
        self.active = active
        self.statement = (
            f"UPDATE entry SET provider_ids = {providers_of(d, 'entry.id')} WHERE id IN ({{marks}})"
        )
        self.param = "%s" if d.postgres else "?"
        self.postgres = d.postgres

    def text(self, provider_hex: tuple[str, ...]) -> str | None:
        """provider_ids for new links given as hex ids, as the trigger would write it (a
        bulk insert of new entries writes the column itself: no UPDATE afterwards)."""
        if not provider_hex:
            return None
        ordered = sorted(provider_hex)
        if self.postgres:
            return ",".join(str(uuid.UUID(h)) for h in ordered)
        return ",".join(ordered)

    def add(self, entry_ids: list[Any]) -> None:
        """These entries' links are written (ids as stored); in the caller's transaction."""
        if not self.active:
            return
        for i in range(0, len(entry_ids), self.CHUNK):
            part = entry_ids[i : i + self.CHUNK]
            marks = ", ".join(self.param for _ in part)
            database.execute_sql(self.statement.replace("{marks}", marks), part)


@contextmanager
def bulk_links() -> Iterator[BulkLinks]:
    """Within the caller's transaction: demand_link_ins off while the block writes links in
    bulk, their entries' provider_ids set by the BulkLinks it yields, and the trigger back
    before the transaction ends (dropped and made again from its own text on SQLite, disabled
    on PostgreSQL: the transaction's own change either way, so a rollback or a killed process
    leaves it as it was, as rollups.bulk_entry_counts does). The other demand triggers stay."""
    d = dialect()
    if d.postgres:
        found = database.execute_sql(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s", (LINK_INSERT,)
        ).fetchone()
        if found is None:  # a database before v19: nothing to keep
            yield BulkLinks(active=False)
            return
        database.execute_sql(f"ALTER TABLE entry_provider DISABLE TRIGGER {LINK_INSERT}")
        yield BulkLinks(active=True)
        database.execute_sql(f"ALTER TABLE entry_provider ENABLE TRIGGER {LINK_INSERT}")
        return
    row = database.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (LINK_INSERT,)
    ).fetchone()
    if row is None:
        yield BulkLinks(active=False)
        return
    database.execute_sql(f"DROP TRIGGER {LINK_INSERT}")
    yield BulkLinks(active=True)
    database.execute_sql(str(row[0]))
