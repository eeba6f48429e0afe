"""Backups and restores under faults, the CLI in processes of its own on both backends
(tests/concurrency/killing.py): a backup taken while 4 desks write restores (its copy holds
the waitlist's rules); SIGKILL during a backup and during a restore leaves the live database
as it was (or wholly restored) and no partial file under a backup's name; a full disk (a
file size limit, RLIMIT_FSIZE) gives a clear error and leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.concurrency import backup_faults, killing
from tests.concurrency.killing import Runner
from tests.conftest import drop_pg_database, make_pg_database
from waitlist_tui.domain.store import backups

pytestmark = pytest.mark.kill
ENTRIES = 4000


@pytest.fixture
def target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "data" / "w.db")
    return request.getfixturevalue("fresh_pg_url")


def _runner(url: str, tmp_path: Path, name: str = "work") -> Runner:
    return Runner(url, tmp_path / name)


def _export(runner: Runner) -> str:
    return runner.run("export", "--format", "json")


def _checked_folder(folder: Path) -> list[str]:
    """Every file under a backup's name verifies; the names of the backups."""
    names = [n for n in os.listdir(folder) if backups.NAME.match(n)] if folder.exists() else []
    for name in names:
        backups.verify(folder / name)  # raises on a partial or damaged file
    return sorted(names)


def _scratch(folder: Path) -> list[str]:
    return (
        sorted(n for n in os.listdir(folder) if n.endswith(".partial")) if folder.exists() else []
    )


def _other_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "restored" / "w.db")
    return request.getfixturevalue("fresh_pg_url")


def test_a_backup_taken_while_four_desks_write_restores(target, backend, tmp_path, request):
    runner = _runner(target, tmp_path)
    runner.run("demo", "--no-tui", "--entries", "1000", timeout=300)
    writers = []
    for seed in range(4):
        argv = [
            sys.executable,
            "-c",
            backup_faults.LAUNCH,
            str(runner.now().timestamp()),
            target,
            "8",
            str(seed + 1),
        ]
        writers.append(
            subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=runner._environ(),
                cwd=runner.workdir,
                text=True,
            )
        )
    folder = tmp_path / "bk"
    time.sleep(2.5)
    taken = []
    for _ in range(3):
        taken.append(json.loads(runner.run("backup", "--to", str(folder), "--json"))["data"])
        time.sleep(1.0)
    done = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        done.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(d["entries"] for d in done) > 20 and sum(d["booked"] for d in done) > 0, done
    restored = _other_target(backend, tmp_path, request)
    for report in taken:  # each one checked by the restore (invariants, rollups, integrity)
        out = json.loads(
            _runner(restored, tmp_path, "restorer").run(
                "restore", report["file"], "--to", restored, "--json"
            )
        )["data"]
        assert all(row["same"] for row in out["rows"]), out["rows"]
    entries = next(r for r in out["rows"] if r["table"] == "entry")["restored"]
    assert entries > 1000


@pytest.mark.parametrize("what", ["backup", "restore"])
def test_killed_at_random_leaves_the_live_database_and_no_partial_file(
    target, backend, tmp_path, what
):
    runner = _runner(target, tmp_path)
    runner.run("demo", "--no-tui", "--entries", str(ENTRIES), timeout=300)
    folder = tmp_path / "bk"
    first = json.loads(runner.run("backup", "--to", str(folder), "--json"))["data"]
    in_backup = _export(runner)
    if what == "restore":  # the live database moves on from the backup
        runner.run("demo", "--no-tui", "--entries", str(ENTRIES // 2), "--seed", "9", timeout=300)
    live = _export(runner)
    old = None
    if what == "restore":
        kept = tmp_path / f"kept{Path(first['file']).suffix}"
        os.rename(first["file"], kept)
        os.rename(first["checksum_file"], f"{kept}.sha256")
        old = str(kept)
    args = ["backup", "--to", str(folder)] if what == "backup" else ["restore", old]
    started = time.monotonic()
    if what == "backup":
        runner.run(*args)
    else:  # timed into a throwaway database of the same kind
        probe = str(tmp_path / "probe.db") if backend == "sqlite" else make_pg_database()
        runner.run("restore", old, "--to", probe)
        if backend == "postgres":
            drop_pg_database(probe)
    full = max(time.monotonic() - started, 0.5)
    states = set()
    mid = 0
    for i in range(6):
        killed = runner.kill_after(full * (0.2 + 0.13 * i), *args)
        left = killing.orphans(killed)
        killing.reap(left)
        assert not left
        if killing.is_pg(target):
            assert killing.sessions_gone(target) == []
        else:
            assert killing.rows(target, "PRAGMA integrity_check") == [("ok",)]
        _checked_folder(folder)
        mid += bool(_scratch(folder) or _restore_leftovers(target))
        now = _export(runner)
        if what == "backup":
            assert now == live, "a backup changed the live database"
        else:  # all or nothing: the database as it was, or wholly the backup's
            assert now in (live, in_backup), "a killed restore left a mixed database"
            states.add("restored" if now == in_backup else "as it was")
    # The next run sweeps what the killed ones left, and succeeds.
    if what == "backup":
        runner.run(*args)
        assert _scratch(folder) == []
    else:
        runner.run(*args)
        assert _restore_leftovers(target) == []
    if what == "restore":
        assert _export(runner) == in_backup
    print(f"{what}: {mid} of 6 kills landed mid-write {sorted(states)}; full run {full:.2f} s")


def _restore_leftovers(target: str) -> list[str]:
    """A killed restore's scratch copy (SQLite) or scratch database (a .pgdump's)."""
    if killing.is_pg(target):
        return [
            r[0]
            for r in killing.rows(
                target, "SELECT datname FROM pg_database WHERE datname LIKE 'waitlist_restore_%'"
            )
        ]
    return [n for n in os.listdir(Path(target).parent) if ".restore-" in n]


def _limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("fmt", ["db", "pgdump"])
def test_a_full_disk_gives_a_clear_error_and_nothing_half_written(target, backend, tmp_path, fmt):
    if fmt == "pgdump" and backend == "sqlite":
        pytest.skip("pg_dump backs up a server")
    runner = _runner(target, tmp_path)
    runner.run("demo", "--no-tui", "--entries", "2000", timeout=300)
    live = _export(runner)
    folder = tmp_path / "bk"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "waitlist_tui",
            "--db",
            target,
            "backup",
            "--to",
            str(folder),
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        env=runner._environ(),
        cwd=runner.workdir,
        preexec_fn=_limited(200_000),
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "disk is full" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(folder) == []
    assert _export(runner) == live
