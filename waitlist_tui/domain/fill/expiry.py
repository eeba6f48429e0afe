"""The cron job's sweep: offers, openings and entries past their time. It spans the fill and
classes wings, so it lives above the store (it was in store/maintenance, which made the
store import the wings built on it)."""

from __future__ import annotations

from typing import Any

from waitlist_tui.domain.store import rollups
from waitlist_tui.domain.store.db import database

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

    from waitlist_tui.domain import clock, vocab
    from waitlist_tui.domain.fill.offers import ENTRY_EXPIRED, end_entry_offers, expire_offers
    from waitlist_tui.domain.store import audit
    from waitlist_tui.domain.store.models import Clinic, Entry
    from waitlist_tui.domain.store.transitions import move

    _checked_expire_args(older_than_days, actor)
    now = clock.now()
    result = dict(expire_offers(now, actor))
    counts = {"entries_past_expires_at": 0, "entries_range_ended": 0, "entries_too_old": 0}
    active = tuple(vocab.ACTIVE_STATUSES)
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
                    # a conditional status move, its SQL built once (store/transitions.py)
                    if move(Entry, entry_id, active, vocab.EXPIRED, actor, now):
                        audit.record(
                            actor, "entry.expired", "entry", entry_id, {"rule": [None, name]}
                        )
                        end_entry_offers(entry_id, ENTRY_EXPIRED, actor, now)
                        counts[name] += 1
    result.update(counts)
    from waitlist_tui.domain.waitlist.self_join import purge

    result["self_joined_unconfirmed_purged"] = purge(now, actor)
    try:
        from waitlist_tui.domain.classes.seat_offers import expire_seat_offers
    except ImportError:  # pragma: no cover - events arrive with their own module
        return result
    result["seat_offers_expired"] = expire_seat_offers(now, actor)
    # PostgreSQL: fold the stats rows the triggers appended, once enough have gathered. This
    # upkeep ran inside stats() and made a read write; the sweep runs every minute in the
    # app and from cron, and stats sums appended rows meanwhile, so no figure changes.
    rollups.compact()
    return result
