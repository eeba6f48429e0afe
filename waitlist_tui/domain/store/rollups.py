"""Pre-aggregated stats, kept right by database triggers on every write.

Why triggers: every path that writes entries, appointments, openings or offers (the desk, the
CLI, imports, the offer engine, expiry, another desk's app, a hand-written UPDATE) changes the
rollups in the same transaction, with no Python hook to forget. Bulk loads (the demo) leave
the triggers off and fill the rollups once afterwards (rollup_rebuild).

What is kept (tables `stats_count` and `stats_point`, models in models.py, SQL in
rollup_sql.py):

- stats_count: counts and sums per clinic, fact, time bucket, service, provider and status.
  Facts: 1 entries by creation (status = current status); 2 booked entries x appointments by
  the entry's creation (n1/s1: waits known and their sum; n2/s2: days sooner known and their
  sum, in ticks); 3 the same by booked_at; 4 offers by sending (service and provider of their
  opening); 5 openings by creation (n1: the fills among them); 6 fills by filled_at; 7 and 8
  the number of median values (days sooner, fill minutes) per bin, with no time.
  Times are bucketed twice: lvl 0 in 15-minute UTC buckets, lvl 1 in UTC days. Every clinic
  day in every zone in use today starts on a quarter hour of UTC (offsets are multiples of 15
  minutes, DST included), so a period of clinic dates is whole UTC days, less the start of
  its first day, plus the start of the day after it: a few hundred day rows and two days of
  15-minute rows, without a time zone in SQL (SQLite has none) and without trusting any tz
  rules at write time. Bounds off the quarter hour (local mean time, before ~1900 in most
  zones) make stats read the raw tables instead. Sums are exact integers ("ticks": ms on
  SQLite, julianday's resolution; µs on PostgreSQL), so no amount of adding and taking away
  drifts.
- stats_point: one row per booked entry and appointment (a booked entry without one has a
  row of its own, as the raw LEFT JOIN makes) and per filled opening, holding what it counted.
  A change to either side takes back what its points counted and counts them again from the
  tables as they are (`refresh`): right for changes to either side of the join, and for
  statements over many rows (on PostgreSQL the last refresh of a statement sees all of it).
  Each point also holds its median value as the raw query computes it (the very expression,
  so the very double) and an order-keeping bin of it (BIN_LADDER): a median counts the
  values per bin, then reads its one or two middle values from their bin through an index,
  and combines them as the raw query does; the figure is the raw one to the last bit.

Concurrency: SQLite has one writer at a time, so triggers add to the counters in place. On
PostgreSQL a shared counter row would make desks queue on it for the length of a transaction
(an import holds it throughout) and could deadlock two transactions that touch counters in
different orders; there, triggers append rows (seq from a sequence) that never conflict, and
`compact()` folds them into the compact rows (seq 0), from stats() once PENDING_LIMIT have
gathered. The pair points lock their entry row first, so that a desk booking an entry and
another linking its appointment at the same moment take turns (each then sees the other's
committed change); offers count with their opening's clinic, service and provider, which no
code path changes once an opening exists (a hand-made change is followed, but two desks
racing on it are not).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from peewee import Database, PostgresqlDatabase, SqliteDatabase

from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.locking import COMPACT_LOCK, transaction_lock
from waitlist_tui.domain.store.models import StatsCount

NONE = uuid.UUID(int=0)  # stands for "no service" or "no provider" in key columns
PENDING_LIMIT = 20_000  # appended PostgreSQL rows stats() tolerates before compacting


def ticks_per_day() -> int:
    return 86_400_000_000 if is_postgres() else 86_400_000


def dialect() -> q.Dialect:
    return q.Dialect(postgres=is_postgres())


# --- buckets, as Python computes them for the bounds it asks about ---------------------------

_DAY0 = 1_721_424  # day number of 0001-01-00: date.toordinal() + _DAY0 = julian day at noon


def day_id(moment: dt.date) -> int:
    return moment.toordinal() + _DAY0


def fine_id(moment: dt.datetime) -> int:
    return day_id(moment) * 96 + (moment.hour * 60 + moment.minute) // 15


def on_quarter(moment: dt.datetime) -> bool:
    """Whether a bound falls on a 15-minute bucket's start (naive UTC)."""
    return moment.minute % 15 == 0 and moment.second == 0 and moment.microsecond == 0


