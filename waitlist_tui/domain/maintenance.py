"""Housekeeping over the whole database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from waitlist_tui.domain import audit, rollup_rebuild, rollups
from waitlist_tui.domain.db import database
from waitlist_tui.domain.models import ALL_MODELS, SchemaInfo

DATA_MODELS = [m for m in ALL_MODELS if m is not SchemaInfo]


def wipe(*, indexes: bool = True) -> None:
    """Empty every table but the schema facts by dropping and recreating them (far faster than
    DELETE on large tables). With indexes=False the caller bulk-loads and then calls
    create_indexes() and finish_bulk_load(): indexes sorted once instead of updated row by
    row, stats rollups computed once instead of by a trigger per row.
    Caller owns the transaction; both SQLite and PostgreSQL roll DDL back with it."""
    database.drop_tables(
        DATA_MODELS, safe=True, cascade=database.obj.__class__.__name__.startswith("Postgres")
    )
    for model in DATA_MODELS:
        model._schema.create_table(safe=False)
    if indexes:
        create_indexes()
        rollups.install_triggers()  # dropping the tables dropped their triggers


def finish_bulk_load(rollups_loaded: bool = False) -> None:
    """After wipe(indexes=False), a bulk insert and create_indexes(): fill the stats rollups
    from the rows, unless the loader copied them in ready-made (see side_tables), then put
    the triggers back. Caller owns the transaction and runs ANALYZE afterwards."""
    if not rollups_loaded:
        rollup_rebuild.rebuild(analyze=False)  # the loader analyzes it all
    rollups.install_triggers()


def rebuild_stats(actor: str, check: bool = False) -> dict[str, Any]:
    """Recompute the stats rollups from the raw rows and reinstall their triggers, in one
    transaction: a repair tool (the triggers keep the rollups right on every write). With
    check, also says whether the rollups already matched (reads them all: slower)."""
    started = time.perf_counter()
    with database.atomic():
        before = rollup_rebuild.state() if check else None
        counts: dict[str, Any] = rollup_rebuild.rebuild()
        rollups.install_triggers()
        if before is not None:
            counts["matched"] = before == rollup_rebuild.state()
        audit.record(actor, "stats.rebuild", "stats", "rollups", {"rows": [None, counts]})
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return counts


def create_indexes(tables: Sequence[str] | None = None) -> None:
    """Create the missing indexes of every data table, or of the named ones."""
    for model in DATA_MODELS:
        if tables is None or model._meta.table_name in tables:
            model._schema.create_indexes(safe=True)


MAX_OLDER_THAN_DAYS = 36500


def _checked_expire_args(older_than_days: Any, actor: Any) -> None:
    """Every argument of `expire`, before anything is written."""
    from waitlist_tui.domain.errors import ValidationError

    if older_than_days is not None and (
        not isinstance(older_than_days, int)
        or isinstance(older_than_days, bool)
        or not 1 <= older_than_days <= MAX_OLDER_THAN_DAYS
    ):
        raise ValidationError(
            f"older_than_days must be a whole number from 1 to {MAX_OLDER_THAN_DAYS}, "
            f"got {older_than_days!r}",
            field="older_than_days",
        )
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 120:
        raise ValidationError("actor must be a name of 1-120 characters", field="actor")


def expire(older_than_days: int | None = None, actor: str = "system") -> dict[str, int]:
    """The cron job (and the app's timer): offers past their deadline, openings past their
    cutoff, entries past expires_at or whose date range has ended, and (with the option)
    entries waiting longer than N days. The arguments are checked before anything is written;
    each step is made of conditional updates, so it is safe while desks work. An expiring
    entry's live offer ends the one way offers end (offers.end_offer: the client told, a
    SEQUENTIAL opening moved on)."""
    import datetime as dt

    from waitlist_tui.domain import audit, clock, vocab
    from waitlist_tui.domain.models import Clinic, Entry
    from waitlist_tui.domain.offers import ENTRY_EXPIRED, end_entry_offers, expire_offers

    _checked_expire_args(older_than_days, actor)
    now = clock.now()
    result = dict(expire_offers(now, actor))
    counts = {"entries_past_expires_at": 0, "entries_range_ended": 0, "entries_too_old": 0}
    for clinic in Clinic.select():
        today = clock.today(clinic.time_zone)
        rules = {
            "entries_past_expires_at": Entry.expires_at.is_null(False) & (Entry.expires_at <= now),
            "entries_range_ended": Entry.date_range_end < today,
        }
        if older_than_days is not None:
            rules["entries_too_old"] = (Entry.status == vocab.WAITING) & (
                Entry.created_at <= now - dt.timedelta(days=older_than_days)
            )
        for name, rule in rules.items():
            ids = [
                e.id
                for e in Entry.select(Entry.id).where(
                    Entry.clinic == clinic, Entry.status.in_(list(vocab.ACTIVE_STATUSES)), rule
                )
            ]
            for entry_id in ids:
                with database.atomic():
                    rows = (
                        Entry.update(
                            status=vocab.EXPIRED,
                            status_changed_at=now,
                            updated_at=now,
                            updated_by=actor,
                            version=Entry.version + 1,
                        )
                        .where(Entry.id == entry_id, Entry.status.in_(list(vocab.ACTIVE_STATUSES)))
                        .execute()
                    )
                    if rows:
                        audit.record(
                            actor, "entry.expired", "entry", entry_id, {"rule": [None, name]}
                        )
                        end_entry_offers(entry_id, ENTRY_EXPIRED, actor, now)
                        counts[name] += 1
    result.update(counts)
    try:
        from waitlist_tui.domain.events import expire_seat_offers
    except ImportError:  # pragma: no cover - events arrive with their own module
        return result
    result["seat_offers_expired"] = expire_seat_offers(now, actor)
    return result
