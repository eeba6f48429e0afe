"""Compare settings on one drawn world: copy the clinic's database once (never writing the
live one), draw the world from that copy, then run each setting on its own copy of it and
read the figures with the dashboard's stats() (and stats.reach), so a simulated month is
counted exactly as a real one."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.catalog.tuning import Tuning, apply_tuning, current
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.stats import reach
from waitlist_tui.domain.stats.report import stats
from waitlist_tui.domain.store import backups
from waitlist_tui.domain.store.base import seeded_ids
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import (
    bind,
    database,
    is_postgres_url,
    make_database,
    sqlite_path_from,
)
from waitlist_tui.domain.store.schema import ensure_schema
from waitlist_tui.domain.whatif import behaviour
from waitlist_tui.domain.whatif.behaviour import Model
from waitlist_tui.domain.whatif.engine import DESK, Run, no_shows
from waitlist_tui.domain.whatif.world import World, draw_world

MAX_DAYS = 120
Progress = Callable[[int, float], None]  # (setting index, fraction done)


@dataclass(frozen=True)
class Outcome:
    """One setting's month, as the comparison table shows it."""

    name: str
    settings: dict[str, Any]
    openings: int
    filled: int
    filled_pct: float
    offers: int
    offers_per_fill: float | None
    acceptance_pct: float
    messages_sent: int
    median_fill_minutes: float
    days_sooner_median: float
    never_offered: int
    no_shows: int
    fairness_skips: int  # offers past a fitting waiting candidate (stats fairness)
    cancellations: int
    arrivals: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Comparison:
    world: World
    outcomes: tuple[Outcome, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"world": self.world.to_dict(), "settings": [o.to_dict() for o in self.outcomes]}


def copy_source(url: str, target: Path) -> None:
    """The live database copied into `target` (a SQLite file): SQLite through the backup API
    from a read-only connection, PostgreSQL table by table in one read-only snapshot."""
    if is_postgres_url(url):
        backups._postgres_as_sqlite(url, str(target))
        return
    path = Path(sqlite_path_from(url)).expanduser()
    if not path.is_file():
        raise ValidationError(f"{path}: no such database", field="db")
    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=wal")
        finally:
            dest.close()
    finally:
        source.close()


# The tables a simulated month writes to, and how few rows the copy's planner statistics may
# count in one of them before they are dropped (see _forget_tiny_statistics).
GROWING_TABLES = (
    "appointment",
    "audit_event",
    "client",
    "entry",
    "entry_provider",
    "inbound_message",
    "offer",
    "offer_ranking",
    "opening",
    "outbox_message",
)
TINY_STATISTICS = 100


def _forget_tiny_statistics(db: Any) -> None:
    """Planner statistics that call a table the month grows tiny are dropped on the copy, so
    SQLite plans it as a table of unknown size (by its indexes). A clinic whose audit trail
    was nearly empty at the copy (a new or demo clinic: 2 rows) has thousands of audit rows a
    week into the month, and with statistics of 2 rows SQLite scans them all for each lookup
    of an offer's hold (offer_time.hold_minutes: ~500 scans of up to 6,000 rows a month).
    Plans only, not results: the rows every query returns stay the same."""
    found = db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).fetchone()
    if found is None:
        return
    marks = ", ".join("?" * len(GROWING_TABLES))
    gone = db.execute_sql(
        f"DELETE FROM sqlite_stat1 WHERE tbl IN ({marks}) AND CAST(stat AS INTEGER) < ?",
        (*GROWING_TABLES, TINY_STATISTICS),
    ).rowcount
    if gone:
        db.execute_sql("ANALYZE sqlite_schema")  # the connection reads its statistics again


# A setting runs on a copy of the drawn world held in memory when the world's file is at most
# this big (a 2,000-entry clinic's is a few MB): its month's ~1,500 commits then write no file
# (about 4% of the month's CPU). A larger clinic's copy stays a file, whatever memory it has.
IN_MEMORY_MAX_BYTES = 256 * 1024 * 1024


