"""Backup and restore of the bench's database (`--only backup restore`): a whole backup
(copy, fsync, checksum, rows counted) and a restore of it into a new SQLite file (copy,
integrity_check, invariants with the rollups compared to a rebuild, swap). Seconds-long
operations: one call per run; figures in ms, no targets."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from waitlist_tui.domain.store import backups


def _timed(op: Any, runs: int) -> dict[str, float]:
    import statistics

    figures = []
    for _ in range(runs):
        start = time.perf_counter()
        op()
        figures.append((time.perf_counter() - start) * 1000)
    return {
        "median": round(statistics.median(figures), 1),
        "min": round(min(figures), 1),
        "max": round(max(figures), 1),
    }


def bench_backup(bench: Any) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="waitlist-bench-backups-"))
    try:
        return {"backup_ms": _timed(lambda: backups.backup(bench.path, folder), bench.runs)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_restore(bench: Any) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="waitlist-bench-restore-"))
    try:
        file = backups.backup(bench.path, folder / "bk")["file"]
        n = iter(range(1000))

        def restore() -> None:
            backups.restore(file, str(folder / f"r{next(n)}.db"), "bench")

        figures = {"restore_ms": _timed(restore, max(1, min(bench.runs, 3)))}
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        from waitlist_tui.domain.store.connect import connect

        connect(bench.path)


BACKUP_BENCHMARKS = {"backup": bench_backup, "restore": bench_restore}
