"""The one seam between screens and services: a service call runs in a thread worker, and its
result comes back to the screen that asked as a typed message.

A screen names a result message per call (`class Found(calls.Done[Found])`) and reacts with
`@on(Found)`; a DomainError comes back as a `Failed` message (the call's own subclass, or
`Refused`, which a DeskScreen shows as a toast); any other error takes the app down as
before. A read is "latest wins": starting one in a group makes the results of the older ones
in that group stale, and they are dropped here, before the screen sees them (a thread cannot
be stopped mid-query). A write is always delivered: its change is committed.

Reads that the screens repeat often (the queue's pages, the finder's candidates, the
dashboard's figures) run on the app's Reader, one thread that keeps its connection open
between them (domain.session.HeldConnection); a read asked for while it is busy takes a
connection of its own rather than wait. Other calls run on a connection of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker

from waitlist_tui.domain import session
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.waitlist import reading
from waitlist_tui.domain.waitlist.views import EntryView

T = TypeVar("T")
# The connection a call runs on ("none": it opens its own; "mine": a connection of its own,
# its writes the desk's own, not reported back by the change feed).
Via = Literal["own", "mine", "reader", "none"]


@dataclass
class Done(Message, Generic[T], bubble=False):
    """A call's result; subclass it once per call, so a handler is chosen by its type."""

    value: T


@dataclass
class Failed(Message, bubble=False):
    """A call that the domain refused (what a desk can read and act on); subclass it per
    call to handle it (a handler of Failed itself would take every subclass too)."""

    error: DomainError


class Refused(Failed):
    """A refusal of a call that names no failure message: the desk screen tells the desk."""


Changes = session.Changes


@dataclass
class Changed(Message, bubble=False):
    """Other desks changed these rows (kinds and ids): posted to the app by its watcher,
    handed to the screens on show (`others_changed`), which read again only what they show
    of them. The desk's own writes (`Calls.write`) are not in it: the screen that made them
    already reloads."""

    changes: session.Changes


def watch_changes(app: Any) -> session.ChangeWatcher:
    """Start hearing other desks' changes (domain.session.watch_changes): each batch comes
    to `app` as a Changed message. `stop()` the watcher when the app ends."""
    return session.watch_changes(lambda changes: app.post_message(Changed(changes)))


class Reader:
    """One long-lived reading thread for the screens' frequent reads."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="waitlist-reader")
        self._held = session.HeldConnection()
        self._used = False
        self._busy = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the reading thread. If that thread is busy (an older read still
        running), this one does not queue behind it: it runs here, on a connection of its
        own, as a worker would."""
        if not self._busy.acquire(blocking=False):
            return on_own_connection(fn, *args)
        try:
            self._used = True
            return self._pool.submit(self._held.run, fn, *args).result()
        finally:
            self._busy.release()

    def close(self) -> None:
        """Close the connection (on the reading thread, which owns it) and stop the thread."""
        if not self._used:
            self._pool.shutdown(wait=False)
            return
        try:
            self._pool.submit(self._held.close).result(timeout=5)
        finally:
            self._pool.shutdown(wait=False)


def on_own_connection(fn: Callable[..., T], *args: Any) -> T:
    with session.connection():
        return fn(*args)


def read_now(app: Any, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on the app's reader (or a connection of its own), waited for: only for a
    quick read that must finish before the next key (an entry checked before it opens)."""
    reader = getattr(app, "reader", None)
    if isinstance(reader, Reader):
        return reader.call(fn, *args)
    return on_own_connection(fn, *args)


def fresh_entry(app: Any, entry_id: Any) -> EntryView | None:
    """The entry as it is now, before a screen opens it: the row on screen may be seconds
    old and another desk may have moved or removed it (then the desk is told, and None)."""
    try:
        return read_now(app, reading.get, entry_id)
    except DomainError as err:
        app.notify(err.message, severity="error", markup=False)
        return None


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a connection of its own, awaited (the command palette's searches)."""
    return await asyncio.to_thread(on_own_connection, fn, *args)


class Calls:
    """The calls of one screen (or the app); results are posted to it."""

    def __init__(self, node: DOMNode) -> None:
        self._node = node
        self._tickets: dict[str, int] = {}

    def read(
        self,
        fn: Callable[..., T],
        *args: Any,
        done: type[Done[T]],
        failed: type[Failed] = Refused,
        group: str,
        via: Via = "own",
    ) -> Worker[Any]:
        """Latest wins in `group`."""
        ticket = self.drop(group)
        return self._start(fn, args, done, failed, group, True, ticket, via)

    def write(
        self,
        fn: Callable[..., T],
        *args: Any,
        done: type[Done[T]] | None,
        failed: type[Failed] | None = Refused,
        group: str = "writes",
        exclusive: bool = False,
        own: bool = True,
    ) -> Worker[Any]:
        """Always delivered; `done` None: nothing to tell the screen. `own`: the screen
        shows the result itself, so the desk's change feed does not report it back (a
        timer's write, `own=False`, reaches the screens as another desk's would)."""
        via: Via = "mine" if own else "own"
        return self._start(fn, args, done, failed, group, exclusive, None, via)

    def drop(self, group: str) -> int:
        """Results of `group` still on their way are stale from now on."""
        ticket = self._tickets[group] = self._tickets.get(group, 0) + 1
        return ticket

    def _start(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        done: type[Done[Any]] | None,
        failed: type[Failed] | None,
        group: str,
        exclusive: bool,
        ticket: int | None,
        via: Via,
    ) -> Worker[Any]:
        app = self._node.app

        def call() -> Any:
            """The worker's result is the call's value too (None when refused)."""
            message: tuple[Callable[[Any], Message], Any] | None = None
            value = None
            try:
                if via == "reader":
                    value = read_now(app, fn, *args)
                elif via == "own":
                    value = on_own_connection(fn, *args)
                elif via == "mine":
                    with session.own_writes():
                        value = on_own_connection(fn, *args)
                else:
                    value = fn(*args)
                if done is not None:
                    message = (done, value)
            except DomainError as err:
                if failed is None:
                    raise
                message = (failed, err)
            if message is not None:
                app.call_from_thread(self.deliver, group, ticket, *message)
            return value

        name = getattr(fn, "__name__", "call")
        return self._node.run_worker(call, name=name, group=group, exclusive=exclusive, thread=True)

    def deliver(
        self, group: str, ticket: int | None, kind: Callable[[Any], Message], payload: Any
    ) -> None:
        """On the event loop: the one place where a stale result is dropped (`ticket` is
        the call's, from `drop`; None for a write)."""
        if ticket is not None and self._tickets.get(group) != ticket:
            return
        self._node.post_message(kind(payload))