def _in_memory(template: Path) -> Any:
    """A connection bound to a copy of `template` held in memory, its schema checked as
    connect() checks a file's."""
    db = bind(make_database(":memory:"))
    db.connect()
    source = sqlite3.connect(template)
    try:
        # An in-memory copy must have the page size of its source (the backup refuses
        # otherwise); it is still empty, so it still may be set.
        size = source.execute("PRAGMA page_size").fetchone()[0]
        db.execute_sql(f"PRAGMA page_size={int(size)}")
        source.backup(db.connection())
    finally:
        source.close()
    ensure_schema(db)
    db.execute_sql(f"PRAGMA optimize={0x10002}")  # as connect() does
    return db


@contextmanager
def _bound(path: Path, template: Path | None = None) -> Iterator[None]:
    """The models bound to the copy at `path` for the block, then to what they were. With
    `template`, the copy is made of it here: in memory when it is small enough (`path` is
    not written then), else at `path`."""
    before = database.obj
    if template is not None and template.stat().st_size <= IN_MEMORY_MAX_BYTES:
        db = _in_memory(template)
    else:
        if template is not None:
            src, dst = sqlite3.connect(template), sqlite3.connect(path)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
        db = connect(str(path))
    # A scratch copy: a crash loses nothing worth a flush to disk.
    db.execute_sql("PRAGMA synchronous=OFF")
    db.execute_sql("PRAGMA journal_mode=MEMORY")
    # Only this connection uses the copy: it keeps the file's lock rather than taking and
    # dropping it (and checking the file for other writers) around each of a month's ~45,000
    # statements.
    db.execute_sql("PRAGMA locking_mode=EXCLUSIVE")
    _forget_tiny_statistics(db)
    try:
        yield
    finally:
        db.close()
        if before is not None:
            bind(before)


@contextmanager
def workspace() -> Iterator[Path]:
    """A private scratch directory, removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="waitlist-whatif-"))
    os.chmod(where, 0o700)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def default_start() -> dt.datetime:
    """The hour the simulation starts: the next whole hour (a run within the hour repeats,
    and every row of the copy was written before it)."""
    now = clock.now()
    hour = dt.datetime(now.year, now.month, now.day, now.hour, tzinfo=dt.UTC)
    return hour + dt.timedelta(hours=1)


def _outcome(tuning: Tuning, world: World, model: Model, run: Run) -> Outcome:
    clinic = get_clinic()
    zone = ZoneInfo(clinic.time_zone)
    since = world.start.astimezone(zone).date()
    until = (world.end - dt.timedelta(seconds=1)).astimezone(zone).date()
    figures = stats(clinic, since=since, until=until).overall.to_dict()
    opens, offers = figures["openings"], figures["offers"]
    filled = int(opens["filled"])
    return Outcome(
        name=tuning.name,
        settings=current(clinic),
        openings=int(opens["total"]),
        filled=filled,
        filled_pct=float(opens["fill_rate"]),
        offers=int(offers["sent"]),
        offers_per_fill=round(offers["sent"] / filled, 2) if filled else None,
        acceptance_pct=float(offers["acceptance_rate"]),
        messages_sent=reach.messages_sent(clinic, world.start, world.end),
        median_fill_minutes=float(opens["median_fill_minutes"]),
        days_sooner_median=float(figures["days_sooner"]["median"]),
        never_offered=reach.never_offered(clinic, world.start, world.end),
        no_shows=no_shows(model, world.seed, world.start),
        fairness_skips=fairness_skips(clinic, since, until),
        cancellations=run.tally.cancellations,
        arrivals=run.tally.arrivals,
    )


def fairness_skips(clinic: Any, since: dt.date, until: dt.date) -> int:
    """Offers that went past a waiting candidate who fitted, over the simulated days: the
    count `stats fairness` and the dashboard's fairness panel give (one implementation)."""
    from waitlist_tui.domain.stats.fairness import fairness_report

    report = fairness_report(clinic, since.isoformat(), until.isoformat())
    return int(report["passed_over_count"])


def _step_progress(progress: Progress | None, i: int) -> Callable[[float], None] | None:
    if progress is None:
        return None
    report = progress
    return lambda fraction: report(i, fraction)


