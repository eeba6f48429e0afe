"""The change feed behind live desks, on both backends: another connection's commit is
reported (kinds and ids), nothing is reported when nothing changed, a rolled-back write and
the desk's own writes are not reported, and the watcher thread hands changes over and
closes its connection on stop. No test asserts a time: waits only bound how long a test
may hang."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain import session
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.store import db as dbmod
from waitlist_tui.domain.store.changes_feed import ChangeFeed, Changes, own_writes
from waitlist_tui.domain.store.models import Clinic

PATIENCE_S = 10.0  # only how long a broken test may hang


@pytest.fixture
def feed(clinic: Clinic) -> Iterator[ChangeFeed]:
    opened = ChangeFeed(dbmod.database.obj)
    opened.open()
    yield opened
    opened.close()


def elsewhere(fn: Callable[[], Any]) -> Any:
    """`fn` on another thread: another connection, committed before this returns."""
    out: list[Any] = []

    def run() -> None:
        with session.connection():
            out.append(fn())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(PATIENCE_S)
    return out[0]


def next_changes(feed: ChangeFeed) -> Changes | None:
    """What the feed reports, waiting for it as a desk's watcher would."""
    for _ in range(int(PATIENCE_S / 0.05)):
        changes = feed.wait(0.05)
        if changes is not None:
            return changes
    return None


def quiet(feed: ChangeFeed) -> Changes | None:
    """What the feed reports when given a few polls' worth of waiting."""
    found = None
    for _ in range(4):
        changes = feed.wait(0.05)
        found = changes if found is None or changes is None else found | changes
    return found


def test_nothing_is_reported_when_nothing_changed(feed: ChangeFeed) -> None:
    assert feed.check() is None
    assert quiet(feed) is None


def test_an_entry_added_on_another_connection_is_reported(feed: ChangeFeed) -> None:
    entry = elsewhere(lambda: add_entry("Other"))
    changes = next_changes(feed)
    assert changes is not None
    assert changes.touches("entry") and not changes.touches("opening")
    assert str(entry.id) in changes.ids and not changes.many
    assert quiet(feed) is None  # reported once


def test_an_offer_sent_elsewhere_names_the_offer_and_the_opening(feed: ChangeFeed) -> None:
    def send() -> Any:
        entry = add_entry("Offered")
        opening = monday_opening()
        return offer_slot(opening.id, "other desk", entry_id=entry.id)

    sent = elsewhere(send)
    changes = next_changes(feed)
    while changes is not None and not changes.touches("offer"):
        more = next_changes(feed)
        changes = more if more is None else changes | more
    assert changes is not None and changes.touches("entry", "opening", "offer")
    assert str(sent[0].id) in changes.ids


def test_a_rolled_back_write_is_not_reported(feed: ChangeFeed) -> None:
    def fail() -> None:
        with dbmod.database.atomic() as txn:
            add_entry("Undone")
            txn.rollback()

    elsewhere(fail)
    assert quiet(feed) is None


def test_the_desks_own_writes_are_not_reported_back(feed: ChangeFeed) -> None:
    def mine() -> Any:
        with own_writes():
            return add_entry("Mine")

    own = elsewhere(mine)
    assert quiet(feed) is None
    theirs = elsewhere(lambda: add_entry("Theirs"))
    changes = next_changes(feed)
    assert changes is not None and str(theirs.id) in changes.ids
    assert str(own.id) not in changes.ids and str(own.client.id) not in changes.ids


def test_the_watcher_hands_changes_over_and_stops(clinic: Clinic) -> None:
    heard: queue.Queue[Changes] = queue.Queue()
    watcher = session.watch_changes(heard.put)
    try:
        assert watcher.ready.wait(PATIENCE_S)
        entry = elsewhere(lambda: add_entry("Watched"))
        changes = heard.get(timeout=PATIENCE_S)
        while str(entry.id) not in changes.ids:
            changes = heard.get(timeout=PATIENCE_S)
        assert changes.touches("entry")
    finally:
        watcher.stop()
    assert not any(t.name == "waitlist-changes" and t.is_alive() for t in threading.enumerate())


def test_a_bulk_write_is_reported_by_kind(feed: ChangeFeed) -> None:
    """record_many of more rows than a report names (a calendar's first sync): the kind,
    `many`, and no list of thousands of ids."""
    from waitlist_tui.domain.store import audit
    from waitlist_tui.domain.store.changes_feed import MAX_IDS

    def bulk() -> None:
        with dbmod.database.atomic():
            items = [(f"slot-{i}", {}) for i in range(MAX_IDS * 3)]
            audit.record_many("calendar", "appointment.sync", "appointment", items)

    elsewhere(bulk)
    changes = next_changes(feed)
    assert changes is not None and changes.many and changes.touches("appointment")
    assert len(changes.ids) <= MAX_IDS
    assert quiet(feed) is None
