"""Private files: every level of a new folder 0700, files 0600 whatever the umask, and the
check that leaves the home directory and shared sticky folders (/tmp) alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from waitlist_tui.domain import private_files


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_new_level_is_0700_and_files_0600(tmp_path):
    old = os.umask(0o022)
    try:
        made = private_files.private_dirs(tmp_path / "a" / "b" / "c")
        with private_files.open_private(tmp_path / "x" / "y" / "f.txt") as f:
            f.write("client data")
    finally:
        os.umask(old)
    assert [p.name for p in made] == ["a", "b", "c"]
    assert all(mode(p) == 0o700 for p in made)
    assert mode(tmp_path / "x") == mode(tmp_path / "x" / "y") == 0o700
    assert mode(tmp_path / "x" / "y" / "f.txt") == 0o600


def test_an_existing_file_is_narrowed_and_appends_keep_it_private(tmp_path):
    path = tmp_path / "outbox.jsonl"
    path.write_text("one\n")
    os.chmod(path, 0o644)
    with private_files.open_private(path, "a") as f:
        f.write("two\n")
    assert path.read_text() == "one\ntwo\n" and mode(path) == 0o600


def test_exposed_and_narrow_leave_home_and_sticky_folders_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o755)
    db = mine / "w.db"
    db.write_text("x")
    os.chmod(db, 0o644)
    found = private_files.exposed([home, shared, mine, db])
    assert [f["path"] for f in found] == [str(mine), str(db)]
    private_files.narrow([home, shared, mine, db])
    assert (mode(home), mode(shared), mode(mine), mode(db)) == (0o755, 0o1777, 0o700, 0o600)
