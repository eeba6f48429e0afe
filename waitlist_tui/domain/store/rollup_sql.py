"""The SQL text of the stats rollups: trigger bodies and rebuild statements, for SQLite and
PostgreSQL. domain/store/rollups.py says what the rows mean; this module only spells the statements.

Every expression here that the raw queries of domain/stats/raw.py also compute (the median
values) is written exactly as they write it, so that both give the same double.
"""

from __future__ import annotations

from dataclasses import dataclass

# fact numbers in stats_count
ENTRY, BOOKED, BOOKED_AT, OFFER, OPENING, FILLED_AT, SOONER_BIN, FILL_BIN = 1, 2, 3, 4, 5, 6, 7, 8
# kinds of stats_point
PAIR, FILL = 1, 2

COUNT_COLUMNS = "seq, clinic_id, fact, lvl, t, service_id, provider_id, status, n, n1, s1, n2, s2"
COUNT_KEY = "lvl, fact, t, clinic_id, service_id, provider_id, status, seq"
POINT_COLUMNS = (
    "kind, ref_id, ref2_id, clinic_id, service_id, provider_id, created_at, done_at, wait, "
    "sooner, v, bin"
)
LEVELS = "(SELECT 0 AS lvl UNION ALL SELECT 1 AS lvl) l"
# Which counts a point makes: (fact, level) pairs.
POINT_FACTS = {
    PAIR: ((BOOKED, 0), (BOOKED, 1), (BOOKED_AT, 0), (BOOKED_AT, 1), (SOONER_BIN, 2)),
    FILL: ((FILLED_AT, 0), (FILLED_AT, 1), (FILL_BIN, 2)),
}
# Bins for the medians, in minutes: (from, width): a minute up to two hours, five up to a day,
# half an hour up to a week, a day up to a year, then weeks. Fine where values crowd, coarse
# further out, so that the bins stay few whatever the spread, and each holds few values.
BIN_LADDER = ((0, 1), (120, 5), (1440, 30), (10080, 1440), (525600, 10080))


