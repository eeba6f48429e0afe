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

from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.rollups import Trigger


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
        Trigger("demand_link_ins", "AFTER", "INSERT", "entry_provider", steps=(
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
