"""The seam between screens and services (tui/calls.py): results as typed messages, a domain
refusal as a failure message, and a stale read's result dropped before a screen sees it."""

from __future__ import annotations

import threading
from typing import Any

from textual import on
from textual.app import App

from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.tui import calls


class Answered(calls.Done[int]):
    pass


class Refused(calls.Failed):
    pass


class Probe(App[None]):
    """An app with calls of its own and a record of what came back."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.calls = calls.Calls(self)

    @on(Answered)
    def answered(self, message: Answered) -> None:
        self.seen.append(message.value)

    @on(Refused)
    def refused(self, message: Refused) -> None:
        self.seen.append(message.error.message)


async def until(pilot: Any, done: Any) -> None:
    for _ in range(100):
        await pilot.pause(0.02)
        if done():
            return


async def test_a_read_started_later_drops_the_older_result(tui_db) -> None:
    app = Probe()
    release = threading.Event()

    def slow() -> int:
        release.wait(5)
        return 1

    async with app.run_test() as pilot:
        app.calls.read(slow, done=Answered, group="figures")
        app.calls.read(lambda: 2, done=Answered, group="figures")
        await until(pilot, lambda: app.seen)
        release.set()
        await pilot.pause(0.2)
        assert app.seen == [2]


async def test_a_domain_error_comes_back_as_a_failure_message(tui_db) -> None:
    app = Probe()

    def refuse() -> int:
        raise ValidationError("not today")

    async with app.run_test() as pilot:
        worker = app.calls.read(refuse, done=Answered, failed=Refused, group="g")
        await until(pilot, lambda: app.seen)
        assert app.seen == ["not today"]
        assert worker.result is None


async def test_every_write_is_delivered_and_its_value_is_the_workers_result(tui_db) -> None:
    app = Probe()
    async with app.run_test() as pilot:
        first = app.calls.write(lambda: 1, done=Answered)
        app.calls.write(lambda: 2, done=Answered)
        await until(pilot, lambda: len(app.seen) == 2)
        assert sorted(app.seen) == [1, 2]
        assert first.result == 1


async def test_a_dropped_group_ignores_what_is_still_on_its_way(tui_db) -> None:
    app = Probe()
    async with app.run_test() as pilot:
        ticket = app.calls.drop("candidates")
        app.calls.deliver("candidates", ticket, Answered, 1)
        app.calls.drop("candidates")  # a newer search, or a result shown by another way
        app.calls.deliver("candidates", ticket, Answered, 2)
        await pilot.pause()
        assert app.seen == [1]


async def test_a_refusal_no_screen_handler_takes_is_told_to_the_desk(tui_db) -> None:
    app = make_test_app()

    def refuse() -> int:
        raise ValidationError("not today")

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.calls.read(refuse, done=Answered, group="g")  # no failure message named
        await until(pilot, lambda: list(app._notifications))
        assert [str(n.message) for n in app._notifications] == ["not today"]
