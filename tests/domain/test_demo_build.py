"""How the demo reaches a SQLite file: built beside it and swapped in when nobody else has it
open, in place when someone does; never half-built either way."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from waitlist_tui.demo import build as demo
from waitlist_tui.demo import file as demo_file
from waitlist_tui.domain.store import db as dbmod
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.models import Entry


@pytest.fixture
def sqlite_file(tmp_path: Path, frozen: object) -> Iterator[Path]:
    """A connected SQLite file (the swap is SQLite's alone, whatever backend the run tests)."""
    path = tmp_path / "data" / "demo.db"
    database = connect(str(path))
    yield path
    database.close()


def _entry_ids() -> list[str]:
    return [row[0] for row in Entry.select(Entry.id).order_by(Entry.id).tuples()]


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".building"))


def test_stored_times_are_formatted_as_the_adapter_stores_them() -> None:
    for moment in (dt.datetime(2026, 11, 20, 9, 30), dt.datetime(2026, 11, 20, 9, 30, 0, 1234)):
        assert demo.stamp(moment) == dbmod.stored_time(moment)


def test_a_file_nobody_else_has_open_is_replaced_whole(sqlite_file: Path) -> None:
    demo.build(entries=150, seed=4)
    first = _entry_ids()
    demo.build(entries=150, seed=4)
    assert _entry_ids() == first and len(first) == 150
    assert _leftovers(sqlite_file) == []
    assert stat.S_IMODE(sqlite_file.stat().st_mode) == 0o600
    assert dbmod.database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dbmod.database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_file_another_desk_has_open_is_rebuilt_in_place_with_the_same_rows(
    sqlite_file: Path,
) -> None:
    demo.build(entries=150, seed=4)
    swapped = _entry_ids()
    desk = sqlite3.connect(sqlite_file)
    try:
        desk.execute("SELECT COUNT(*) FROM entry").fetchone()
        assert not demo_file.swappable(dbmod.database.obj)
        demo.build(entries=150, seed=4)
        assert _entry_ids() == swapped
        assert desk.execute("SELECT COUNT(*) FROM entry").fetchone()[0] == 150
    finally:
        desk.close()
    assert _leftovers(sqlite_file) == []


def test_a_desk_opening_the_file_during_the_build_keeps_the_old_demo(
    sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.build(entries=80, seed=4)
    before = _entry_ids()
    desks: list[sqlite3.Connection] = []
    sync = demo_file._sync

    def a_desk_opens_it(name: str) -> None:
        sync(name)
        desks.append(sqlite3.connect(sqlite_file))
        desks[0].execute("SELECT COUNT(*) FROM entry").fetchone()

    monkeypatch.setattr(demo_file, "_sync", a_desk_opens_it)
    with pytest.raises(demo_file.DemoInUse):
        demo.build(entries=120, seed=9)
    assert desks[0].execute("SELECT COUNT(*) FROM entry").fetchone()[0] == 80
    desks[0].close()
    assert _entry_ids() == before
    assert _leftovers(sqlite_file) == []


def test_a_failed_generation_leaves_the_file_as_it_was(
    sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.build(entries=80, seed=4)
    before = _entry_ids()

    def broken(self: demo.Generator, weeks: int = 3) -> None:
        raise ValueError("no classes today")

    monkeypatch.setattr(demo.Generator, "make_events", broken)
    with pytest.raises(RuntimeError, match="no classes today"):
        demo.build(entries=120, seed=9)
    assert _entry_ids() == before
    assert _leftovers(sqlite_file) == []


def test_a_symlinked_file_is_replaced_where_the_link_points(tmp_path: Path, frozen: object) -> None:
    real = tmp_path / "real" / "demo.db"
    real.parent.mkdir()
    link = tmp_path / "demo-link.db"
    link.symlink_to(real)
    database = connect(str(link))
    try:
        demo.build(entries=60, seed=4)
        assert link.is_symlink() and len(_entry_ids()) == 60
    finally:
        database.close()
    assert sqlite3.connect(real).execute("SELECT COUNT(*) FROM entry").fetchone()[0] == 60
    assert _leftovers(real) == []
