"""Running the demo's generator in a second process, so that rows are generated on one core
while the database takes them in on the other (at a million entries each side is busy for
tens of seconds: one after the other, they add up).

The child is forked, so it starts with the generator already built (its clinic, services and
providers read in this process). It must never outlive this process nor share its database
connection: a child left running after its parent was killed kept the parent's PostgreSQL
socket open, so the server never saw the client go and its transaction (every table locked by
the demo's wipe) stayed open for good, with the killed command's stderr. So the first thing the
child does is ask the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), close its copy
of the pipe's reading end (its writes fail once the parent is gone: a second way out), and put
/dev/null over every socket it inherited, without a word on them (a driver closing "its"
connection would end the parent's session). Rows
travel as marshal bytes over a pipe: plain tuples of str, int, bool and None, which marshal
packs and unpacks several times faster than pickle. Where fork does not exist the work runs
in this process and the same chunks are handed over afterwards.
"""

from __future__ import annotations

import ctypes
import gc
import marshal
import multiprocessing as mp
import os
import queue
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

Emit = Callable[[str, list[tuple[Any, ...]]], None]
Work = Callable[[Emit], Any]
ROWS_DONE = ""  # the work emits it once after its last rows; its result follows
_FAILED = "!"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_AHEAD = 4  # chunks the generator may have made that the loader has not taken yet


def can_fork() -> bool:
    """fork is safe here (Linux); macOS only offers it with caveats, Windows not at all."""
    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


class Stream:
    """The chunks a work emits, in order (iterate), then its return value (result())."""

    def __init__(self, work: Work) -> None:
        self._proc: Any = None
        self._recv: Connection | None = None
        self._done: list[tuple[str, Any]] = []
        if can_fork():
            ctx = mp.get_context("fork")
            self._recv, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(
                target=_child, args=(work, send, self._recv, os.getpid()), daemon=True
            )
            self._proc.start()
            send.close()
        else:
            emitted: list[tuple[str, Any]] = []
            result = work(lambda table, rows: emitted.append((table, rows)))
            self._done = [*emitted, (ROWS_DONE, result)]

    def _next(self) -> tuple[str, Any]:
        if self._recv is None:
            return self._done.pop(0)
        try:
            table, data = marshal.loads(self._recv.recv_bytes())
        except EOFError:
            raise RuntimeError("the demo generator stopped without a word") from None
        if table == _FAILED:
            raise RuntimeError(f"the demo generator failed:\n{data}")
        return table, data

    def __iter__(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        while True:
            table, rows = self._next()
            if table == ROWS_DONE:
                return
            yield table, rows

    def result(self) -> Any:
        """The work's return value (waits for it); the child has exited once it is back."""
        table, value = self._next()
        if table != ROWS_DONE:
            raise RuntimeError(f"the demo generator sent {table} rows after its last")
        self.close()
        return value

    def close(self) -> None:
        """Stop the child if it still runs (after a failure on this side) and reap it."""
        if self._recv is not None:
            self._recv.close()
            self._recv = None
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join()
            self._proc = None


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux), and go now if the
    parent is already gone (it died before the request was made)."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _drop_inherited_sockets() -> None:
    """Point every socket descriptor inherited from the parent (its database connection) at
    /dev/null: the parent's session then ends when the parent does, and nothing this process
    does can reach it. dup2 keeps the numbers taken, so the driver objects still holding them
    write nowhere if they ever try; no driver call is made here (psycopg2's close() would send
    the server a goodbye on the parent's behalf)."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd <= 2 or fd == null:  # stdio stays: it is not the database
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
            except OSError:  # the listing's own descriptor, closed by now
                continue
    except OSError:  # no /proc: PR_SET_PDEATHSIG and the pipe still end this process
        pass
    finally:
        os.close(null)


def _child(work: Work, send: Connection, recv: Connection | None, parent: int) -> None:
    """In the forked process: run the work, streaming what it emits, then its result. A thread
    writes to the pipe, so the work does not wait for the other side to read: the generator
    runs up to _AHEAD chunks ahead while the database takes chunks in (and can build
    indexes meanwhile), and no further, or the chunks pile up in this process's memory."""
    _die_with(parent)
    if recv is not None:
        recv.close()  # only the parent reads: a write fails once it is gone
    _drop_inherited_sockets()
    gc.disable()  # a short-lived process making no cycles: passes over millions of rows are waste
    # Bounded: a generator faster than the loader once queued every chunk here (gigabytes at
    # a million entries); now it waits when this many are on their way.
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=_AHEAD)
    writer = threading.Thread(target=_write, args=(outbox, send), daemon=True)
    writer.start()
    try:
        result = work(lambda table, rows: outbox.put(marshal.dumps((table, rows))))
        outbox.put(marshal.dumps((ROWS_DONE, result)))
    except BaseException:  # reported to the parent, which raises it there
        outbox.put(marshal.dumps((_FAILED, traceback.format_exc())))
    finally:
        outbox.put(None)
        writer.join()
        send.close()


def _write(outbox: queue.Queue[bytes | None], send: Connection) -> None:
    """Send until the end marker. If the parent stopped listening (it failed and will say
    why, or it was killed) there is nobody to generate for: end the process at once."""
    try:
        while (message := outbox.get()) is not None:
            send.send_bytes(message)
    except OSError:
        os._exit(1)