# --- triggers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    name: str
    timing: str  # AFTER | BEFORE
    event: str  # INSERT | UPDATE | DELETE
    table: str
    columns: tuple[str, ...] = ()  # UPDATE OF these, and only when one of them changed
    when: str = ""  # a further condition on OLD / NEW
    steps: tuple[tuple[Any, ...], ...] = ()  # ("sql", text) | ("refresh", kind, ref)

    def condition(self, differ: str) -> str:
        """The WHEN clause; differ is the backend's null-safe "differs from" operator."""
        parts = [self.when] if self.when else []
        if self.columns:
            parts.append(" OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in self.columns))
        return " AND ".join(f"({p})" for p in parts)


ENTRY_COLUMNS = ("clinic_id", "service_id", "status", "created_at")
PAIR_ENTRY_COLUMNS = (*ENTRY_COLUMNS, "booked_at", "original_appointment_at")
OPENING_COLUMNS = ("clinic_id", "service_id", "provider_id", "status", "created_at", "filled_at")
ATTRIBUTES = ("clinic_id", "service_id", "provider_id")


def triggers(d: q.Dialect) -> list[Trigger]:
    """Every stats trigger: which rows it watches and what it does (and the demand
    columns' ones, store/demand_columns.py: turned off and on with these)."""
    from waitlist_tui.domain.store import demand_columns

    booked = "(OLD.status = 'booked' OR NEW.status = 'booked')"
    filled = "(OLD.status = 'filled' OR NEW.status = 'filled')"
    return [
        Trigger("stats_entry_ins", "AFTER", "INSERT", "entry", steps=(
            ("sql", d.entry_count("NEW", 1)),
        )),
        Trigger("stats_entry_upd", "AFTER", "UPDATE", "entry", ENTRY_COLUMNS, steps=(
            ("sql", d.entry_count("OLD", -1)),
            ("sql", d.entry_count("NEW", 1)),
        )),
        Trigger("stats_entry_del", "AFTER", "DELETE", "entry", steps=(
            ("sql", d.entry_count("OLD", -1)),
        )),
        Trigger("stats_pair_entry_ins", "AFTER", "INSERT", "entry",
                when="NEW.status = 'booked'", steps=(("refresh", q.PAIR, "NEW.id"),)),
        Trigger("stats_pair_entry_upd", "AFTER", "UPDATE", "entry", PAIR_ENTRY_COLUMNS,
                booked, (("refresh", q.PAIR, "NEW.id"),)),
        Trigger("stats_pair_entry_del", "AFTER", "DELETE", "entry",
                when="OLD.status = 'booked'", steps=(("refresh", q.PAIR, "OLD.id"),)),
        Trigger("stats_pair_appt_ins", "AFTER", "INSERT", "appointment",
                when="NEW.entry_id IS NOT NULL", steps=(("refresh", q.PAIR, "NEW.entry_id"),)),
        Trigger("stats_pair_appt_upd", "AFTER", "UPDATE", "appointment",
                ("entry_id", "provider_id", "starts_at"), steps=(
            ("refresh", q.PAIR, "OLD.entry_id"),
            ("refresh", q.PAIR, "NEW.entry_id"),
        )),
        Trigger("stats_pair_appt_del", "AFTER", "DELETE", "appointment",
                when="OLD.entry_id IS NOT NULL", steps=(("refresh", q.PAIR, "OLD.entry_id"),)),
        Trigger("stats_opening_ins", "AFTER", "INSERT", "opening", steps=(
            ("sql", d.opening_count("NEW", 1)),
        )),
        Trigger("stats_opening_upd", "AFTER", "UPDATE", "opening", OPENING_COLUMNS, steps=(
            ("sql", d.opening_count("OLD", -1)),
            ("sql", d.opening_count("NEW", 1)),
        )),
        Trigger("stats_opening_del", "AFTER", "DELETE", "opening", steps=(
            ("sql", d.opening_count("OLD", -1)),
        )),
        Trigger("stats_fill_ins", "AFTER", "INSERT", "opening",
                when="NEW.status = 'filled'", steps=(("refresh", q.FILL, "NEW.id"),)),
        Trigger("stats_fill_upd", "AFTER", "UPDATE", "opening", OPENING_COLUMNS, filled,
                (("refresh", q.FILL, "NEW.id"),)),
        Trigger("stats_fill_del", "AFTER", "DELETE", "opening",
                when="OLD.status = 'filled'", steps=(("refresh", q.FILL, "OLD.id"),)),
        # Offers count with their opening's service and provider: when those change, and
        # before an opening goes (its offers go after it, when the join finds nothing).
        Trigger("stats_opening_offers_upd", "AFTER", "UPDATE", "opening", ATTRIBUTES, steps=(
            ("sql", d.opening_offers("OLD", -1)),
            ("sql", d.opening_offers("NEW", 1)),
        )),
        Trigger("stats_opening_offers_del", "BEFORE", "DELETE", "opening", steps=(
            ("sql", d.opening_offers("OLD", -1)),
        )),
        Trigger("stats_offer_ins", "AFTER", "INSERT", "offer", steps=(
            ("sql", d.offer_count("NEW", 1)),
        )),
        Trigger("stats_offer_upd", "AFTER", "UPDATE", "offer", ("opening_id", "status", "sent_at"),
                steps=(
            ("sql", d.offer_count("OLD", -1)),
            ("sql", d.offer_count("NEW", 1)),
        )),
        Trigger("stats_offer_del", "AFTER", "DELETE", "offer", steps=(
            ("sql", d.offer_count("OLD", -1)),
        )),
        *demand_columns.triggers(d),
    ]  # fmt: skip


def _sqlite_ddl(t: Trigger, d: q.Dialect) -> str:
    body: list[str] = []
    for step in t.steps:
        body.extend([step[1]] if step[0] == "sql" else d.refresh(step[1], step[2]))
    of = f" OF {', '.join(t.columns)}" if t.columns else ""
    cond = t.condition("IS NOT")
    when = f" WHEN {cond}" if cond else ""
    statements = "".join(f"  {s};\n" for s in body)
    return (
        f"CREATE TRIGGER {t.name} {t.timing} {t.event}{of} ON {t.table} FOR EACH ROW{when}\n"
        f"BEGIN\n{statements}END"
    )


def _pg_ddl(t: Trigger, d: q.Dialect) -> list[str]:
    body = []
    for step in t.steps:
        if step[0] == "sql":
            body.append(step[1])
        else:
            body.append(f"PERFORM stats_refresh_{step[1]}({step[2]})")
    back = "OLD" if t.timing == "BEFORE" else "NULL"
    statements = "".join(f"  {s};\n" for s in body)
    of = f" OF {', '.join(t.columns)}" if t.columns else ""
    cond = t.condition("IS DISTINCT FROM")
    when = f" WHEN ({cond})" if cond else ""
    return [
        f"CREATE OR REPLACE FUNCTION {t.name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{statements}  RETURN {back};\nEND $$",
        f"DROP TRIGGER IF EXISTS {t.name} ON {t.table}",
        f"CREATE TRIGGER {t.name} {t.timing} {t.event}{of} ON {t.table} FOR EACH ROW{when} "
        f"EXECUTE FUNCTION {t.name}()",
    ]


def _pg_refresh_functions(d: q.Dialect) -> list[str]:
    """stats_refresh_1(entry id) and stats_refresh_2(opening id). The first locks the entry,
    so that two desks changing an entry and its appointment take turns (with read committed,
    each statement here then sees the other's committed change)."""
    found = []
    for kind in (q.PAIR, q.FILL):
        lock = (
            "  PERFORM 1 FROM entry WHERE id = ref FOR NO KEY UPDATE;\n" if kind == q.PAIR else ""
        )
        steps = "".join(f"  {s};\n" for s in d.refresh(kind, "ref"))
        found.append(
            f"CREATE OR REPLACE FUNCTION stats_refresh_{kind}(ref uuid) RETURNS void "
            f"LANGUAGE plpgsql AS $$\nBEGIN\n  IF ref IS NULL THEN RETURN; END IF;\n{lock}{steps}"
            "END $$"
        )
    return found


def install_triggers() -> None:
    """(Re)create every stats trigger on the bound database. Caller owns the transaction."""
    d = dialect()
    statements: list[str] = []
    if d.postgres:
        statements += ["CREATE SEQUENCE IF NOT EXISTS stats_count_seq", *_pg_refresh_functions(d)]
        for t in triggers(d):
            statements += _pg_ddl(t, d)
    else:
        for t in triggers(d):
            statements += [f"DROP TRIGGER IF EXISTS {t.name}", _sqlite_ddl(t, d)]
    for sql in statements:
        database.execute_sql(sql)


def drop_triggers() -> None:
    """Remove the stats triggers (bulk loads then call rebuild() and install_triggers())."""
    d = dialect()
    for t in triggers(d):
        on = f" ON {t.table}" if d.postgres else ""
        database.execute_sql(f"DROP TRIGGER IF EXISTS {t.name}{on}")


# --- compaction -----------------------------------------------------------------------------


def compact(force: bool = False) -> int:
    """PostgreSQL: fold the rows the triggers appended into the compact ones (seq 0), in one
    statement that no desk waits for (rows appended meanwhile stay for the next time). Runs
    when more than PENDING_LIMIT have gathered, or always with force. Returns the number of
    rows written; 0 on SQLite, or when another session is compacting. Caller must not be in a
    transaction (this commits its own)."""
    if not isinstance(database.obj, PostgresqlDatabase):
        return 0
    if not force:
        probe = database.execute_sql(
            "SELECT 1 FROM stats_count WHERE seq <> 0 LIMIT 1 OFFSET %s", (PENDING_LIMIT,)
        ).fetchone()
        if probe is None:
            return 0
    sums = ", ".join(f"{c} = stats_count.{c} + excluded.{c}" for c in ("n", "n1", "s1", "n2", "s2"))
    key = "clinic_id, fact, lvl, t, service_id, provider_id, status"
    with database.atomic():
        if not transaction_lock(COMPACT_LOCK, wait=False):
            return 0
        cursor = database.execute_sql(
            f"WITH gone AS (DELETE FROM stats_count WHERE seq <> 0 RETURNING {key}, n, n1, s1, "
            f"n2, s2) INSERT INTO stats_count ({q.COUNT_COLUMNS}) SELECT 0, {key}, SUM(n), "
            f"SUM(n1), SUM(s1), SUM(n2), SUM(s2) FROM gone GROUP BY {key} "
            f"ON CONFLICT ({q.COUNT_KEY}) DO UPDATE SET {sums}"
        )
        written: int = cursor.rowcount
        return written


def prepare_models(db: Database) -> None:
    """On SQLite, stats_count is stored in key order (WITHOUT ROWID): a span of buckets is one
    contiguous read, and no separate key index is kept. Called before its table is created
    for `db` (peewee would write the option on any backend)."""
    StatsCount._meta.without_rowid = isinstance(db, SqliteDatabase)


# --- bulk writes ------------------------------------------------------------------------------

ENTRY_INSERT = "stats_entry_ins"  # the trigger that counts every new entry, one row at a time
PAIR_ENTRY_INSERT = "stats_pair_entry_ins"  # a booked entry's points (the wait, sooner)


class BulkEntryCounts:
    """What stats_entry_ins would have counted for entries written in bulk, counted a batch
    at a time by one grouped statement over the batch's rows (the same expressions)."""

    # ids a statement: an import's batch; under 999 parameters for a SQLite before 3.32
    CHUNK = 2000 if sqlite3.sqlite_version_info >= (3, 32) else 900

    def __init__(self) -> None:
        d = dialect()
        key = "clinic_id, fact, lvl, t, service_id, provider_id, status"
        select = d.entry_select("e", 1).format(flag="0")
        self.statement = (
            f"INSERT INTO stats_count ({q.COUNT_COLUMNS}) SELECT {d.pending}, {key}, SUM(n), "
            f"SUM(n1), SUM(s1), SUM(n2), SUM(s2) FROM ({select} FROM entry e, {q.LEVELS} "
            "WHERE e.id IN ({marks})) x WHERE true GROUP BY " + key + d.upsert()
        )
        self.param = "%s" if d.postgres else "?"

    def before_insert(self, booked: bool = True) -> None:
        """Called before the block writes a batch of entries (`booked`: any of them booked);
        on PostgreSQL the trigger is already off."""

    def add(self, entry_ids: list[Any]) -> None:
        """Count these new entries (ids as stored); in the caller's transaction."""
        for i in range(0, len(entry_ids), self.CHUNK):
            part = entry_ids[i : i + self.CHUNK]
            marks = ", ".join(self.param for _ in part)
            database.execute_sql(self.statement.replace("{marks}", marks), part)


class DroppedTrigger(BulkEntryCounts):
    """SQLite: the entry trigger dropped before the first entries go in (an import that only
    updates leaves it be), its text kept to make it again. So is stats_pair_entry_ins while
    the batches hold no booked entry: it does nothing then (WHEN status = 'booked'), but
    SQLite runs a trigger's program for every row to find that out, as dear as the counting
    trigger itself; it is made again before a batch that holds a booked entry (a backup)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, str] | None = None  # name: its CREATE text, read once
        self.dropped: dict[str, str] = {}
        self.counting = False

    def before_insert(self, booked: bool = True) -> None:
        if self.texts is None:
            self.texts = {
                str(name): str(sql)
                for name, sql in database.execute_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
                    (ENTRY_INSERT, PAIR_ENTRY_INSERT),
                ).fetchall()
            }
            self.counting = self._drop(ENTRY_INSERT)  # else a database before the rollups
        if booked:
            self._restore(PAIR_ENTRY_INSERT)
        else:
            self._drop(PAIR_ENTRY_INSERT)

    def _drop(self, name: str) -> bool:
        assert self.texts is not None
        if name in self.dropped:
            return True
        if name not in self.texts:
            return False
        database.execute_sql(f"DROP TRIGGER {name}")
        self.dropped[name] = self.texts[name]
        return True

    def _restore(self, name: str) -> None:
        sql = self.dropped.pop(name, None)
        if sql is not None:
            database.execute_sql(sql)

    def restore(self) -> None:
        """Every trigger dropped made again (in the caller's transaction)."""
        for name in list(self.dropped):
            self._restore(name)

    def add(self, entry_ids: list[Any]) -> None:
        if self.counting:
            super().add(entry_ids)


@contextmanager
def bulk_entry_counts() -> Iterator[BulkEntryCounts]:
    """Within the caller's transaction: stats_entry_ins off, the entries the block writes
    counted in bulk by the BulkEntryCounts it yields, and the trigger back before the
    transaction ends. On PostgreSQL the trigger's plpgsql call and appended rows cost about
    0.1 ms an entry, a third of a bulk import's writing; on SQLite its upsert per row cost
    some 30 µs an entry (3 s of a 100,000-row import's 5.5 s of entry inserts), the grouped
    statement a tenth of that. SQLite has no switch for a trigger: it is dropped and made
    again from its own text in sqlite_master. Either way the change is the transaction's
    own: a rollback (the block raising, or the process killed) brings the trigger back as it
    was, and no other desk sees it off (on PostgreSQL ALTER TABLE makes the other writers of
    entry wait for this transaction, on SQLite they wait for its write lock anyway; readers
    see the committed schema). The other triggers stay on (a booked entry's points, an
    update's counts)."""
    d = dialect()
    if d.postgres:
        database.execute_sql(f"ALTER TABLE entry DISABLE TRIGGER {ENTRY_INSERT}")
        yield BulkEntryCounts()
        database.execute_sql(f"ALTER TABLE entry ENABLE TRIGGER {ENTRY_INSERT}")
        return
    counter = DroppedTrigger()
    yield counter
    counter.restore()
