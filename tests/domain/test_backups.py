"""Backups and restores on both backends: the round trip (backup -> restore -> export equals
the export before), SQLite <-> PostgreSQL, and the refusals that change nothing (a tampered
or truncated file, a newer schema, broken invariants, a database someone has open).

The processes killed with SIGKILL, the full disk and the writers racing a backup are in
tests/concurrency/test_backup_faults.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.domain.test_stats_rollups import assert_demand_columns_match_a_refill
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.store import backups, invariants, rollup_rebuild
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.waitlist import exchange


def exported() -> str:
    out = io.StringIO()
    exchange.export(out, "json")
    return out.getvalue()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def built(db, backend: str) -> str:
    """The demo's data in the test's database; its export."""
    demo.build(entries=300, seed=3)
    assert invariants.problems() == []
    return exported()


def reopen(url: str) -> None:
    database.close()
    connect(url)


def test_round_trip_backup_restore_export_equals(built, db_url, backend, tmp_path, request):
    state = rollup_rebuild.state()
    database.close()
    report = backups.backup(db_url, tmp_path / "bk")
    file = Path(report["file"])
    assert file.name.startswith("waitlist-") and report["format"] == (
        "db" if backend == "sqlite" else "pgdump"
    )
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "bk").stat().st_mode & 0o777) == "0o700"
    assert backups.verify(file)["sha256"] == report["sha256"]
    target = (
        str(tmp_path / "restored" / "w.db")
        if backend == "sqlite"
        else request.getfixturevalue("fresh_pg_url")
    )
    done = backups.restore(file, target, "tester")
    assert all(row["same"] for row in done["rows"]), done["rows"]
    reopen(target)
    assert exported() == built
    assert rollup_rebuild.state() == state
    assert_demand_columns_match_a_refill()
    assert invariants.problems() == []
    assert database.execute_sql(
        "SELECT COUNT(*) FROM audit_event WHERE action = 'database.restore'"
    ).fetchone() == (1,)


def test_restore_over_the_desks_own_file(db_url, backend, tmp_path, request):
    if backend != "sqlite":
        pytest.skip("the swap of a file")
    built = request.getfixturevalue("built")
    report = backups.backup(db_url, tmp_path / "bk")
    from waitlist_tui.domain.store.models import Entry

    Entry.delete().execute()  # a day's work gone wrong
    database.close()
    done = backups.restore(report["file"], db_url, "tester")
    entry = next(r for r in done["rows"] if r["table"] == "entry")
    assert (entry["backup"], entry["restored"], entry["before"]) == (300, 300, 0)
    reopen(db_url)
    assert exported() == built
    assert not [n for n in os.listdir(Path(db_url).parent) if "restore" in n]


@pytest.mark.postgres
def test_sqlite_to_postgres_and_back(db, backend, tmp_path, request):
    if backend != "sqlite":
        pytest.skip("starts from a desk's file")
    demo.build(entries=300, seed=5)
    from tests.conftest import STAFF, entry_payload
    from waitlist_tui.domain.waitlist import adding

    odd = 'tab\there, a \\N and \\t, back\\slash\nnew line\r\n"quoted" é 🙂'
    adding.create(entry_payload(notes=odd), STAFF)
    before = exported()
    linked_before = linked()
    assert all(linked_before)
    assert "back\\\\slash" in before  # the JSON export escapes it once more
    url = str(database.obj.database)
    database.close()
    to_pg = backups.backup(url, tmp_path / "desk")
    pg = request.getfixturevalue("fresh_pg_url")
    backups.restore(to_pg["file"], pg, "tester")
    reopen(pg)
    assert exported() == before
    assert invariants.problems() == []
    assert_demand_columns_match_a_refill()  # the ids as each backend writes them
    assert linked() == linked_before
    database.close()
    back = backups.backup(pg, tmp_path / "server", fmt="db")
    assert back["rows"]["entry"] == 301
    desk = str(tmp_path / "new-desk" / "w.db")
    backups.restore(back["file"], desk, "tester")
    reopen(desk)
    assert exported() == before
    assert invariants.problems() == []
    assert_demand_columns_match_a_refill()
    assert linked() == linked_before


def linked() -> tuple[int, int]:
    """Entries with preferred providers, and entries ever offered a slot (schema v19)."""
    row = database.execute_sql(
        "SELECT COUNT(provider_ids), SUM(CASE WHEN ever_offered THEN 1 ELSE 0 END) FROM entry"
    ).fetchone()
    return int(row[0]), int(row[1])


def _resum(file: Path) -> None:
    """Write the checksum of the file as it is now (a forger's, or a faulty copier's)."""
    Path(f"{file}.sha256").write_text(f"{digest(file)}  {file.name}\n")


@pytest.fixture
def sqlite_backup(backend, db_url, tmp_path, request) -> tuple[Path, Path]:
    if backend != "sqlite":
        pytest.skip("a SQLite file to damage")
    request.getfixturevalue("built")
    database.close()
    file = Path(backups.backup(db_url, tmp_path / "bk")["file"])
    return file, Path(db_url)


def _refused(file: Path, target: Path, words: str) -> None:
    before = digest(target)
    with pytest.raises(backups.RestoreRefused, match=words):
        backups.restore(file, str(target), "tester")
    assert digest(target) == before
    assert not [n for n in os.listdir(target.parent) if "restore" in n]


def test_a_tampered_file_is_refused(sqlite_backup):
    file, target = sqlite_backup
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    _refused(file, target, "does not match its checksum")


def test_a_truncated_file_is_refused(sqlite_backup):
    file, target = sqlite_backup
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 3])
    _refused(file, target, "does not match its checksum")
    _resum(file)  # even with a checksum that matches: SQLite's own check
    _refused(file, target, "damaged|not a readable")


def test_a_backup_without_its_checksum_is_refused(sqlite_backup):
    file, target = sqlite_backup
    os.remove(f"{file}.sha256")
    _refused(file, target, "no checksum file")


def test_a_newer_schema_is_refused(sqlite_backup):
    file, target = sqlite_backup
    with sqlite3.connect(file) as conn:
        conn.execute("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'")
    _resum(file)
    _refused(file, target, "newer than this app")


def test_a_backup_that_breaks_the_rules_is_refused(sqlite_backup):
    file, target = sqlite_backup
    with sqlite3.connect(file) as conn:
        booked = conn.execute("SELECT id FROM entry WHERE status = 'booked' LIMIT 1").fetchone()
        conn.execute("DELETE FROM appointment WHERE entry_id = ?", booked)
    _resum(file)
    _refused(file, target, "booked entry without its appointment")


def test_a_desk_with_the_database_open_is_named(sqlite_backup):
    file, target = sqlite_backup
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from entry').fetchone(); print('open', flush=True); "
            "time.sleep(60)",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        before = digest(target)
        with pytest.raises(backups.DatabaseInUse, match=f"pid {holder.pid}") as refused:
            backups.restore(file, str(target), "tester")
        assert refused.value.data["open_by"][0]["pid"] == holder.pid
        assert digest(target) == before
    finally:
        holder.kill()
        holder.wait()
    backups.restore(file, str(target), "tester")  # once the desk is closed


@pytest.mark.postgres
def test_a_session_on_the_server_is_named(db, backend, tmp_path, request):
    if backend != "sqlite":
        pytest.skip("one run is enough")
    demo.build(entries=50, seed=2)
    url = str(database.obj.database)
    database.close()
    file = backups.backup(url, tmp_path / "bk")["file"]
    pg = request.getfixturevalue("fresh_pg_url")
    import psycopg2

    other = psycopg2.connect(pg, application_name="front-desk-2")
    try:
        with pytest.raises(backups.DatabaseInUse, match="front-desk-2"):
            backups.restore(file, pg, "tester")
    finally:
        other.close()
    backups.restore(file, pg, "tester")


def test_retention_keeps_the_newest_of_each_day_and_week(tmp_path):
    folder = tmp_path / "bk"
    folder.mkdir()
    stamps = [
        "20261101T020000Z",  # week 44
        "20261108T020000Z",  # week 45
        "20261115T020000Z",  # week 46
        "20261122T020000Z",  # week 47
        "20261129T020000Z",  # week 48 (a Sunday)
        "20261204T020000Z",
        "20261205T020000Z",
        "20261206T020000Z",
        "20261207T020000Z",
        "20261207T140000Z",
    ]
    for stamp in stamps:
        (folder / f"waitlist-{stamp}.db").write_bytes(b"x")
        (folder / f"waitlist-{stamp}.db.sha256").write_text("x")
    (folder / "notes.txt").write_text("not a backup")
    removed = backups.prune(folder, keep_daily=3, keep_weekly=3)
    left = sorted(n for n in os.listdir(folder) if n.endswith(".db"))
    assert left == [
        "waitlist-20261129T020000Z.db",  # newest of week 48
        "waitlist-20261205T020000Z.db",
        "waitlist-20261206T020000Z.db",
        "waitlist-20261207T140000Z.db",  # newest of the day, and of week 49
    ]
    assert len(removed) == 6 and (folder / "notes.txt").exists()
    assert not [n for n in os.listdir(folder) if n.endswith(".sha256") and n[:-7] not in left]


def test_leftovers_of_a_killed_run_are_swept(tmp_path, db_url, backend, request):
    if backend != "sqlite":
        pytest.skip("files")
    request.getfixturevalue("built")
    folder = tmp_path / "bk"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    left = folder / f".waitlist-{dead}.abcd.partial"
    left.write_bytes(b"half a backup")
    orphan = folder / "waitlist-20260101T000000Z.db.sha256"
    orphan.write_text("0" * 64)
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    database.close()
    report = backups.backup(db_url, folder)
    assert sorted(report["swept"]) == sorted([left.name, orphan.name])
    assert not left.exists() and not orphan.exists()


def test_drifted_rollups_are_a_broken_rule_and_the_check_changes_nothing(built, backend):
    before = rollup_rebuild.state()
    assert invariants.rollups_match()
    assert rollup_rebuild.state() == before
    database.execute_sql(
        "UPDATE stats_count SET n = n + 1 WHERE fact = (SELECT MIN(fact) FROM stats_count)"
    )
    assert [p["rule"] for p in invariants.problems()] == ["stats rollups differ from a rebuild"]


@pytest.mark.parametrize("into", ["sqlite", "postgres"])
def test_an_older_schema_is_migrated_on_the_copy(tmp_path, frozen, into, request):
    from tests.domain.test_schema import _build_v1
    from waitlist_tui.domain.store import schema

    old = str(tmp_path / "v1.db")
    _build_v1(old)
    report = backups.backup(old, tmp_path / "bk")
    assert report["rows"]["entry"] == 1 and "outbox_message" not in report["rows"]
    with sqlite3.connect(report["file"]) as conn:  # the backup is the old database as it was
        assert conn.execute("SELECT value FROM schema_info").fetchone() == ("1",)
    target = (
        str(tmp_path / "new.db") if into == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    done = backups.restore(report["file"], target, "tester")
    assert done["note"]["migrated_from"] == 1
    db = connect(target)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    from waitlist_tui.domain.store.models import Client

    assert Client.get().search == "jane doe jane.doe@example.com 16175550142"
    assert invariants.problems() == []


def test_a_damaged_pg_dump_is_refused_and_the_server_keeps_its_rows(
    built, db_url, backend, request
):
    if backend != "postgres":
        pytest.skip("a pg_dump file")
    tmp = Path(request.getfixturevalue("tmp_path"))
    database.close()
    file = Path(backups.backup(db_url, tmp / "bk")["file"])
    target = request.getfixturevalue("fresh_pg_url")
    backups.restore(file, target, "tester")
    reopen(target)
    before = exported()
    database.close()
    data = file.read_bytes()
    for damaged in (data[: len(data) // 2], data[:2000] + bytes(len(data) - 2000)):
        file.write_bytes(damaged)
        with pytest.raises(backups.RestoreRefused, match="checksum"):
            backups.restore(file, target, "tester")
        _resum(file)  # a checksum that matches: pg_restore's own reading refuses it
        with pytest.raises(backups.RestoreRefused, match="could not be read|breaks|no waitlist"):
            backups.restore(file, target, "tester")
    reopen(target)
    assert exported() == before
    assert database.execute_sql(
        "SELECT COUNT(*) FROM pg_database WHERE datname LIKE %s", ("waitlist_restore_%",)
    ).fetchone() == (0,)
