"""The stats tables: pre-aggregated counts and the points medians are picked from, kept by
database triggers (store/rollups.py). Tables of the figures, not of the desk's work: no
service writes them, so they live apart from the desk's models."""

from __future__ import annotations

from peewee import (
    SQL,
    BigIntegerField,
    CharField,
    CompositeKey,
    DoubleField,
    IntegerField,
    SmallIntegerField,
    UUIDField,
)

from waitlist_tui.domain.store.base import BaseModel
from waitlist_tui.domain.store.fields import UTCDateTimeField


class StatsCount(BaseModel):
    """Pre-aggregated figures for stats, kept by database triggers (domain/store/rollups.py says
    what each fact, level and column holds). On PostgreSQL the triggers append rows (seq from a
    sequence) that a compaction folds into the compact ones (seq 0), so that desks never wait
    on each other's counters; on SQLite (one writer at a time) they add in place. The key is
    the primary key: on SQLite the table is stored in its order (WITHOUT ROWID, set by
    rollups.prepare_models), so a span of buckets is one contiguous read."""

    lvl = SmallIntegerField()  # 0: 15-minute UTC bucket, 1: UTC day, 2: no time (bins)
    fact = SmallIntegerField()
    t = IntegerField()
    clinic_id = UUIDField()
    service_id = UUIDField()  # rollups.NONE when the row has none
    provider_id = UUIDField()
    status = CharField(max_length=12, default="")
    seq = BigIntegerField(default=0)  # 0: compact; else an appended PostgreSQL row
    n = BigIntegerField(default=0)
    n1 = BigIntegerField(default=0)
    s1 = BigIntegerField(default=0)
    n2 = BigIntegerField(default=0)
    s2 = BigIntegerField(default=0)

    class Meta:
        table_name = "stats_count"
        primary_key = CompositeKey(
            "lvl", "fact", "t", "clinic_id", "service_id", "provider_id", "status", "seq"
        )


StatsCount.add_index(
    StatsCount.index(StatsCount.seq, where=SQL("seq <> 0"), name="stats_count_pending")
)


class StatsPoint(BaseModel):
    """One row per booked entry and appointment (kind 1) and per filled opening (kind 2), as
    the stats triggers last saw them: what they took off the counts when the row changes, and
    the exact values the medians are picked from."""

    kind = SmallIntegerField()
    ref_id = UUIDField()  # the entry, or the opening
    ref2_id = UUIDField()  # the appointment, or rollups.NONE
    clinic_id = UUIDField()
    service_id = UUIDField()
    provider_id = UUIDField()
    created_at = UTCDateTimeField()
    done_at = UTCDateTimeField(null=True)  # booked_at, or filled_at
    wait = BigIntegerField(null=True)  # booked_at - created_at in ticks (rollups.TICKS_PER_DAY)
    sooner = BigIntegerField(null=True)  # original appointment - booked slot, in ticks
    v = DoubleField(null=True)  # the median's value, exactly as the raw query computes it
    bin = IntegerField(null=True)  # a coarse, order-keeping bucket of v

    class Meta:
        table_name = "stats_point"
        # A unique index rather than a primary key: a rebuild drops it and sorts it anew,
        # cheaper than keeping it in order during a million inserts.
        primary_key = False
        indexes = ((("kind", "ref_id", "ref2_id"), True),)


StatsPoint.add_index(
    StatsPoint.index(
        StatsPoint.kind,
        StatsPoint.clinic_id,
        StatsPoint.bin,
        StatsPoint.v,
        StatsPoint.service_id,
        StatsPoint.provider_id,
        StatsPoint.created_at,
        where=SQL("bin IS NOT NULL"),
        name="stats_point_bin",
    )
)
# A period's values per (service, provider, bin): one index range per bin the rollups know,
# counted without a sort (grouping the period's range of a time-ordered index sorted every
# value of the period: 330 ms for 30 days at 1,000,000 entries on SQLite).
StatsPoint.add_index(
    StatsPoint.index(
        StatsPoint.kind,
        StatsPoint.clinic_id,
        StatsPoint.service_id,
        StatsPoint.provider_id,
        StatsPoint.bin,
        StatsPoint.created_at,
        where=SQL("bin IS NOT NULL"),
        name="stats_point_key",
    )
)