def bin_steps() -> list[tuple[int, int, int | None, int]]:
    """BIN_LADDER's steps as bin() reads them: (from, width, the next step's from (None for
    the last), the step's first bin). The SQL's bin() and the demo's Python one (demo_points)
    are both built from these."""
    steps, first = [], 0
    for i, (start, width) in enumerate(BIN_LADDER):
        nxt = BIN_LADDER[i + 1][0] if i + 1 < len(BIN_LADDER) else None
        steps.append((start, width, nxt, first))
        if nxt is not None:
            first += (nxt - start) // width
    return steps


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in the rollup statements."""

    postgres: bool

    @property
    def none(self) -> str:
        """The id that stands for "no service" / "no provider" (a key column is never NULL,
        so that equal keys meet in one row)."""
        if self.postgres:
            return "'00000000-0000-0000-0000-000000000000'::uuid"
        return "'00000000000000000000000000000000'"

    def day(self, x: str) -> str:
        """The UTC day of a stored time as a day number (julian day at noon). SQLite reads it
        off the stored text, so that a bucket holds exactly what a text comparison says."""
        if self.postgres:
            return f"(({x})::date - DATE '1970-01-01' + 2440587)"
        return f"CAST(julianday(substr({x}, 1, 10)) AS INTEGER)"

    def fine(self, x: str) -> str:
        """The 15-minute UTC bucket of a stored time: day * 96 + quarter of the day."""
        if self.postgres:
            minutes = f"(EXTRACT(HOUR FROM {x})::int * 60 + EXTRACT(MINUTE FROM {x})::int)"
        else:
            minutes = (
                f"(CAST(substr({x}, 12, 2) AS INTEGER) * 60 + CAST(substr({x}, 15, 2) AS INTEGER))"
            )
        return f"({self.day(x)} * 96 + {minutes} / 15)"

    def bucket(self, x: str, lvl: str) -> str:
        return f"CASE WHEN {lvl} = 0 THEN {self.fine(x)} ELSE {self.day(x)} END"

    def ticks(self, later: str, earlier: str) -> str:
        """later - earlier as an exact integer: milliseconds on SQLite (julianday's resolution),
        microseconds on PostgreSQL; NULL when either is NULL."""
        if self.postgres:
            return f"round(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000)::bigint"
        return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400000) AS INTEGER)"

    def days(self, later: str, earlier: str) -> str:
        """later - earlier in fractional days, written as stats_raw._days writes it."""
        if self.postgres:
            return f"(date_part('epoch', ({later} - {earlier})) / 86400.0)"
        return f"(julianday({later}) - julianday({earlier}))"

    def whole(self, x: str) -> str:
        """A non-negative number truncated to an integer."""
        return f"trunc({x})::int" if self.postgres else f"CAST({x} AS INTEGER)"

    def bin(self, minutes: str) -> str:
        """An order-keeping bin of a value in minutes (BIN_LADDER), negative values mirrored
        below zero; NULL for NULL."""
        a = f"abs({minutes})"
        arms = []
        for start, width, nxt, first in bin_steps():
            inside = f"{first} + {self.whole(f'({a} - {start}) / {width}.0')}"
            arms.append(f"WHEN {a} < {nxt} THEN {inside}" if nxt is not None else f"ELSE {inside}")
        ladder = f"CASE {' '.join(arms)} END"
        return f"CASE WHEN {minutes} < 0 THEN -1 - ({ladder}) ELSE {ladder} END"

    def scan(self, table: str, alias: str, whole: bool) -> str:
        """A table in FROM; `whole`: read straight through rather than by an index (SQLite's
        planner would walk a status index and fetch most rows one by one)."""
        hint = " NOT INDEXED" if whole and not self.postgres else ""
        return f"{table} {alias}{hint}"

    def upsert(self) -> str:
        """How a trigger adds to stats_count: in place on SQLite; a new row on PostgreSQL."""
        if self.postgres:
            return ""
        sums = ", ".join(f"{c} = {c} + excluded.{c}" for c in ("n", "n1", "s1", "n2", "s2"))
        return f" ON CONFLICT ({COUNT_KEY}) DO UPDATE SET {sums}"

    @property
    def pending(self) -> str:
        """seq for the rows a trigger writes: a row of its own on PostgreSQL."""
        return "nextval('stats_count_seq')" if self.postgres else "0"

    # --- counts of one row (r: a trigger's OLD/NEW, or a table alias for the rebuild) ---------

    def _count(self, r: str, fact: int, time: str, cols: tuple[str, ...], sign: int) -> str:
        """SELECT seq, key, measures (named) for one fact; `cols` = service, provider,
        status, n1; FROM is the caller's."""
        service, provider, status, n1 = cols
        return (
            f"SELECT {{flag}} AS seq, {r}.clinic_id AS clinic_id, {fact} AS fact, "
            f"l.lvl AS lvl, {self.bucket(time, 'l.lvl')} AS t, {service} AS service_id, "
            f"{provider} AS provider_id, {status} AS status, {sign} AS n, {n1} AS n1, 0 AS s1, "
            f"0 AS n2, 0 AS s2"
        )

    def entry_select(self, r: str, sign: int) -> str:
        """An entry by clinic, service, status and creation time."""
        cols = (f"{r}.service_id", self.none, f"{r}.status", "0")
        return self._count(r, ENTRY, f"{r}.created_at", cols, sign)

    def opening_select(self, r: str, sign: int) -> str:
        """An opening by clinic, service, provider, status and creation time; n1 counts it when
        it is a fill (a median value)."""
        fill = (
            f"CASE WHEN {r}.status = 'filled' AND {r}.filled_at IS NOT NULL THEN {sign} ELSE 0 END"
        )
        cols = (f"COALESCE({r}.service_id, {self.none})", f"{r}.provider_id", f"{r}.status", fill)
        return self._count(r, OPENING, f"{r}.created_at", cols, sign)

    def offer_select(self, opening: str, offer: str, sign: int) -> str:
        """An offer by its opening's clinic, service and provider, its status and sending."""
        cols = (
            f"COALESCE({opening}.service_id, {self.none})",
            f"{opening}.provider_id",
            f"{offer}.status",
            "0",
        )
        return self._count(opening, OFFER, f"{offer}.sent_at", cols, sign)

    def _insert(self, select: str, rest: str) -> str:
        return (
            f"INSERT INTO stats_count ({COUNT_COLUMNS}) {select.format(flag=self.pending)} "
            f"{rest}{self.upsert()}"
        )

    def entry_count(self, r: str, sign: int) -> str:
        return self._insert(self.entry_select(r, sign), f"FROM {LEVELS} WHERE true")

    def opening_count(self, r: str, sign: int) -> str:
        return self._insert(self.opening_select(r, sign), f"FROM {LEVELS} WHERE true")

    def offer_count(self, r: str, sign: int) -> str:
        return self._insert(
            self.offer_select("o", r, sign), f"FROM opening o, {LEVELS} WHERE o.id = {r}.opening_id"
        )

    def opening_offers(self, r: str, sign: int) -> str:
        """Every offer of an opening, counted with the opening's values in `r`."""
        return self._insert(
            self.offer_select(r, "f", sign), f"FROM offer f, {LEVELS} WHERE f.opening_id = {r}.id"
        )

    # --- points ------------------------------------------------------------------------------

    def point_select(
        self, kind: int, sign: int, ref: str | None, levels: tuple[int, ...] = (0, 1, 2)
    ) -> str:
        """SELECT seq, key, measures (named): the counts the points of `ref` (every point
        when None) make at `levels`, times sign."""
        combos = " UNION ALL ".join(
            f"SELECT {f} AS f, {lvl} AS l" for f, lvl in POINT_FACTS[kind] if lvl in levels
        )
        time = f"CASE WHEN c.f IN ({BOOKED_AT}, {FILLED_AT}) THEN p.done_at ELSE p.created_at END"
        t = f"CASE WHEN c.l = 2 THEN p.bin ELSE {self.bucket(time, 'c.l')} END"
        b = f"c.f = {BOOKED}"
        where = [f"p.kind = {kind}"]
        if ref is not None:
            where.append(f"p.ref_id = {ref}")
        where.append(f"(c.f NOT IN ({BOOKED_AT}, {FILLED_AT}) OR p.done_at IS NOT NULL)")
        where.append("(c.l <> 2 OR p.bin IS NOT NULL)")
        return (
            f"SELECT {{flag}} AS seq, p.clinic_id AS clinic_id, c.f AS fact, c.l AS lvl, "
            f"{t} AS t, p.service_id AS service_id, p.provider_id AS provider_id, '' AS status, "
            f"{sign} AS n, CASE WHEN {b} AND p.wait IS NOT NULL THEN {sign} ELSE 0 END AS n1, "
            f"CASE WHEN {b} THEN {sign} * COALESCE(p.wait, 0) ELSE 0 END AS s1, "
            f"CASE WHEN {b} AND p.sooner IS NOT NULL THEN {sign} ELSE 0 END AS n2, "
            f"CASE WHEN {b} THEN {sign} * COALESCE(p.sooner, 0) ELSE 0 END AS s2 "
            f"FROM stats_point p, ({combos}) c WHERE {' AND '.join(where)}"
        )

    def point_groups(self, fact: int) -> str:
        """One point fact over every point, grouped, for the rebuild: what point_select counts
        for each point, summed (seq 0, key and measures in COUNT_COLUMNS order)."""
        kind = PAIR if fact in (BOOKED, BOOKED_AT, SOONER_BIN) else FILL
        if fact in (SOONER_BIN, FILL_BIN):
            lvl, t, where = 2, "bin", "bin IS NOT NULL"
        else:
            column = "created_at" if fact == BOOKED else "done_at"
            lvl, t, where = 0, self.fine(column), f"{column} IS NOT NULL"
        sums = "COUNT(*), 0, 0, 0, 0"
        if fact == BOOKED:
            sums = "COUNT(*), COUNT(wait), SUM(COALESCE(wait, 0)), COUNT(sooner), "
            sums += "SUM(COALESCE(sooner, 0))"
        return (
            f"SELECT 0, clinic_id, {fact}, {lvl}, {t}, service_id, provider_id, '', "
            f"{sums} FROM stats_point WHERE kind = {kind} AND {where} GROUP BY 5, 2, 6, 7"
        )

    def point_counts(self, kind: int, sign: int, ref: str) -> str:
        return self._insert(self.point_select(kind, sign, ref), "")

    @property
    def fence(self) -> str:
        """Ends a subquery so that the planner computes its columns once, rather than pasting
        their expressions into every use outside (the bin ladder uses its value ten times)."""
        return " OFFSET 0" if self.postgres else " LIMIT -1"

    def _points(self, rows: str, minutes: str) -> str:
        """INSERT the points `rows` selects (POINT_COLUMNS but bin, named), with the bin of
        `minutes` (an expression over v)."""
        names = POINT_COLUMNS.replace(", bin", "")
        return (
            f"INSERT INTO stats_point ({POINT_COLUMNS}) SELECT {names}, {self.bin(minutes)} "
            f"FROM ({rows}{self.fence}) x"
        )

    def pair_points(self, ref: str | None) -> str:
        """Booked entries with each of their appointments (or none): the rows the raw query's
        LEFT JOIN makes. The clinic is the service's, as the raw query picks entries by the
        clinic's services."""
        where = "e.status = 'booked'" + (f" AND e.id = {ref}" if ref is not None else "")
        rows = (
            f"SELECT {PAIR} AS kind, e.id AS ref_id, COALESCE(a.id, {self.none}) AS ref2_id, "
            f"s.clinic_id AS clinic_id, e.service_id AS service_id, "
            f"COALESCE(a.provider_id, {self.none}) AS provider_id, e.created_at AS created_at, "
            f"e.booked_at AS done_at, {self.ticks('e.booked_at', 'e.created_at')} AS wait, "
            f"{self.ticks('e.original_appointment_at', 'a.starts_at')} AS sooner, "
            f"{self.days('e.original_appointment_at', 'a.starts_at')} AS v "
            f"FROM {self.scan('entry', 'e', ref is None)} JOIN service s ON s.id = e.service_id "
            f"LEFT JOIN appointment a ON a.entry_id = e.id WHERE {where}"
        )
        return self._points(rows, "v * 1440")

    def fill_points(self, ref: str | None) -> str:
        """Filled openings with their minutes from creation to filling."""
        where = "o.status = 'filled' AND o.filled_at IS NOT NULL"
        where += f" AND o.id = {ref}" if ref is not None else ""
        rows = (
            f"SELECT {FILL} AS kind, o.id AS ref_id, {self.none} AS ref2_id, "
            f"o.clinic_id AS clinic_id, COALESCE(o.service_id, {self.none}) AS service_id, "
            f"o.provider_id AS provider_id, o.created_at AS created_at, o.filled_at AS done_at, "
            f"CAST(NULL AS BIGINT) AS wait, CAST(NULL AS BIGINT) AS sooner, "
            f"({self.days('o.filled_at', 'o.created_at')} * 1440) AS v "
            f"FROM {self.scan('opening', 'o', ref is None)} WHERE {where}"
        )
        return self._points(rows, "v")

    def refresh(self, kind: int, ref: str) -> list[str]:
        """Take back what the points of `ref` counted, and count them again from the rows as
        they are now: correct whatever changed, and however often it runs."""
        points = self.pair_points(ref) if kind == PAIR else self.fill_points(ref)
        return [
            self.point_counts(kind, -1, ref),
            f"DELETE FROM stats_point WHERE kind = {kind} AND ref_id = {ref}",
            points,
            self.point_counts(kind, 1, ref),
        ]
