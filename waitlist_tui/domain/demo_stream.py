"""Running the demo's generator in a second process, so that rows are generated on one core
while the database takes them in on the other (at a million entries each side is busy for
tens of seconds: one after the other, they add up).

The child is forked, so it starts with the generator already built (its clinic, services and
providers read in this process) and never touches the database connection it inherits. Rows
travel as marshal bytes over a pipe: plain tuples of str, int, bool and None, which marshal
packs and unpacks several times faster than pickle. Where fork does not exist the work runs
in this process and the same chunks are handed over afterwards.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing as mp
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

Emit = Callable[[str, list[tuple]], None]
Work = Callable[[Emit], Any]
ROWS_DONE = ""  # the work emits it once after its last rows; its result follows
_FAILED = "!"


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
            self._proc = ctx.Process(target=_child, args=(work, send), daemon=True)
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

    def __iter__(self) -> Iterator[tuple[str, list[tuple]]]:
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


def _child(work: Work, send: Connection) -> None:
    """In the forked process: run the work, streaming what it emits, then its result. A thread
    writes to the pipe, so the work never waits for the other side to read: the generator
    runs ahead while the database takes chunks in (and can build indexes meanwhile)."""
    gc.disable()  # a short-lived process making no cycles: passes over millions of rows are waste
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
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


def _write(outbox: queue.SimpleQueue[bytes | None], send: Connection) -> None:
    """Send until the end marker; stop quietly if the parent stopped listening (it failed,
    and will say why)."""
    try:
        while (message := outbox.get()) is not None:
            send.send_bytes(message)
    except OSError:
        return
