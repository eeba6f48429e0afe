"""Killing the CLI with SIGKILL at random moments, and looking at what it left behind.

Each command runs as `python -m waitlist_tui ...` in a session of its own (start_new_session),
with its clock moved to the test's frozen instant plus the real time elapsed since the test
began (time-machine, ticking), so data built relative to the frozen time is due for it and
leases run out as they would. The set-up runs the same way, in a process of its own, so that
the code under test (this worktree's, or another checkout's for a before/after figure) also
writes the schema. The test process itself reads the results with plain sqlite3 / psycopg2:
no peewee binding and no session of its own that could be mistaken for a leftover one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
STAFF = "killer"
# The frozen instant of the suite (tests/conftest.FROZEN), as a plain datetime.
FROZEN = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)

# Run in the child: move the clock (ticking), then either the CLI or a set-up function here.
_LAUNCH = """
import runpy, sys, time_machine
time_machine.travel(float(sys.argv[1]), tick=True).start()
if sys.argv[2] == "cli":
    sys.argv = ["waitlist_tui", *sys.argv[3:]]
    runpy.run_module("waitlist_tui", run_name="__main__", alter_sys=True)
else:
    import json
    from tests.concurrency import killing
    print(json.dumps(getattr(killing, sys.argv[3])(*sys.argv[4:])))
"""


def is_pg(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@dataclass
class Runner:
    """Launches commands against one database with a clock that starts at FROZEN and moves
    on with real time; `code` picks the checkout whose waitlist_tui runs (default: this one)."""

    url: str
    workdir: Path
    code: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    skew: float = 0.0  # seconds added to every launch's clock (a cron run a minute later)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    def now(self) -> dt.datetime:
        return FROZEN + dt.timedelta(seconds=time.monotonic() - self.started + self.skew)

    def _environ(self) -> dict[str, str]:
        paths = [str(ROOT)]
        if self.code is not None:  # its waitlist_tui first, this worktree's tests after it
            shim = self.workdir / "code-shim"
            if not shim.exists():
                shim.mkdir(parents=True)
                (shim / "waitlist_tui").symlink_to(self.code / "waitlist_tui")
            paths.insert(0, str(shim))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths),
            "TMPDIR": str(self.tmpdir),
            "WAITLIST_STAFF": STAFF,
            "LANG": "C.UTF-8",
            **self.env,
        }
        env.pop("WAITLIST_DB", None)
        return env

    @property
    def tmpdir(self) -> Path:
        path = self.workdir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, *args: str, mode: str = "cli") -> subprocess.Popen:
        out = open(self.workdir / "last.out", "wb")  # noqa: SIM115 - the child keeps it
        err = open(self.workdir / "last.err", "wb")  # noqa: SIM115
        argv = [sys.executable, "-c", _LAUNCH, str(self.now().timestamp()), mode]
        if mode == "cli":
            argv += ["--db", self.url, *args]
        else:
            argv += list(args)
        try:
            return subprocess.Popen(
                argv,
                stdout=out,
                stderr=err,
                env=self._environ(),
                cwd=self.workdir,  # not a checkout: `python -c` puts the cwd first on the path
                start_new_session=True,
            )
        finally:
            out.close()
            err.close()

    def run(self, *args: str, mode: str = "cli", timeout: float = 120) -> str:
        """Run to the end; its stdout. Fails the caller on a non-zero exit or a hang."""
        proc = self.start(*args, mode=mode)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"{args} did not answer within {timeout} s") from None
        out = (self.workdir / "last.out").read_text()
        if code != 0:
            err = (self.workdir / "last.err").read_text()
            raise AssertionError(f"{args} exited {code}:\n{out}\n{err}")
        return out

    def setup(self, function: str, *args: Any) -> Any:
        """Call a set-up function of this module in a process running the chosen code."""
        return json.loads(self.run(function, self.url, *map(str, args), mode="py"))

    def kill_after(self, delay: float, *args: str) -> Killed:
        """Start the command, SIGKILL it after `delay` seconds (unless it ended first)."""
        proc = self.start(*args)
        try:
            code = proc.wait(timeout=delay)
            return Killed(proc.pid, False, code)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return Killed(proc.pid, True, -9)


@dataclass(frozen=True)
class Killed:
    pid: int  # also the id of its session: every process it started is in it
    killed: bool  # False: it had finished before the kill was due
    code: int


# --- what a dead process leaves behind --------------------------------------------------------


def _stat(pid: str) -> tuple[str, int, int] | None:
    """(state, parent pid, session id) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[3])


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes in session `sid`: what a killed command left running."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(name)
            if stat and stat[2] == sid and stat[0] != "Z":
                found.append(int(name))
    return found


