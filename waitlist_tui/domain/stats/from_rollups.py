"""Stats from the rollups (domain/store/rollups.py) into the same tally the raw queries fill.

A period [lo, hi) of clinic days is read as whole UTC days (lvl 1 rows) from the day of lo to
the day of hi, minus the 15-minute rows of lo's day before lo, plus those of hi's day before
hi. The weekly series is read the same way, one bound at a time. A median counts its values
per bin (all time: stats_count; a period: the points of the period, or all time minus the
points outside it, whichever is fewer), then reads the middle one or two values of their bin
through the stats_point_bin index: every statement reads a bounded number of rows, whatever
the history.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any

from waitlist_tui.domain.stats.figures import ALL, Key, Scope, Tally, uid
from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store import rollups
from waitlist_tui.domain.store.db import database, is_postgres

Bins = dict[tuple[Any, Any, int], int]  # (service, provider as stored, bin) -> values


def readable(scope: Scope) -> bool:
    """Whether every bound falls on a quarter hour of UTC, as the rollups' buckets do."""
    bounds = [b for b in (scope.lo, scope.hi) if b is not None] + scope.week_bounds
    return all(rollups.on_quarter(b) for b in bounds)


class _Sql:
    """Statement text with its parameters, written with the backend's placeholder."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        if isinstance(value, type(rollups.NONE)):
            value = str(value) if is_postgres() else value.hex
        self.params.append(value)
        return "%s" if is_postgres() else "?"

    def ids(self, values: list[Any]) -> str:
        return ", ".join(self.p(v) for v in values)


def _indexed(name: str) -> str:
    """SQLite: read through this index. Its planner may otherwise take the other one (the
    period's range rather than the bin, say) and read every value of the period per median;
    PostgreSQL weighs them well from its statistics."""
    return "" if is_postgres() else f" INDEXED BY {name}"


def _text(column: str) -> str:
    """An id column read as text on PostgreSQL: psycopg2 would make a uuid.UUID of each
    (register_uuid), ~10 us apiece over thousands of rows; SQLite stores them as text."""
    return f"{column}::text" if is_postgres() else column


@lru_cache(maxsize=4096)
def _key(value: Any) -> Any:
    """An id column as uuid.UUID, None for rollups.NONE (few distinct values: cached)."""
    found = uid(value)
    return None if found == rollups.NONE else found


def _filters(scope: Scope, sql: _Sql, fact: int) -> str:
    """The rows of `fact` that the scope counts (the raw queries' WHERE, on rollup columns)."""
    if fact == q.ENTRY and scope.provider is None:
        return f"fact = {fact} AND service_id IN ({sql.ids(scope.service_ids)})"
    found = f"fact = {fact} AND clinic_id = {sql.p(scope.clinic.id)}"
    if scope.provider is not None:
        found += f" AND provider_id = {sql.p(scope.provider.id)}"
    return found


def _span(lo: dt.datetime | None, hi: dt.datetime | None) -> list[tuple[str, int]]:
    """The rows of [lo, hi) as (condition, sign) arms over index ranges: the days, less lo's
    day before lo, plus hi's day before hi."""
    days = ["lvl = 1"]
    arms = []
    if lo is not None:
        first, start = rollups.day_id(lo), rollups.fine_id(lo)
        days.append(f"t >= {first}")
        if start > first * 96:
            arms.append((f"lvl = 0 AND t >= {first * 96} AND t < {start}", -1))
    if hi is not None:
        last, end = rollups.day_id(hi), rollups.fine_id(hi)
        days.append(f"t < {last}")
        if end > last * 96:
            arms.append((f"lvl = 0 AND t >= {last * 96} AND t < {end}", 1))
    return [(" AND ".join(days), 1), *arms]


def collect(scope: Scope, tally: Tally) -> None:
    """Every figure of `scope` into `tally`, from the rollups."""
    bins, fills, totals = _period(scope, tally)
    _weekly(scope, tally)
    kinds = [q.FILL] + ([q.PAIR] if scope.service_ids else [])
    if _bounded(scope):
        bins = _period_bins(scope, totals, fills, kinds)
    values = _middles(scope, bins, kinds)
    tally.set_medians(values.get(q.PAIR, {}), "sooner_median")
    tally.set_medians(values.get(q.FILL, {}), "fill_median_minutes")


def _bounded(scope: Scope) -> bool:
    return scope.lo is not None or scope.hi is not None


def _period(scope: Scope, tally: Tally) -> tuple[dict[int, Bins], dict[int, int], dict[int, int]]:
    """Counts, sums and the medians' bins in one statement (each arm grouped over its own
    index range, the few rows left summed here); returns the bins of all time per kind, the
    number of median values in the period per kind and of all time per kind. A bounded
    period gets no bins of all time, only their totals: _period_bins counts its own from the
    all-time rows in SQL, and the thousands of rows (5,300 at 1,000,000 entries, 12 ms of
    SQLite's 16 for the statement) were handed to Python for nothing but their sum."""
    sql = _Sql()
    facts = [q.OFFER, q.OPENING]
    bin_facts = [q.FILL_BIN]
    if scope.service_ids:
        facts = [q.ENTRY, q.BOOKED, *facts] if scope.provider is None else [q.BOOKED, *facts]
        bin_facts.append(q.SOONER_BIN)
    columns = ("n", "n1", "s1", "n2", "s2")
    sums = ", ".join(f"SUM({c}) AS {c}" for c in columns)
    keys = "service_id, provider_id, status"
    arms = [
        f"SELECT fact, {keys}, {sign} AS sg, {sums} FROM stats_count WHERE {cond} AND "
        f"{_filters(scope, sql, fact)} GROUP BY fact, {keys}"
        for fact in facts
        for cond, sign in _span(scope.lo, scope.hi)
    ]
    # The arms' signed rows summed by the server (a few hundred), ids as text: the sums and
    # a uuid.UUID per id cost more in Python (60-90 ms at 1,000,000 entries on PostgreSQL)
    # than the statement itself.
    ids = f"{_text('service_id')}, {_text('provider_id')}"
    signed = ", ".join(f"CAST(SUM(sg * {c}) AS BIGINT)" for c in columns)
    parts = [
        f"SELECT fact, {ids}, status, 0 AS b, {signed} FROM ({' UNION ALL '.join(arms)}) a "
        "GROUP BY fact, service_id, provider_id, status"
    ]
    # The bins of all time, thousands of rows, each its own key already: as they are.
    # Grouped in the key's order (lvl, fact, t, ..., service, provider, status): PostgreSQL
    # then aggregates the index's rows as they come instead of sorting them first (15 does
    # not reorder GROUP BY keys itself): 2.6 -> 0.9 ms an arm at 100,000 entries.
    totals = ", ".join(f"CAST(SUM({c}) AS BIGINT)" for c in columns)
    if _bounded(scope):  # one row per fact: the number of values of all time
        parts += [
            f"SELECT fact, NULL, NULL, '', -1 AS b, {totals} FROM stats_count WHERE lvl = 2 "
            f"AND {_filters(scope, sql, fact)} GROUP BY fact"
            for fact in bin_facts
        ]
    else:
        parts += [
            f"SELECT fact, {ids}, status, t AS b, {totals} FROM stats_count WHERE lvl = 2 AND "
            f"{_filters(scope, sql, fact)} GROUP BY fact, t, {keys}"
            for fact in bin_facts
        ]
    text = " UNION ALL ".join(parts)
    per_day = rollups.ticks_per_day()
    bins: dict[int, Bins] = {q.PAIR: {}, q.FILL: {}}
    fills = {q.PAIR: 0, q.FILL: 0}
    values = {q.PAIR: 0, q.FILL: 0}
    for fact, raw_service, raw_provider, status, b, n, n1, s1, n2, s2 in database.execute_sql(
        text, sql.params
    ):
        if not (n or n1 or s1 or n2 or s2):
            continue
        if fact in (q.SOONER_BIN, q.FILL_BIN):  # many rows: ids left as stored (see _middles)
            kind = q.PAIR if fact == q.SOONER_BIN else q.FILL
            if b == -1:  # a bounded period's total of all time
                values[kind] = int(n)
            else:
                bins[kind][(raw_service, raw_provider, int(b))] = n
            continue
        service, provider = _key(raw_service), _key(raw_provider)
        if fact == q.ENTRY:
            tally.add_entries(service, status, n)
        elif fact == q.BOOKED:
            tally.add_booked(service, provider, n, n1, s1 / per_day, n2, s2 / per_day)
            fills[q.PAIR] += n2
        elif fact == q.OFFER:
            tally.add_offers(service, provider, status, n)
        elif fact == q.OPENING:
            tally.add_openings(service, provider, status, n)
            fills[q.FILL] += n1
    return bins, fills, values


def _weekly(scope: Scope, tally: Tally) -> None:
    """Entries added, booked and fills per clinic week: day rows, and the 15-minute rows of
    each bound's day before the bound (P(b) = everything before b; a week is P(next) - P(b))."""
    bounds = scope.week_bounds
    days = [rollups.day_id(b) for b in bounds]
    fines = [rollups.fine_id(b) for b in bounds]
    series: dict[int, list[int]] = {q.FILLED_AT: tally.filled}
    if scope.service_ids:
        added = q.ENTRY if scope.provider is None else q.BOOKED
        series |= {added: tally.added, q.BOOKED_AT: tally.booked}
    spans = [f"lvl = 1 AND t >= {days[0]} AND t < {days[-1]}"]
    for day, fine in zip(days, fines, strict=True):
        if fine > day * 96:  # a bound past UTC midnight: its day's rows before it
            spans.append(f"lvl = 0 AND t >= {day * 96} AND t < {fine}")
    sql, arms = _Sql(), []
    for fact in series:
        for span in spans:
            if fact == q.ENTRY:  # entries added: the clinic's entries, whatever their service
                clause = f"fact = {fact} AND clinic_id = {sql.p(scope.clinic.id)}"
            else:
                clause = _filters(scope, sql, fact)
            arms.append(f"SELECT fact, lvl, t, n FROM stats_count WHERE {span} AND {clause}")
    text = f"SELECT fact, lvl, t, SUM(n) FROM ({' UNION ALL '.join(arms)}) x GROUP BY fact, lvl, t"
    weeks = len(bounds) - 1
    for fact, lvl, t, n in database.execute_sql(text, sql.params):
        counts, n, t = series[fact], int(n), int(t)
        if lvl == 1:
            week = next(i for i in range(weeks) if days[i] <= t < days[i + 1])
            counts[week] += n
            continue
        for i in range(len(bounds)):
            if days[i] * 96 <= t < fines[i]:  # before bound i: in week i - 1, not in week i
                if i > 0:
                    counts[i - 1] += n
                if i < weeks:
                    counts[i] -= n


def _point_filters(scope: Scope, sql: _Sql, kind: int) -> str:
    found = f"kind = {kind} AND clinic_id = {sql.p(scope.clinic.id)} AND bin IS NOT NULL"
    if scope.provider is not None:
        found += f" AND provider_id = {sql.p(scope.provider.id)}"
    return found


def _in_period(scope: Scope, sql: _Sql) -> str:
    conds = []
    if scope.lo is not None:
        conds.append(f"created_at >= {sql.p(scope.lo)}")
    if scope.hi is not None:
        conds.append(f"created_at < {sql.p(scope.hi)}")
    return " AND ".join(conds)


def _period_bins(
    scope: Scope, totals: dict[int, int], fills: dict[int, int], kinds: list[int]
) -> dict[int, Bins]:
    """Bins of the period's values: counted over the period's points, or all time less the
    points outside the period, whichever reads fewer points. Counted per bin the all-time
    rows (lvl 2) name, each one range of stats_point_key: grouping the points of a time range
    instead made SQLite sort them all (30 days at 1,000,000 entries: 330 ms, now 30 ms).
    The subtraction is made in SQL, from the all-time rows the probes are keyed by, and only
    the bins with values come back: a 30-day period at 1,000,000 entries has values in 2,600
    of the 5,300 bins of all time, and a row handed to Python costs more than dropping its
    zero in SQL."""
    found: dict[int, Bins] = {kind: {} for kind in kinds}
    sql, arms = _Sql(), []
    for kind in kinds:
        if not fills[kind]:
            continue
        inside = fills[kind] <= totals[kind] - fills[kind]
        fact = q.SOONER_BIN if kind == q.PAIR else q.FILL_BIN
        if inside and is_postgres():
            arms.append(_grouped_in_period(scope, sql, kind, fact))
            continue
        # Outside the period: before it and after it, each one range of the index.
        ends = [("created_at < ", scope.lo), ("created_at >= ", scope.hi)]
        probes = []
        for end in [None] if inside else [e for e in ends if e[1] is not None]:
            # Parameters in the order of the text: the spans, then the keys' filters.
            span = _in_period(scope, sql) if end is None else f"{end[0]}{sql.p(end[1])}"
            probes.append(
                f"(SELECT COUNT(*) FROM stats_point p{_indexed('stats_point_key')} WHERE "
                f"p.kind = {kind} AND p.clinic_id = c.clinic_id AND p.service_id = "
                "c.service_id AND p.provider_id = c.provider_id AND p.bin IS NOT NULL AND "
                f"p.bin = c.t AND {span})"
            )
        count = probes[0] if inside else " - ".join(["c.n", *probes])
        arms.append(
            f"SELECT {kind} AS kind, {_text('c.service_id')} AS s, {_text('c.provider_id')} "
            f"AS p, c.t AS b, {count} AS n FROM {_all_time_keys(scope, sql, fact)} c"
        )
    if not arms:
        return found
    # Fenced, or both backends push the filter down into the arms and count every key
    # twice, once for the filter and once for the row.
    fence = rollups.dialect().fence
    text = f"SELECT kind, s, p, b, n FROM ({' UNION ALL '.join(arms)}{fence}) x WHERE n <> 0"
    for kind, service, provider, b, n in database.execute_sql(text, sql.params):
        found[kind][(service, provider, int(b))] = int(n)
    return found


def _all_time_keys(scope: Scope, sql: _Sql, fact: int) -> str:
    """The bins of all time of `fact`, one row per (t, clinic, service, provider) with its n.
    PostgreSQL sums its appended rows into the compact one; SQLite adds in place (seq is
    always 0, and a bin's status always ''), so its rows are one per key already, and
    grouping them only sorted them again (SQLite does not see that the primary key's order
    is theirs): 3.5 ms of a 30-day period at 1,000,000 entries."""
    if is_postgres():
        return (
            "(SELECT t, clinic_id, service_id, provider_id, CAST(SUM(n) AS BIGINT) AS n FROM "
            f"stats_count WHERE lvl = 2 AND {_filters(scope, sql, fact)} GROUP BY t, "
            "clinic_id, service_id, provider_id)"
        )
    return (
        "(SELECT t, clinic_id, service_id, provider_id, n FROM stats_count WHERE lvl = 2 AND "
        f"{_filters(scope, sql, fact)})"
    )


def _grouped_in_period(scope: Scope, sql: _Sql, kind: int, fact: int) -> str:
    """PostgreSQL: the period's points of `kind` grouped per (service, provider, bin), read
    as one range of stats_point_period (schema v24, store/pg_indexes.py) and aggregated by
    hash, no sort; then only the keys the all-time rows (lvl 2) name, as the probes count
    them. One probe per bin of all time cost 40 ms at 100,000 entries (2,800 of them); the
    grouping is fenced (OFFSET 0) so that the planner, which guesses a few dozen such bins,
    does not turn it back into those probes."""
    clinic = sql.p(scope.clinic.id)  # parameters in the order of the text
    period = _in_period(scope, sql)
    return (
        f"SELECT {kind} AS kind, g.s::text AS s, g.p::text AS p, g.bin AS b, g.n FROM (SELECT "
        f"service_id AS s, provider_id AS p, bin, COUNT(*) AS n FROM stats_point WHERE kind = "
        f"{kind} AND clinic_id = {clinic} AND bin IS NOT NULL AND {period} GROUP BY service_id, "
        "provider_id, bin OFFSET 0) g WHERE (g.s, g.p, g.bin) IN (SELECT service_id, "
        f"provider_id, t FROM stats_count WHERE lvl = 2 AND {_filters(scope, sql, fact)})"
    )


def _middles(scope: Scope, bins: dict[int, Bins], kinds: list[int]) -> dict[int, dict[Key, float]]:
    """The medians per kind and scope key: find the bins of the middle positions, then read
    those values, all in one statement."""
    sql = _Sql()
    arms: list[str] = []
    wanted: list[tuple[int, Key]] = []
    # Bins come keyed by ids as the driver hands them back (hex or dashed text): map them
    # to the scope keys once, rather than parse an id per bin.
    scoped: dict[tuple[str, Any], Key] = {}
    for key in scope.keys:
        if key[0] != ALL:
            scoped[(key[0], key[1].hex)] = scoped[(key[0], str(key[1]))] = key
    for kind in kinds:
        # Per (service, provider) first, then each pair's bins added to its scopes at once:
        # a scope key holds a uuid.UUID, whose hash is Python code, once per bin otherwise.
        per_pair: dict[tuple[Any, Any], Counter[int]] = defaultdict(Counter)
        for (service, provider, b), n in bins[kind].items():
            if n:
                per_pair[(service, provider)][b] += n
        per_key: dict[Key, Counter[int]] = defaultdict(Counter)
        for (service, provider), pair_bins in per_pair.items():
            per_key[(ALL, None)].update(pair_bins)
            for owner in (scoped.get(("s", str(service))), scoped.get(("p", str(provider)))):
                if owner is not None:
                    per_key[owner].update(pair_bins)
        for key in scope.keys:
            per_bin = per_key.get(key, Counter())
            total = sum(per_bin.values())
            if not total:
                continue
            for position, take in _reads((total - 1) // 2, total // 2, sorted(per_bin.items())):
                b, offset = position
                cond = _point_filters(scope, sql, kind) + f" AND bin = {b}"
                if key[0] != ALL:
                    column = "service_id" if key[0] == "s" else "provider_id"
                    cond += f" AND {column} = {sql.p(key[1])}"
                period = _in_period(scope, sql)
                cond += f" AND {period}" if period else ""
                i = len(wanted)
                wanted.append((kind, key))
                arms.append(
                    f"SELECT {i} AS k, v FROM (SELECT v FROM stats_point"
                    f"{_indexed('stats_point_bin')} WHERE {cond} "
                    f"ORDER BY v LIMIT {take} OFFSET {offset}) m{i}"
                )
    found: dict[tuple[int, Key], list[float]] = defaultdict(list)
    if arms:
        for i, v in database.execute_sql(" UNION ALL ".join(arms), sql.params):
            found[wanted[int(i)]].append(float(v))
    medians: dict[int, dict[Key, float]] = defaultdict(dict)
    for (kind, key), values in found.items():
        values.sort()
        medians[kind][key] = _median(values)
    return medians


def _reads(
    first: int, last: int, per_bin: list[tuple[int, int]]
) -> list[tuple[tuple[int, int], int]]:
    """Where the middle positions first..last (0-based, 1 or 2 of them) lie: ((bin, offset in
    the bin), how many to read from there)."""
    found: list[tuple[tuple[int, int], int]] = []
    before = 0
    for b, n in per_bin:
        lo, hi = max(first, before), min(last, before + n - 1)
        if lo <= hi:
            found.append(((b, lo - before), hi - lo + 1))
        before += n
        if before > last:
            break
    return found


def _median(values: list[float]) -> float:
    """The middle value, or the two middle ones combined as each backend's raw query does:
    percentile_cont's interpolation on PostgreSQL, the mean of the two on SQLite."""
    if len(values) == 1:
        return values[0]
    lo, hi = values
    if is_postgres():
        return lo + 0.5 * (hi - lo)
    return sum(values) / len(values)
