"""Figures for crash safety: kill CLI commands at random moments and count what went wrong.

    python tests/concurrency/kill_figures.py [--code CHECKOUT] [--kills N] [--seed S]

`--code /work/main` measures another checkout's waitlist_tui (the set-up runs it too). Prints,
per backend: delivery kills, messages sent twice, how many of those the outbox does not show,
messages the next run left waiting (a dead run's claims), orphans; demo --reset kills, orphans,
sessions left on PostgreSQL, leftover build files. Not a test: a measurement.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.concurrency import killing
from tests.domain.outbox_helpers import Gateway, serve

PG = "postgresql://postgres@127.0.0.1:5432/test"


def pg_database() -> tuple[str, callable]:
    from tests.conftest import drop_pg_database, make_pg_database

    url = make_pg_database()
    return url, lambda: drop_pg_database(url)


def delivery(backend: str, code: Path | None, kills: int, seed: int, messages: int) -> None:
    rng = random.Random(seed)
    total = killing.DeliveryRound()
    rounds = 0
    started = time.monotonic()
    while total.kills < kills:
        work = killing.tempdir("kill-fig-")
        url, drop = pg_database() if backend == "postgres" else (str(work / "w.db"), None)
        gateway = Gateway()
        server, hook = serve(gateway)
        runner = killing.Runner(
            url,
            work,
            code=code,
            env={"WAITLIST_SMS_TRANSPORT": "webhook", "WAITLIST_WEBHOOK_URL": hook},
        )
        try:
            runner.setup("setup_outbox", messages)
            got = killing.delivery_round(
                runner, gateway, rng, kills - total.kills, 0.3, 1.7, lease=400
            )
        finally:
            server.shutdown()
            server.server_close()
            if drop:
                drop()
        rounds += 1
        for name in ("kills", "orphans", "twice", "unrecorded", "left_after_kill"):
            setattr(total, name, getattr(total, name) + getattr(got, name))
        total.problems += got.problems
    print(
        f"{backend} outbox deliver: {total.kills} kills over {rounds} rounds of {messages} "
        f"messages: sent twice {total.twice}, of them not shown in the outbox "
        f"{total.unrecorded}; left for a lease after the kill {total.left_after_kill}; "
        f"orphans {total.orphans}; problems {len(total.problems)} "
        f"({time.monotonic() - started:.0f} s)"
    )
    for problem in total.problems[:5]:
        print("   ", problem)


def demo(backend: str, code: Path | None, kills: int, seed: int, entries: int) -> None:
    rng = random.Random(seed)
    work = killing.tempdir("kill-fig-")
    url, drop = pg_database() if backend == "postgres" else (str(work / "d.db"), None)
    runner = killing.Runner(url, work, code=code)
    orphaned = sessions = files = slow = 0
    try:
        runner.run("demo", "--reset", "--no-tui", "--entries", "200")  # a desk's demo
        for _ in range(kills):
            killed = runner.kill_after(
                rng.uniform(0.3, 2.5), "demo", "--reset", "--no-tui", "--entries", str(entries)
            )
            left = killing.orphans(killed)
            orphaned += bool(left)
            if backend == "postgres":
                sessions += bool(killing.sessions_gone(url, wait=3))
            killing.reap(left)
            if backend == "postgres":
                killing.sessions_gone(url, wait=5)
            t = time.monotonic()
            try:
                runner.run("entries", "list", "--json", timeout=15)
            except AssertionError:
                slow += 1
            if time.monotonic() - t > 5:
                slow += 1
            files += bool(killing.leftover_files(work, runner.tmpdir))
        runner.run("demo", "--reset", "--no-tui", "--entries", "200")
        after = killing.leftover_files(work, runner.tmpdir)
    finally:
        if drop:
            drop()
    print(
        f"{backend} demo --reset --entries {entries}: {kills} kills: orphans {orphaned}, "
        f"killed run's sessions still there after 3 s {sessions}, next command slow or hung "
        f"{slow}, kills leaving build/side files {files}, files left after the next build "
        f"{after}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--demo-kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--messages", type=int, default=605)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", default="outbox,demo")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if "outbox" in args.only:
            delivery(backend, args.code, args.kills, args.seed, args.messages)
        if "demo" in args.only:
            demo(backend, args.code, args.demo_kills, args.seed, 20_000)


if __name__ == "__main__":
    main()
