"""The clients' /join page under load: prints JSON figures on stdout (asserts nothing).

`--clients` concurrent clients (asyncio tasks, each a browser of its own: its own cookies
and phone) each send `--each` join forms (GET /join for the CSRF pair, then POST) to the
server (`make_app`, on a free port of 127.0.0.1) over a fresh database with the demo
clinic's set-up. The server trusts no X-Forwarded-For, so all come from one address: the
per-address limit is lifted and the per-phone limit (3 codes an hour) is the one that holds.

Figures: answers by status, requests taken (303) and refused (429), rows written (pending
entries, codes, code messages), lost (taken but no row) and duplicated (rows beyond those
taken), the run's wall time, the submissions' p50/p95 latency, and the load (`uptime`).

    python tests/bench/join_bench.py [--clients 20] [--each 10] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import clinic_without_feeds
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.session import close_database, connection, open_database
from waitlist_tui.domain.store.models import Entry, JoinCode, OutboxMessage
from waitlist_tui.domain.waitlist import self_join
from waitlist_tui.web.app import make_app
from waitlist_tui.web.settings import WebSettings


def form(n: int, token: str) -> list[tuple[str, str]]:
    today = clock.today("America/New_York")
    return [
        ("csrf", token),
        ("service", "PT-EVAL"),
        ("date_range_start", today.isoformat()),
        (
            "date_range_end",
            (today + dt.timedelta(days=20)).isoformat(),
        ),
        ("preferred_days", "MONDAY"),
        ("preferred_time_slots", "MORNING"),
        ("first_name", f"Load{n}"),
        ("last_name", "Client"),
        ("phone", f"(617) 555-{n:04d}"),
        ("email", f"load{n}@example.com"),
        ("consent_sms", "yes"),
    ]


async def run(url: str, clients: int, each: int) -> dict[str, object]:
    app = make_app(WebSettings(db_url=url, joins_per_ip=10**6))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    statuses: dict[int, int] = {}
    taken: list[str] = []
    latencies: list[float] = []
    problems: list[str] = []

    async def one(n: int) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            for _ in range(each):
                page = await browser.get(server.make_url("/join"))
                token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
                started = time.perf_counter()
                answer = await browser.post(
                    server.make_url("/join"), data=form(n, token), allow_redirects=False
                )
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if answer.status not in (303, 429) and not problems:
                    problems.append(await answer.text())
                if answer.status == 303:
                    taken.append(answer.headers["Location"].split("id=")[1])
                await answer.release()

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    wall = time.perf_counter() - started
    await server.close()
    with connection():
        pending = Entry.select().where(Entry.self_joined == True).count()  # noqa: E712
        codes = JoinCode.select().count()
        messages = OutboxMessage.select().where(OutboxMessage.kind == self_join.CODE_KIND).count()
    quantiles = statistics.quantiles(latencies, n=20)
    return {
        "clients": clients,
        "submissions": clients * each,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "taken": len(taken),
        "expected_taken": clients * min(each, self_join.CODES_PER_PHONE),
        "distinct_confirm_ids": len(set(taken)),
        "rows": {"pending_entries": pending, "codes": codes, "code_messages": messages},
        "lost": max(0, len(taken) - min(pending, codes, messages)),
        "duplicated": max(0, max(pending, codes, messages) - len(taken)),
        "wall_s": round(wall, 2),
        "submit_p50_ms": round(statistics.median(latencies), 1),
        "submit_p95_ms": round(quantiles[18], 1),
        "load": os.getloadavg()[0],
        "first_problem": re.findall(r'class="(?:error|message)"[^>]*>([^<]*)', problems[0])
        if problems
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--each", type=int, default=10)
    parser.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.db or str(Path(scratch) / "join.db")
        open_database(url)
        apply_setup(clinic_without_feeds(), "bench")
        close_database()
        report = asyncio.run(run(url, args.clients, args.each))
        report["db"] = "postgresql" if url.startswith("postgres") else "sqlite"
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
