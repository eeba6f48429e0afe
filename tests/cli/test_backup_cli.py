"""`backup`, `restore` and `maintenance fix-permissions` as a script calls them, and the
private files: exports, new folders at every level, a warning for a database others can read.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.conftest import SETUP, envelope
from waitlist_tui.cli import main


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def desk(tmp_path, frozen, umask_022):
    """A SQLite desk at tmp/a/b/w.db (folders created by the app) with the demo set-up."""
    runner = CliRunner()
    url = str(tmp_path / "a" / "b" / "w.db")

    def invoke(*args: str):
        return runner.invoke(main, ["--db", url, "--staff", "maria", *args])

    assert invoke("setup", SETUP).exit_code == 0
    return invoke, Path(url)


def test_every_folder_the_app_creates_is_0700_and_the_database_0600(desk, tmp_path):
    _, db = desk
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert mode(db) == 0o600


def test_export_is_private_even_over_an_existing_file(desk, tmp_path):
    run, _ = desk
    new = tmp_path / "out" / "deep" / "entries.csv"
    assert run("export", "--out", str(new)).exit_code == 0
    assert mode(new) == 0o600 and mode(new.parent) == 0o700 and mode(new.parent.parent) == 0o700
    old = tmp_path / "old.csv"
    old.write_text("x")
    os.chmod(old, 0o644)
    assert run("export", "--out", str(old)).exit_code == 0
    assert mode(old) == 0o600


def test_a_database_others_can_read_is_warned_about_then_fixed(desk):
    run, db = desk
    os.chmod(db, 0o644)
    os.chmod(db.parent, 0o755)
    warned = run("clients", "list")
    assert warned.exit_code == 0
    assert f"warning: {db} is 0644" in warned.stderr and "fix-permissions" in warned.stderr
    fixed = envelope(run("maintenance", "fix-permissions", "--json"))
    assert {f["path"] for f in fixed} >= {str(db), str(db.parent)}
    assert mode(db) == 0o600 and mode(db.parent) == 0o700
    assert "warning" not in run("clients", "list").stderr
    assert "nothing to fix" in run("maintenance", "fix-permissions").output


def test_backup_reports_and_restore_compares(desk, tmp_path):
    run, db = desk
    report = envelope(run("backup", "--json"))
    assert Path(report["file"]).parent == db.parent / "backups"  # the default folder
    assert report["rows"]["clinic"] == 1 and report["removed"] == []
    text = run("backup", "--to", str(tmp_path / "bk"), "--keep-daily", "1")
    assert text.exit_code == 0, text.output
    assert "backup written:" in text.output and "sha256" in text.output
    done = run("restore", report["file"])
    assert done.exit_code == 0, done.output
    assert "clinic" in done.output and "(+1: this restore)" in done.output
    data = envelope(run("restore", report["file"], "--json"))
    assert all(row["same"] for row in data["rows"])


def test_restore_of_a_missing_or_unchecked_file_is_an_error(desk, tmp_path):
    run, _ = desk
    missing = run("restore", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1 and "no backup at" in missing.stderr
    bare = tmp_path / "bare.db"
    bare.write_bytes(b"SQLite format 3\0")
    refused = run("restore", str(bare), "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.output)["code"] == 4220


def test_the_clinic_sets_the_backup_schedule(desk, tmp_path):
    run, _ = desk
    setup = tmp_path / "clinic.toml"
    folder = tmp_path / "nightly"
    setup.write_text(
        Path(SETUP).read_text()
        + f'\n[backup]\nevery_hours = 24\ndir = "{folder}"\nkeep_daily = 2\nkeep_weekly = 1\n'
    )
    assert run("setup", str(setup)).exit_code == 0
    report = envelope(run("backup", "--json"))
    assert Path(report["file"]).parent == folder
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(SETUP).read_text() + "\n[backup]\nevery_days = 1\n")
    refused = run("setup", str(bad))
    assert refused.exit_code == 1 and "backup.every_days is not a backup setting" in refused.stderr


def test_the_app_backs_up_when_the_clinic_says_it_is_due(desk, tmp_path):
    run, db = desk
    setup = tmp_path / "clinic.toml"
    setup.write_text(Path(SETUP).read_text() + "\n[backup]\nevery_hours = 6\n")
    assert run("setup", str(setup)).exit_code == 0
    from waitlist_tui.domain import session

    session.open_database(str(db))
    try:
        first = session.backup_if_due(str(db))
        assert first is not None and Path(first["file"]).parent == db.parent / "backups"
        assert session.backup_if_due(str(db)) is None  # the newest is not 6 hours old
    finally:
        session.close_database()
