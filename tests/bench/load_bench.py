"""Many desks at once: N desk processes on one database for a while, then the figures.

Each desk is a process of its own with its own connection, doing a receptionist's mix of the
domain services the screens call (search, open an opening, add an entry, offer, accept,
decline) as fast as it can for --seconds. At the end: operations per second, p50/p95/p99
latency per kind, refusals per kind (a domain answer such as "opening already filled" when two
desks record replies for one opening: the desk's normal work, counted, not an error), errors
(anything else: "database is locked", a deadlock, a lost connection; none allowed, exit 1), and
the invariants of tests/concurrency/desks.py checked on the database left behind.

`--mix broadcast` is the issue's race instead: every desk opens slots and broadcasts each to the
top 3 (`offer_slot`, the opening in the offer's transaction), as fast as it can; the figure is
how many broadcasts were refused because another desk took their candidates.

The database is made for the run and dropped after it (--keep leaves it): a PostgreSQL URL's
database is created (dropped first if it exists), a SQLite path is a new file. It is seeded with
the demo clinic (`demo.build(entries=--entries)`), then every desk gets its own free hours
(no booked appointment, no open opening, in the next 4 weeks, any hour: openings may lie outside
the weekly hours) so that desks race for candidates and replies, not for the same times.

    python tests/bench/load_bench.py --db postgresql://postgres@127.0.0.1:5432/loadbench \
        --desks 20 --seconds 60
    python tests/bench/load_bench.py --db /tmp/loadbench.db --desks 4 --seconds 60
    python tests/bench/load_bench.py --db postgresql://postgres@127.0.0.1:5432/loadbench \
        --desks 8 --seconds 20 --mix broadcast
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIX = {"search": 40, "open": 10, "add": 15, "offer": 15, "accept": 10, "decline": 10}
SLOT_MINUTES = 60
DAYS = 27
SEARCHES = 40  # last names and phone endings each desk searches for


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def is_pg(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


# --- the database for the run ------------------------------------------------------------------


def _admin(url: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    conn.autocommit = True
    return conn


def create_database(url: str) -> None:
    if not is_pg(url):
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return
    name = urlparse(url).path.lstrip("/")
    conn = _admin(url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def drop_database(url: str) -> None:
    if not is_pg(url):
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)
        return
    name = urlparse(url).path.lstrip("/")
    conn = _admin(url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def seed(url: str, entries: int) -> dict[str, int]:
    from waitlist_tui.demo import build as demo
    from waitlist_tui.domain.store.connect import connect

    db = connect(url)
    counts = demo.build(entries=entries, seed=7)
    db.close()
    return counts


def free_slots(url: str, desks: int) -> list[list[tuple[str, str]]]:
    """Each desk's own free hours, as (provider id, ISO start) in time order: no booked
    appointment and no open opening overlaps them, and no two desks share one."""
    from waitlist_tui.domain import clock, vocab
    from waitlist_tui.domain.store.connect import connect
    from waitlist_tui.domain.store.models import Appointment, Opening, Provider

    db = connect(url)
    step = dt.timedelta(minutes=SLOT_MINUTES)
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    first, last = today + dt.timedelta(days=2), today + dt.timedelta(days=2 + DAYS)
    busy: dict[Any, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for model, status in ((Appointment, vocab.APPT_BOOKED), (Opening, vocab.OPENING_OPEN)):
        rows = (
            model.select(model.provider, model.starts_at, model.ends_at)
            .where(model.status == status, model.ends_at > first, model.starts_at < last)
            .tuples()
        )
        for provider, starts, ends in rows:
            busy[provider].append((starts, ends))
    slots = []
    for (provider,) in Provider.select(Provider.id).order_by(Provider.code).tuples():
        start = first
        while start < last:
            end = start + step
            if not any(s < end and e > start for s, e in busy[provider]):
                slots.append((start, str(provider)))
            start = end
    db.close()
    slots.sort()
    return [[(p, s.isoformat()) for s, p in slots[d::desks]] for d in range(desks)]


# --- one desk ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


class Desk:
    """One receptionist: the operations of the mix, each one domain call (one transaction)."""

    def __init__(self, number: int, slots: list[tuple[str, str]], rng: random.Random) -> None:
        from waitlist_tui.domain.catalog.clinics import get_clinic
        from waitlist_tui.domain.store.models import Client, Service

        self.number = number
        self.actor = f"desk{number}"
        self.rng = rng
        self.slots = slots
        self.clinic = get_clinic()
        self.services = [s.code for s in Service.select().where(Service.kind == "appointment")]
        names = [c.last_name for c in Client.select(Client.last_name).limit(400)]
        phones = [c.phone[-4:] for c in Client.select(Client.phone).limit(400) if c.phone]
        self.texts = rng.sample(names, min(len(names), SEARCHES // 2)) + rng.sample(
            phones, min(len(phones), SEARCHES // 2)
        )
        self.opened: list[str] = []  # openings this desk opened and has not offered yet
        self.left_open: list[str] = []
        self.added = 0

    def next_slot(self) -> Any:
        from waitlist_tui.domain.fill.slot import Slot

        if not self.slots:
            return None
        provider, start = self.slots.pop(0)
        starts = dt.datetime.fromisoformat(start)
        return Slot(provider, starts, starts + dt.timedelta(minutes=SLOT_MINUTES))

    def search(self) -> str:
        from waitlist_tui.domain.waitlist.listing import EntryQuery, list_entries

        list_entries(EntryQuery(search=self.rng.choice(self.texts), count_cap=1000), self.clinic)
        return "ok"

    def open(self) -> str:
        from waitlist_tui.domain.fill.openings import open_slot

        slot = self.next_slot()
        if slot is None:
            return "no slot left"
        self.opened.append(str(open_slot(slot, self.actor, self.clinic).id))
        return "ok"

    def add(self) -> str:
        from waitlist_tui.domain import clock
        from waitlist_tui.domain.waitlist import adding

        self.added += 1
        today = clock.today(self.clinic.time_zone)
        payload = {
            "client": {
                "first_name": f"Load{self.number}",
                "last_name": f"Desk{self.added}",
                "phone": f"617-{200 + self.number}-{self.added % 10000:04d}",
            },
            "service": self.rng.choice(self.services),
            "date_range_start": (today + dt.timedelta(days=1)).isoformat(),
            "date_range_end": (today + dt.timedelta(days=29)).isoformat(),
            "payment_type": "SELF_PAY",
        }
        adding.create(payload, self.actor)
        return "ok"

    def offer(self) -> str:
        """Broadcast an opening this desk opened earlier, else a new slot (opened in the
        offer's transaction), to the top 3."""
        from waitlist_tui.domain.fill.slot_offers import offer_slot

        target: Any = self.opened.pop(0) if self.opened else self.next_slot()
        if target is None:
            return "no slot left"
        try:
            offer_slot(target, self.actor, workflow="BROADCAST", top=3)
        except Exception:
            if isinstance(target, str):
                self.left_open.append(target)  # opened by the desk: stays open, on purpose
            raise
        return "ok"

    def _live_offer(self) -> Any:
        """One of the 30 newest live offers the desks sent (any desk's: two desks may record
        replies for one opening at once). The demo's own offers are left alone: some of its
        cancellation openings overlap a booking made after them, which an accept would
        double-book whatever the desks do."""
        from waitlist_tui.domain import vocab
        from waitlist_tui.domain.store.models import Offer

        recent = [
            o
            for (o,) in Offer.select(Offer.id)
            .where(Offer.status == vocab.OFFER_SENT, Offer.created_by.startswith("desk"))
            .order_by(Offer.sent_at.desc())
            .limit(30)
            .tuples()
        ]
        return self.rng.choice(recent) if recent else None

    def accept(self) -> str:
        from waitlist_tui.domain.fill.offer_replies import accept

        chosen = self._live_offer()
        if chosen is None:
            return "no live offer"
        accept(chosen, self.actor)
        return "ok"

    def decline(self) -> str:
        from waitlist_tui.domain.fill.offer_replies import decline

        chosen = self._live_offer()
        if chosen is None:
            return "no live offer"
        decline(chosen, self.actor, "load bench")
        return "ok"

    def broadcast(self) -> str:
        from waitlist_tui.domain.fill.slot_offers import offer_slot

        slot = self.next_slot()
        if slot is None:
            return "no slot left"
        offer_slot(slot, self.actor, workflow="BROADCAST", top=3)
        return "ok"


def run_desk(args: tuple[int, str, str, list[tuple[str, str]], float, Any, Any]) -> dict[str, Any]:
    """One desk process: connect, wait for the others, then work until the shared deadline."""
    number, url, mix, slots, seconds, barrier, seed_value = args
    from waitlist_tui.domain.errors import Conflict, DomainError
    from waitlist_tui.domain.store.connect import connect

    db = connect(url)
    desk = Desk(number, slots, random.Random(seed_value + number))
    kinds = ["broadcast"] if mix == "broadcast" else list(MIX)
    weights = [1] if mix == "broadcast" else list(MIX.values())
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    barrier.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = desk.rng.choices(kinds, weights)[0]
        began = time.perf_counter()
        try:
            result = getattr(desk, kind)()
        except Conflict as err:
            result = f"4090 {err.message}"
        except DomainError as err:
            result = f"{err.code} {err.message}"
        except Exception as err:  # every other failure is the bench's error
            errors[f"{kind}: {type(err).__name__}: {str(err).splitlines()[0][:160]}"] += 1
            if os.environ.get("LOAD_BENCH_TRACE"):
                traceback.print_exc()
            if db.in_transaction():  # pragma: no cover - atomic() rolls back on the way out
                db.rollback()
            continue
        latencies[kind].append((time.perf_counter() - began) * 1000)
        outcomes[kind][result] += 1
    db.close()
    return {
        "latencies": dict(latencies),
        "outcomes": {k: dict(v) for k, v in outcomes.items()},
        "errors": dict(errors),
        "left_open": desk.left_open + desk.opened,
        "actor": desk.actor,
    }


# --- the run -----------------------------------------------------------------------------------


def sample_waits(url: str, pending: Any) -> dict[str, float]:
    """PostgreSQL: what the run's sessions were doing, sampled every 0.2 s while the desks run
    (pg_stat_activity, from the start of the run): the share of samples active on CPU, waiting for a lock (and which kind),
    idle in a transaction (the desk's Python between statements), or idle."""
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    conn = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    conn.autocommit = True
    seen: Counter[str] = Counter()
    with conn.cursor() as cur:
        while not pending.ready():
            cur.execute(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                (name,),
            )
            for state, kind, event in cur.fetchall():
                if state == "active":
                    seen[f"waiting {kind}:{event}" if kind else "active"] += 1
                else:
                    seen[state or "unknown"] += 1
            pending.wait(0.2)
    conn.close()
    total = sum(seen.values()) or 1
    return {k: round(v / total, 3) for k, v in seen.most_common()}


def report(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    for r in results:
        for kind, values in r["latencies"].items():
            latencies[kind].extend(values)
        for kind, counts in r["outcomes"].items():
            outcomes[kind].update(counts)
        errors.update(r["errors"])
    kinds = {}
    for kind, values in sorted(latencies.items()):
        done = outcomes[kind]
        refused = {k: v for k, v in done.items() if k != "ok"}
        kinds[kind] = {
            "ops": len(values),
            "ops_per_s": round(len(values) / seconds, 1),
            "ok": done.get("ok", 0),
            "p50_ms": percentile(values, 0.50),
            "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99),
            "refused": dict(sorted(refused.items(), key=lambda kv: -kv[1])),
        }
    total = sum(len(v) for v in latencies.values())
    return {
        "ops": total,
        "ops_per_s": round(total / seconds, 1),
        "kinds": kinds,
        "errors": dict(errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL or a SQLite file path")
    parser.add_argument("--desks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--entries", type=int, default=5000, help="demo entries to seed")
    parser.add_argument("--mix", choices=["receptionist", "broadcast"], default="receptionist")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the database after the run")
    opts = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.dont_write_bytecode = True

    from tests.concurrency.desks import invariants
    from waitlist_tui.domain.store.connect import connect

    url = opts.db
    create_database(url)
    try:
        began = time.perf_counter()
        counts = seed(url, opts.entries)
        log(
            f"seeded {counts.get('entry', opts.entries)} entries in {time.perf_counter() - began:.1f} s"
        )
        before = []
        db = connect(url)
        before = invariants()
        db.close()
        slots = free_slots(url, opts.desks)
        log(f"{opts.desks} desks, {len(slots[0])} free hours each; running {opts.seconds:g} s")
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(opts.desks + 1)  # the desks, and this process
            jobs = [
                (d, url, opts.mix, slots[d], opts.seconds, barrier, opts.seed)
                for d in range(opts.desks)
            ]
            with ctx.Pool(opts.desks) as pool:
                pending = pool.map_async(run_desk, jobs)
                barrier.wait()  # every desk connected and ready: the run starts
                waits = sample_waits(url, pending) if is_pg(url) else {}
                results = pending.get()
        db = connect(url)
        left_open = {o for r in results for o in r["left_open"]}
        broken = [
            p for p in invariants([r["actor"] for r in results], left_open) if p not in before
        ]
        db.close()
    finally:
        if not opts.keep:
            drop_database(url)
    figures = report(results, opts.seconds)
    figures.update(
        {
            "backend": "postgresql" if is_pg(url) else "sqlite",
            "desks": opts.desks,
            "seconds": opts.seconds,
            "mix": opts.mix,
            "entries": opts.entries,
            "load": os.getloadavg(),
            "invariants_broken": broken,
            "pg_session_states": waits,
            "invariants_broken_before_run": before,
        }
    )
    print(json.dumps(figures, indent=2, default=str))
    return 1 if figures["errors"] or broken else 0


if __name__ == "__main__":
    sys.exit(main())
