"""Scratch files of builds (demo_file's `.X.building`, side_tables' side file): 0600, the
builder's pid in the name, swept by the next build only once their builder is gone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from waitlist_tui.domain.store import scratch_files


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_scratch_file_is_0600_and_named_after_its_builder(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        name = scratch_files.create(tmp_path, ".w.db.", ".building")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    assert Path(name).name.startswith(f".w.db.{os.getpid()}.")


def test_the_next_build_sweeps_only_files_of_dead_builders(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        dead = tmp_path / f".w.db.{dead_pid()}.abc123.building"
        for extra in ("", "-wal", "-shm"):
            Path(f"{dead}{extra}").write_bytes(b"client data")
        running = tmp_path / f".w.db.{live.pid}.def456.building"
        running.write_bytes(b"being built")
        old_style = tmp_path / ".w.db.k2j4h1x0.building"  # named before pids: an hour on
        old_style.write_bytes(b"x")
        fresh_old_style = tmp_path / ".w.db.q9w8e7r6.building"
        fresh_old_style.write_bytes(b"x")
        now = time.time()  # the test's clock, which --clock-at may move: files follow it
        os.utime(fresh_old_style, (now, now))
        hour_ago = now - 3700
        os.utime(old_style, (hour_ago, hour_ago))
        other = tmp_path / ".other.db.1.x.building"  # another database's
        other.write_bytes(b"x")
        mine = scratch_files.create(tmp_path, ".w.db.", ".building")
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted([other.name, running.name, fresh_old_style.name, Path(mine).name])
    finally:
        live.kill()
        live.wait()
