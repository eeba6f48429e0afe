"""The demo's generating process: never holds its parent's database connection, never
outlives its parent (a child that did kept a killed build's PostgreSQL transaction open)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from waitlist_tui.demo.stream import ROWS_DONE, Stream, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="the generator only forks on Linux")


def _sockets_here(emit) -> list[int]:
    """The work: which descriptors above stdio are sockets in the generating process."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                found.append(int(name))
        except OSError:
            continue
    emit(ROWS_DONE, [])
    return found


def test_the_generator_holds_no_socket_of_its_parent_and_leaves_it_working() -> None:
    ours, theirs = socket.socketpair()  # stands for the parent's database connection
    try:
        stream = Stream(_sockets_here)
        assert list(stream) == []
        assert stream.result() == []
        ours.sendall(b"still mine")  # the child closed nothing on the parent's side
        assert theirs.recv(16) == b"still mine"
    finally:
        ours.close()
        theirs.close()


PARENT = """
import os, sys, time
from waitlist_tui.demo.stream import Stream

def work(emit):
    emit("client", [(os.getpid(),)])
    time.sleep(60)  # a long build

stream = Stream(work)
table, rows = next(iter(stream))
print(rows[0][0], flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def test_the_generator_dies_with_its_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        start_new_session=True,
    )
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child)
        assert parent.stdout.read() == b""  # EOF: no process keeps the output open
    finally:
        with suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
