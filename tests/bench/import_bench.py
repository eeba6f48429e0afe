"""Import benchmark for bench.py (issue 18): `waitlist-tui import` of N generated CSV rows into
a fresh database holding only the demo clinic's set-up.

- import_10k_s: 10,000 rows; import_<N>_s: --import-rows rows (default 100,000), in seconds;
- import_10k_rss_mb / import_<N>_rss_mb: the importing process's peak RSS (MiB).

The rows are what a clinic moving in from another system has: every row a new client (a
third without a phone, all with an email), half preferring a provider, a few hundred of them
the same person again. Each run is a child process of its own (so its peak RSS is the
import's), on a database made for it: a SQLite file in a temporary folder, or with
`--db postgresql://...` a database `<name>_import` next to the bench's, created and
dropped here. The time is import_file's alone (set-up and process start excluded).

    python tests/bench/bench.py --entries 0 --only import [--import-rows 100000] [--db URL]
    python tests/bench/import_bench.py --rows 1000000 [--db URL]   # one run, on its own
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROWS = 100_000  # bench.py's --import-rows
HEADER = (
    "first_name,last_name,phone,email,service,preferred_providers,preferred_days,"
    "preferred_time_slots,payment_type,priority,notes"
)


def write_rows(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            person = i if i % 97 else i // 2  # now and then someone already in the file
            service, provider = ("PT-EVAL", "KIM") if i % 2 else ("MASSAGE", "")
            phone = f"617-{200 + person // 10_000 % 800:03d}-{person % 10_000:04d}" if i % 3 else ""
            out.write(
                f"Client{person},Test{person // 10_000},{phone},c{person}@example.com,{service},"
                f"{provider},MONDAY WEDNESDAY,MORNING,SELF_PAY,{1 + i % 5},imported row {i}\n"
            )
    return path


def _fresh(url: str | None, folder: Path) -> tuple[str, Any]:
    """A new empty database's URL, and how to drop it."""
    if not url or not url.startswith("postgres"):
        path = folder / f"import-{time.monotonic_ns()}.db"
        return str(path), lambda: [p.unlink() for p in folder.glob(path.name + "*")]
    import psycopg2

    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_import"
    admin_url = urlunparse(parsed._replace(path="/postgres"))

    def admin(sql: str) -> None:
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    return urlunparse(parsed._replace(path=f"/{name}")), lambda: admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def run_once(csv_path: Path, url: str | None, folder: Path) -> tuple[float, float, dict[str, Any]]:
    """(seconds, peak RSS in MiB, the import's counts) of one import in a child process."""
    target, drop = _fresh(url, folder)
    try:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", str(csv_path), "--db", target],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"import bench: the child failed ({child.returncode})")
        result = json.loads(out)
        return result["seconds"], usage.ru_maxrss / 1024, result["counts"]
    finally:
        drop()


def child(csv_path: str, url: str) -> None:
    from waitlist_tui.domain.assets import demo_clinic
    from waitlist_tui.domain.catalog.setup import apply_setup
    from waitlist_tui.domain.store.connect import connect
    from waitlist_tui.domain.waitlist import exchange

    db = connect(url)
    apply_setup(demo_clinic(), "bench")
    start = time.perf_counter()
    result = exchange.import_file(csv_path, "bench")
    seconds = time.perf_counter() - start
    db.close()
    counts = {k: result[k] for k in ("added", "invalid", "rows")}
    print(json.dumps({"seconds": seconds, "counts": counts}))


def figures(sizes: list[int], runs: int, url: str | None) -> dict[str, Any]:
    from bench import log, stats  # type: ignore[import-not-found]

    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="waitlist-import-bench-") as tmp:
        folder = Path(tmp)
        for rows in sizes:
            name = f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)
            csv_path = write_rows(folder / f"rows-{rows}.csv", rows)
            times, peaks = [], []
            for _ in range(runs):
                seconds, peak, counts = run_once(csv_path, url, folder)
                assert counts["added"] == rows and counts["invalid"] == 0, counts
                times.append(seconds)
                peaks.append(peak)
                log(f"import {rows:,} rows: {seconds:.2f} s, peak RSS {peak:.0f} MiB")
            found[f"import_{name}_s"] = stats(times)
            found[f"import_{name}_rss_mb"] = stats(peaks)
    return found


def bench_import(bench: Any) -> dict[str, Any]:
    url = bench.path if str(bench.path).startswith("postgres") else None
    sizes = sorted({10_000, ROWS})
    return figures(sizes, min(bench.runs, 3), url)


IMPORT_BENCHMARKS = {"import": bench_import}


def main() -> None:
    parser = argparse.ArgumentParser(description="one import run (see the module's text)")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--db", help="postgresql://... (default: a SQLite file)")
    parser.add_argument("--child", metavar="CSV", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    print(json.dumps(figures([args.rows], args.runs, args.db), indent=2))


if __name__ == "__main__":
    main()