def _run_setting(
    template: Path,
    copy: Path,
    i: int,
    tuning: Tuning,
    world: World,
    model: Model,
    seed: int,
    progress: Callable[[float], None] | None,
) -> Outcome:
    """One setting's month on its own copy of the drawn world's database (removed after)."""
    try:
        with _bound(copy, template):
            token = seeded_ids.set(random.Random(f"{seed}:ids"))
            try:
                with clock.simulated(world.start):
                    apply_tuning(tuning, DESK)
                run = Run(world, model, progress)
                run.run()
                with clock.simulated(world.end):
                    return _outcome(tuning, world, model, run)
            finally:
                seeded_ids.reset(token)
    finally:
        copy.unlink(missing_ok=True)


# A worker process's channel for progress back to the comparing process (set at its start).
_worker_queue: Any = None


def _worker_init(queue: Any) -> None:
    global _worker_queue
    _worker_queue = queue


def _worker_progress(i: int) -> Callable[[float], None]:
    """Progress of setting i sent to the parent, at most once per percent (a month has
    thousands of steps)."""
    last = [-1]

    def report(fraction: float) -> None:
        pct = int(fraction * 100)
        if pct != last[0] and _worker_queue is not None:
            last[0] = pct
            _worker_queue.put((i, fraction))

    return report


def _worker_run(
    template: Path, copy: Path, i: int, tuning: Tuning, world: World, model: Model, seed: int
) -> Outcome:
    return _run_setting(template, copy, i, tuning, world, model, seed, _worker_progress(i))


def workers_for(settings: int) -> int:
    """How many processes run the settings: one per setting, at most one per core."""
    return max(1, min(settings, os.cpu_count() or 1))


def _in_parallel(
    where: Path,
    tunings: list[Tuning],
    world: World,
    model: Model,
    seed: int,
    workers: int,
    progress: Progress | None,
) -> list[Outcome]:
    """Each setting in a worker process of its own (spawned: nothing of this process's
    connections or threads is inherited), each on its own copy; the outcomes in the
    settings' order, exactly as one process running them in turn gives them."""
    template = where / "world.db"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with ProcessPoolExecutor(workers, context, _worker_init, (queue,)) as pool:
        futures = [
            pool.submit(_worker_run, template, where / f"run{i}.db", i, t, world, model, seed)
            for i, t in enumerate(tunings)
        ]
        pending = set(futures)
        reported: set[int] = set()
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(queue, progress)
            for i, future in enumerate(futures):
                if future in done and progress and i not in reported:
                    reported.add(i)
                    progress(i, 1.0)
        _drain(queue, None)
        return [f.result() for f in futures]


def _drain(queue: Any, progress: Progress | None) -> None:
    while True:
        try:
            i, fraction = queue.get_nowait()
        except Empty:
            return
        if progress:
            progress(i, fraction)


def compare(
    source_url: str,
    tunings: list[Tuning],
    *,
    seed: int = 1,
    days: int = 30,
    model: Model | None = None,
    start: dt.datetime | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Comparison:
    """Run each tuning for `days` on the same world drawn from a copy of `source_url`.
    Several tunings run side by side in `workers` processes (default: one per core)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must be 1-{MAX_DAYS}", field="days")
    if not tunings:
        tunings = [Tuning("current")]
    model = model or behaviour.load()
    start = start or default_start()
    workers = workers_for(len(tunings)) if workers is None else max(1, workers)
    with workspace() as where:
        template = where / "world.db"
        copy_source(source_url, template)
        with _bound(template):
            world = draw_world(model, seed, start, days)
        if workers > 1 and len(tunings) > 1:
            outcomes = _in_parallel(where, tunings, world, model, seed, workers, progress)
            return Comparison(world, tuple(outcomes))
        outcomes = []
        for i, tuning in enumerate(tunings):
            copy = where / f"run{i}.db"
            step = _step_progress(progress, i)
            outcomes.append(_run_setting(template, copy, i, tuning, world, model, seed, step))
            if progress:
                progress(i, 1.0)
    return Comparison(world, tuple(outcomes))