def orphans(killed: Killed, wait: float = 3.0) -> list[int]:
    """Processes of the killed command's session still alive after `wait` seconds (a child
    that dies with its parent needs a moment to be told)."""
    deadline = time.monotonic() + wait
    while True:
        left = session_members(killed.pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def reap(pids: Sequence[int]) -> None:
    """SIGKILL leftover processes this test started (their session is the killed command's)."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- reading the database from the test process -------------------------------------------------


@contextmanager
def reader(url: str) -> Iterator[Any]:
    """A plain DB-API connection in autocommit; `?` placeholders are not used anywhere."""
    if is_pg(url):
        import psycopg2

        conn = psycopg2.connect(url, connect_timeout=5)
        conn.autocommit = True
    else:
        conn = sqlite3.connect(url, timeout=10, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def rows(url: str, sql: str) -> list[tuple]:
    with reader(url) as conn:
        cur = conn.cursor()
        if is_pg(url):
            cur.execute("SET statement_timeout = 10000")
        cur.execute(sql)
        return list(cur.fetchall())


def other_sessions(url: str) -> list[tuple]:
    """PostgreSQL sessions on this database other than the reader's own: (pid, state)."""
    name = urlparse(url).path.lstrip("/")
    return rows(
        url,
        "SELECT pid, state, now() - state_change FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )


def sessions_gone(url: str, wait: float = 5.0) -> list[tuple]:
    """Sessions a dead command still holds on the database after `wait` seconds; [] is
    right (its backend ends when its socket closes, so its locks go with it)."""
    deadline = time.monotonic() + wait
    while True:
        left = other_sessions(url)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def leftover_files(*folders: Path) -> list[str]:
    """Build and side files a dead build left: `.X.building`, `waitlist-side-*.db`."""
    found = []
    for folder in folders:
        if folder.exists():
            found += [
                p.name
                for p in folder.iterdir()
                if p.name.endswith(".building") or p.name.startswith("waitlist-side-")
            ]
    return sorted(found)


# --- set-ups, run in a process of their own (Runner.setup) -----------------------------------


def _open(url: str) -> None:
    from waitlist_tui.domain.assets import demo_clinic
    from waitlist_tui.domain.catalog.setup import apply_setup
    from waitlist_tui.domain.store.connect import connect

    connect(url)
    apply_setup(demo_clinic(), STAFF)


def setup_outbox(url: str, count: str) -> list[str]:
    """The demo clinic's set-up and `count` SMS messages due now to one consenting client."""
    import uuid

    from waitlist_tui.domain import clock
    from waitlist_tui.domain.store.db import database
    from waitlist_tui.domain.store.models import Client, Clinic, OutboxMessage

    _open(url)
    clinic = Clinic.get()
    now = clock.now()
    client = Client.create(
        clinic=clinic,
        first_name="Kim",
        last_name="Killtest",
        phone="+16175550142",
        email="kim@example.com",
        consent_sms=True,
        consent_email=True,
        created_at=now,
        updated_at=now,
        created_by=STAFF,
        updated_by=STAFF,
    )
    keys = [f"kill:{i:05d}:v1" for i in range(int(count))]
    with database.atomic():
        for start in range(0, len(keys), 200):
            OutboxMessage.insert_many(
                [
                    {
                        "id": uuid.uuid4(),
                        "clinic": clinic.id,
                        "client": client.id,
                        "kind": "offer",
                        "channel": "sms",
                        "recipient": client.phone,
                        "body": f"Message {key}",
                        "idempotency_key": key,
                        "status": "pending",
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                        "created_by": STAFF,
                    }
                    for key in keys[start : start + 200]
                ]
            ).execute()
    return keys


def setup_offers(url: str, count: str) -> list[str]:
    """`count` openings on Monday 2026-11-23 (KIM and LEE, an hour each), each offered to a
    waiting entry of its own; the offers' ids."""
    from waitlist_tui.domain.fill import offers
    from waitlist_tui.domain.fill.openings import add_opening
    from waitlist_tui.domain.waitlist import adding

    _open(url)
    ids = []
    hours = ["08:00", "09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]
    for i in range(int(count)):
        adding.create(
            {
                "client": {
                    "first_name": f"Ann{i}",
                    "last_name": "Killtest",
                    "phone": f"617-555-{100 + i:04d}",
                },
                "service": "PT-EVAL",
                "payment_type": "SELF_PAY",
                "date_range_start": "2026-11-23",
                "date_range_end": "2026-12-15",
            },
            STAFF,
        )
        opening = add_opening("KIM", f"2026-11-23T{hours[i % len(hours)]}", 60, STAFF)
        if i >= len(hours):
            raise ValueError("at most 8 openings")
        sent = offers.offer(opening.id, STAFF)
        ids.append(str(sent[0].id))
    return ids


def setup_import(url: str, count: str, path: str) -> int:
    """The set-up only, and a CSV of `count` valid waiting entries (the export's columns)."""
    import csv

    from waitlist_tui.domain.waitlist.exchange import CSV_COLUMNS

    _open(url)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i in range(int(count)):
            writer.writerow(
                {
                    "first_name": f"Imp{i}",
                    "last_name": "Killtest",
                    "phone": f"617-555-{i % 10000:04d}" if i < 10000 else "",
                    "email": f"imp{i}@example.com",
                    "service": "PT-EVAL",
                    "payment_type": "SELF_PAY",
                    "date_range_start": "2026-11-23",
                    "date_range_end": "2026-12-15",
                    "priority": str(1 + i % 5),
                }
            )
    return int(count)


def setup_schema(url: str) -> int:
    """An empty database with the current schema (what a demo build starts from)."""
    from waitlist_tui.domain.store.connect import connect

    connect(url)
    return 0


def tempdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# --- scenarios shared by the tests and the figures script ------------------------------------


@dataclass
class DeliveryRound:
    """One outbox emptied by delivery runs killed at random, then a run left to finish."""

    kills: int = 0
    orphans: int = 0
    twice: int = 0  # messages the gateway was asked to send more than once
    unrecorded: int = 0  # ... of which the outbox row does not show the repeat
    left_after_kill: int = 0  # due messages the very next run (no wait) did not send
    problems: list[str] = field(default_factory=list)


def outbox_rows(url: str) -> dict[str, tuple]:
    """key -> (status, attempts, interrupted or None (older schema), claim_token)."""
    cols = {
        name
        for (name,) in rows(
            url,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox_message'"
            if is_pg(url)
            else "SELECT name FROM pragma_table_info('outbox_message')",
        )
    }
    extra = "interrupted" if "interrupted" in cols else "NULL"
    found = rows(
        url,
        f"SELECT idempotency_key, status, attempts, {extra}, claim_token FROM outbox_message",
    )
    return {key: tuple(rest) for key, *rest in found}


def delivery_round(
    runner: Runner,
    gateway: Any,
    rng: Any,
    max_kills: int,
    low: float,
    high: float,
    lease: float,
) -> DeliveryRound:
    """Kill `outbox deliver` runs (after low..high s) until one finishes or `max_kills`;
    then run it to the end at once (PostgreSQL must hand a dead run's claims back at once)
    and, if some are left, once more after `lease` seconds (a SQLite lease runs out)."""
    result = DeliveryRound()
    deliver = ("outbox", "deliver", "--batch", "10", "--json")
    for _ in range(max_kills):
        killed = runner.kill_after(rng.uniform(low, high), *deliver)
        if not killed.killed:
            break
        result.kills += 1
        left = orphans(killed)
        result.orphans += bool(left)
        reap(left)
    runner.run(*deliver)
    result.left_after_kill = sum(1 for r in outbox_rows(runner.url).values() if r[0] != "sent")
    if result.left_after_kill:
        runner.skew += lease + 1
        runner.run(*deliver)
    from collections import Counter

    asked = Counter(gateway.requests)
    for key, (status, attempts, interrupted, token) in outbox_rows(runner.url).items():
        if status != "sent" or token is not None:
            result.problems.append(f"{key}: {status}, claim {token}")
        n = asked[key]
        if n == 0:
            result.problems.append(f"{key}: never reached the gateway")
        if n > 1:
            result.twice += 1
            if n > attempts or n - 1 > (interrupted or 0):
                result.unrecorded += 1
    return result
