"""Compare settings on one drawn world: copy the clinic's database once (never writing the
live one), draw the world from that copy, then run each setting on its own copy of it and
read the figures with the dashboard's stats() (and stats.reach), so a simulated month is
counted exactly as a real one."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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
from waitlist_tui.domain.store.db import bind, database, is_postgres_url, sqlite_path_from
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


@contextmanager
def _bound(path: Path) -> Iterator[None]:
    """The models bound to the copy at `path` for the block, then to what they were."""
    before = database.obj
    db = connect(str(path))
    # A scratch copy: a crash loses nothing worth a flush to disk.
    db.execute_sql("PRAGMA synchronous=OFF")
    db.execute_sql("PRAGMA journal_mode=MEMORY")
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


def compare(
    source_url: str,
    tunings: list[Tuning],
    *,
    seed: int = 1,
    days: int = 30,
    model: Model | None = None,
    start: dt.datetime | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Run each tuning for `days` on the same world drawn from a copy of `source_url`."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must be 1-{MAX_DAYS}", field="days")
    if not tunings:
        tunings = [Tuning("current")]
    model = model or behaviour.load()
    start = start or default_start()
    outcomes: list[Outcome] = []
    with workspace() as where:
        template = where / "world.db"
        copy_source(source_url, template)
        with _bound(template):
            world = draw_world(model, seed, start, days)
        for i, tuning in enumerate(tunings):
            copy = where / f"run{i}.db"
            with sqlite3.connect(template) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)
            with _bound(copy):
                token = seeded_ids.set(random.Random(f"{seed}:ids"))
                try:
                    with clock.simulated(start):
                        apply_tuning(tuning, DESK)
                    run = Run(world, model, _step_progress(progress, i))
                    run.run()
                    with clock.simulated(world.end):
                        outcomes.append(_outcome(tuning, world, model, run))
                finally:
                    seeded_ids.reset(token)
            copy.unlink()
            if progress:
                progress(i, 1.0)
    return Comparison(world, tuple(outcomes))
