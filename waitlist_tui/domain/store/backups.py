"""Backups and restores (`waitlist-tui backup`, `waitlist-tui restore`).

A backup is one file named with its UTC time, `waitlist-20261207T130700Z.db` (a SQLite file:
a desk's database, or a PostgreSQL database's tables as one) or `...pgdump` (pg_dump's
custom format), beside its checksum `<name>.sha256` in sha256sum's format (`sha256sum -c`
reads it). Both are written 0600 in a folder the app creates 0700.

- Consistent while desks work: SQLite's backup API copies a snapshot in one step (a WAL
  reader blocks no writer); pg_dump reads one snapshot; the logical copy of a PostgreSQL
  database reads its tables in one REPEATABLE READ, READ ONLY transaction.
- Never a partial file under the final name: the copy is written to a scratch file
  (`.waitlist-<pid>.<random>.partial`, scratch_files: the next run removes those of a dead
  process), synced, its checksum written (and renamed into place) first, then the copy
  renamed to its final name. A backup file therefore always has its checksum; a checksum
  whose backup never arrived is removed by a later run. A full disk or any failure removes
  the scratch files and says what happened.
- Retention: with keep_daily / keep_weekly, the newest backup of each of the last N days
  that have one, and of each of the last M ISO weeks, stay; the other backups in the folder
  (only files named as above) are removed with their checksums.

A restore checks everything on a copy before anything is replaced: the checksum, SQLite's
integrity_check, the schema version (a newer one is refused, an older one migrated on the
copy), the domain invariants (store.invariants). It then replaces the target only when no
other connection has it open (it names the processes / sessions that do), and writes one
audit row (`database.restore`) in the restored database:

- SQLite target, .db backup: the checked copy, made beside the target, is renamed over it
  while this process holds the target exclusively (no reader can be left on a file that is
  gone); the old file's WAL is folded in first.
- PostgreSQL target: one transaction empties every table and loads the checked copy's rows
  (table_copy), rebuilds the stats rollups and reinstalls their triggers; a kill rolls it
  all back. A .pgdump is first restored into a scratch database on the same server
  (`waitlist_restore_<pid>_<random>`, dropped at the end, swept by a later run when its
  process died) and checked there.
- A .pgdump into SQLite is refused: take `backup --format db` of the server instead.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase

from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import Conflict, DomainError, Unprocessable, ValidationError
from waitlist_tui.domain.private_files import FILE_MODE, fsync_dir, open_private, private_dirs
from waitlist_tui.domain.store import audit, invariants, maintenance, scratch_files, table_copy
from waitlist_tui.domain.store.db import (
    bind,
    bulk_load_mode,
    database,
    is_postgres_url,
    make_database,
    sqlite_path_from,
)
from waitlist_tui.domain.store.schema import CURRENT_VERSION, VERSION_KEY, ensure_schema

PREFIX = "waitlist-"
FORMATS = {"db": ".db", "pgdump": ".pgdump"}
SUM = ".sha256"
SCRATCH_PREFIX = ".waitlist-"
SCRATCH_SUFFIX = ".partial"
NAME = re.compile(r"^waitlist-(\d{8}T\d{6}Z)(?:-(\d+))?\.(db|pgdump)$")
STAMP = "%Y%m%dT%H%M%SZ"
RESTORE_DB = "waitlist_restore_"  # + <pid>_<random>: a .pgdump's scratch database
_ORPHAN_SUM_AGE_S = 3600.0
_RETIRED = b"waitlist-tui: replaced by a restore\0"  # over the old file's header
# The carrier of a PostgreSQL database's tables: nobody else reads it while it fills.
_FAST = {"journal_mode": "off", "synchronous": "off", "foreign_keys": 0, "page_size": 8192}


class BackupError(Unprocessable):
    """A backup could not be written (disk full, no permission, pg_dump failed): nothing was
    left under a backup's name."""


class RestoreRefused(Unprocessable):
    """The file cannot be restored (bad checksum, damaged, newer schema, broken invariants):
    nothing was changed."""


class DatabaseInUse(Conflict):
    """Another process or session has the target open."""


# --- backup -------------------------------------------------------------------------------


def default_format(url: str) -> str:
    """pgdump for PostgreSQL when pg_dump is installed, else db."""
    return "pgdump" if is_postgres_url(url) and shutil.which("pg_dump") else "db"


def backup(
    url: str,
    folder: str | Path,
    *,
    fmt: str | None = None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
) -> dict[str, Any]:
    """Write a backup of the database at `url` into `folder`; the report (file, format,
    bytes, sha256, seconds, rows per table for a .db, what retention removed)."""
    started = time.perf_counter()
    fmt = fmt or default_format(url)
    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}", field="format")
    postgres = is_postgres_url(url)
    if fmt == "pgdump" and not postgres:
        raise ValidationError("pgdump backs up a PostgreSQL database only", field="format")
    if fmt == "pgdump" and not shutil.which("pg_dump"):
        raise ValidationError("pg_dump is not installed: use --format db", field="format")
    source = None if postgres else Path(sqlite_path_from(url)).expanduser()
    if source is not None and not source.is_file():
        raise ValidationError(f"no database at {source}", field="db")
    folder = Path(folder).expanduser()
    try:
        private_dirs(folder)
    except OSError as exc:
        raise BackupError(f"cannot create {folder}: {exc.strerror}", field="to") from exc
    swept = sweep(folder)
    scratch: str | None = None
    sumtmp: str | None = None
    rows: dict[str, int] | None = None
    try:
        scratch = scratch_files.create(folder, SCRATCH_PREFIX, SCRATCH_SUFFIX)
        if source is not None:
            rows = _sqlite_snapshot(source, scratch)
        elif fmt == "pgdump":
            _pg_dump(url, scratch)
        else:
            rows = _postgres_as_sqlite(url, scratch)
        _fsync(scratch)
        digest = sha256_of(scratch)
        size = os.path.getsize(scratch)
        while True:  # the checksum first: a backup never stands without one
            name = _free_name(folder, FORMATS[fmt])
            sumtmp = scratch_files.create(folder, SCRATCH_PREFIX, SCRATCH_SUFFIX)
            with open_private(sumtmp, "w", encoding="utf-8") as out:
                out.write(f"{digest}  {name}\n")
                out.flush()
                os.fsync(out.fileno())
            try:  # a link, not a rename: two runs in the same second never share a name
                os.link(sumtmp, folder / f"{name}{SUM}")
            except FileExistsError:
                continue
            except OSError:  # no hard links there (a FAT-formatted USB disk): a rename
                os.replace(sumtmp, folder / f"{name}{SUM}")
                sumtmp = None
            finally:
                if sumtmp is not None:
                    os.remove(sumtmp)
                    sumtmp = None
            break
        os.replace(scratch, folder / name)
        scratch = None
        fsync_dir(folder)
    except (OSError, sqlite3.Error, OperationalError) as exc:
        needed = source.stat().st_size if source is not None and source.exists() else 0
        raise BackupError(
            _failure(folder, exc, needed), field="to", data={"folder": str(folder)}
        ) from exc
    finally:
        for left in (scratch, sumtmp):
            if left is None:
                continue
            for extra in ("", "-journal", "-wal", "-shm"):
                with suppress(FileNotFoundError):
                    os.remove(f"{left}{extra}")
    removed = prune(folder, keep_daily, keep_weekly) if (keep_daily or keep_weekly) else []
    report: dict[str, Any] = {
        "file": str(folder / name),
        "checksum_file": str(folder / f"{name}{SUM}"),
        "format": fmt,
        "bytes": size,
        "sha256": digest,
        "seconds": round(time.perf_counter() - started, 2),
        "removed": removed,
        "swept": swept,
        "kept": len(listing(folder)),
    }
    if rows is not None:
        report["rows"] = rows
    return report


def _failure(folder: Path, exc: BaseException, needed: int) -> str:
    """What went wrong, in words; a full disk named as such. SQLite reports a write refused
    for want of room (ENOSPC) or past a file size limit (EFBIG) as a "disk I/O error", so
    the free space and the limit are looked at too."""
    while exc.__context__ is not None and "cannot rollback" in str(exc):
        exc = exc.__context__  # a rollback after SQLite ended the transaction itself
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG)
    full = full or "full" in text.lower() or "too large" in text.lower()
    if not full and "i/o error" in text.lower():
        with suppress(OSError, ValueError):
            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            room = shutil.disk_usage(folder).free
            # a server's size is not known here: little room, or any limit, says enough
            full = room < max(needed, 64 << 20) or limit != resource.RLIM_INFINITY
    why = f"the disk is full or the file too large for it ({text})" if full else text
    return f"backup failed: {why}; nothing was left in {folder}"


def _free_name(folder: Path, suffix: str) -> str:
    stamp = clock.now().astimezone(dt.UTC).strftime(STAMP)
    name = f"{PREFIX}{stamp}{suffix}"
    n = 1
    while (folder / name).exists() or (folder / f"{name}{SUM}").exists():
        n += 1
        name = f"{PREFIX}{stamp}-{n}{suffix}"
    return name


def _sqlite_snapshot(source: Path, target: str) -> dict[str, int] | None:
    """SQLite's online backup of `source` into `target`, in one step (one read snapshot),
    left in rollback-journal mode so that the file stands alone; its rows per table."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
            dst.execute("PRAGMA journal_mode=delete").fetchone()
            rows = _sqlite_counts(dst)  # an older schema may lack some tables
        finally:
            dst.close()
    finally:
        src.close()
    return rows


def _pg_dump(url: str, target: str) -> None:
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", target, "--dbname", url],
        capture_output=True,
        text=True,
    )
    if done.returncode == -signal.SIGXFSZ:
        raise OSError(errno.EFBIG, "pg_dump was stopped: file too large")
    if done.returncode != 0:
        said = done.stderr.strip()[-500:] or f"exit {done.returncode}"
        if "No space left" in said:
            raise OSError(errno.ENOSPC, f"pg_dump failed: {said}")
        raise OSError(0, f"pg_dump failed: {said}")


def _postgres_as_sqlite(url: str, target: str) -> dict[str, int]:
    """The PostgreSQL database's tables copied into a SQLite file (its schema as this app
    writes it), read in one snapshot. The stats rollups are rebuilt in the file."""
    source = make_database(url)
    source.connect()
    try:
        pg: Any = source.connection()
        pg.autocommit = False  # one snapshot for every table; named cursors need it too
        pg.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cur = pg.cursor()
        cur.execute(f"SELECT value FROM schema_info WHERE key = '{VERSION_KEY}'")
        found = cur.fetchone()
        if found is None or int(found[0]) != CURRENT_VERSION:
            raise OSError(0, f"the server's schema is {found and found[0]}, not {CURRENT_VERSION}")
        with bound_to(SqliteDatabase(target, pragmas=_FAST)) as carrier:
            ensure_schema(carrier)
            with bulk_load_mode():
                # By hand, not atomic(): SQLite ends the transaction itself on a failed
                # write (a full disk), and atomic()'s rollback would hide that error.
                carrier.execute_sql("BEGIN")
                try:
                    maintenance.wipe(indexes=False)
                    table_copy.copy_rows(table_copy.cursor_reader(pg, server_side=True))
                    maintenance.create_indexes()
                    maintenance.finish_bulk_load()
                    carrier.execute_sql("COMMIT")
                except BaseException:
                    with suppress(OperationalError, sqlite3.Error):
                        carrier.execute_sql("ROLLBACK")
                    raise
            rows = table_copy.row_counts(database.execute_sql)
            carrier.execute_sql("PRAGMA journal_mode=delete")
        pg.rollback()
    finally:
        source.close()
    return rows


@contextmanager
def bound_to(db: Database) -> Iterator[Database]:
    """Bind the models to `db` (connected) for the block, then back to what they were."""
    before = database.obj
    bind(db)
    db.connect(reuse_if_open=True)
    try:
        yield db
    finally:
        if not db.is_closed():
            db.close()
        if before is not None:
            bind(before)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def listing(folder: Path) -> list[tuple[dt.datetime, str]]:
    """The backups in `folder` (files named as backups, with their checksum), oldest first."""
    found = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        matched = NAME.match(name)
        if matched:
            at = dt.datetime.strptime(matched.group(1), STAMP).replace(tzinfo=dt.UTC)
            found.append((at, int(matched.group(2) or 1), name))  # -2 came after the first
    return [(at, name) for at, _, name in sorted(found)]


def prune(folder: Path, keep_daily: int | None, keep_weekly: int | None) -> list[str]:
    """Apply the retention rule; the names removed (newest first kept per day / ISO week)."""
    backups = listing(folder)
    keep: set[str] = set()
    for count, weekly in ((keep_daily or 0, False), (keep_weekly or 0, True)):
        periods: dict[Any, str] = {}
        for at, name in backups:  # oldest first: the last one of a period is its newest
            periods[at.isocalendar()[:2] if weekly else at.date()] = name
        for period in sorted(periods, reverse=True)[:count]:
            keep.add(periods[period])
    removed = []
    for _, name in backups:
        if name not in keep:
            for path in (folder / name, folder / f"{name}{SUM}"):
                with suppress(FileNotFoundError):
                    os.remove(path)
            removed.append(name)
    return removed


def sweep(folder: Path) -> list[str]:
    """Remove what killed runs left: scratch files of dead processes, and checksums older
    than an hour whose backup never arrived."""
    removed = scratch_files.sweep(folder, SCRATCH_PREFIX, SCRATCH_SUFFIX)
    now = time.time()
    with suppress(OSError):
        for name in os.listdir(folder):
            data = name[: -len(SUM)]
            if name.endswith(SUM) and NAME.match(data) and not (folder / data).exists():
                with suppress(OSError):
                    if now - (folder / name).stat().st_mtime > _ORPHAN_SUM_AGE_S:
                        os.remove(folder / name)
                        removed.append(name)
    return removed


# --- restore --------------------------------------------------------------------------------


def verify(file: str | Path) -> dict[str, Any]:
    """The backup's checksum checked against its `.sha256`; {"file", "format", "sha256"}."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise ValidationError(f"no backup at {path}", field="file")
    fmt = "pgdump" if path.name.endswith(".pgdump") else "db"
    sidecar = Path(f"{path}{SUM}")
    if not sidecar.is_file():
        raise RestoreRefused(
            f"{path.name} has no checksum file ({sidecar.name}): it may be incomplete; "
            "nothing was changed"
        )
    words = sidecar.read_text(encoding="utf-8", errors="replace").split()
    expected = words[0].lower() if words else ""
    actual = sha256_of(path)
    if actual != expected:
        raise RestoreRefused(
            f"{path.name} does not match its checksum: the file was changed or cut short; "
            "nothing was changed",
            data={"expected": expected, "actual": actual},
        )
    return {"file": str(path), "format": fmt, "sha256": actual}


def restore(file: str | Path, target_url: str, actor: str) -> dict[str, Any]:
    """Restore the backup `file` into the database at `target_url` (see the module
    docstring); the report: rows per table in the backup and in the target after, the
    target's rows before, seconds."""
    started = time.perf_counter()
    checked = verify(file)
    source = Path(checked["file"])
    to_postgres = is_postgres_url(target_url)
    if checked["format"] == "pgdump" and not to_postgres:
        raise RestoreRefused(
            "a pg_dump backup restores into PostgreSQL only; to move a server's clinic to a "
            "desk, take `waitlist-tui --db URL backup --format db` and restore that"
        )
    note = {"file": source.name, "sha256": checked["sha256"], "format": checked["format"]}
    previous = database.obj
    if previous is not None and not previous.is_closed():
        previous.close()  # this process's own connection would hold the target open
    try:
        if to_postgres:
            report = _restore_into_postgres(source, checked["format"], target_url, actor, note)
        else:
            report = _restore_into_sqlite(source, target_url, actor, note)
    finally:
        if previous is not None:
            bind(previous)
    report.update(file=str(source), target=_shown(target_url), format=checked["format"])
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _shown(url: str) -> str:
    """A URL without its password, fit to print."""
    if not is_postgres_url(url):
        return str(Path(sqlite_path_from(url)).expanduser())
    parsed = urlparse(url)
    if parsed.password:
        host = parsed.hostname or ""
        user = parsed.username or ""
        port = f":{parsed.port}" if parsed.port else ""
        parsed = parsed._replace(netloc=f"{user}:***@{host}{port}")
    return urlunparse(parsed)


def _check_copy(db: Database, actor: str, note: dict[str, Any]) -> dict[str, int]:
    """Bring the bound copy to this schema (a newer one refused), check the invariants and
    write the restore's audit row into it; its rows per table."""
    try:
        found = ensure_schema(db)
    except DomainError as exc:
        raise RestoreRefused(f"{exc.message}; nothing was changed", data=exc.data) from exc
    broken = invariants.problems()
    if broken:
        rules = "; ".join(f"{p['rule']} ({p['count']})" for p in broken)
        raise RestoreRefused(
            f"the backup breaks the waitlist's rules: {rules}; nothing was changed",
            data={"problems": broken},
        )
    if found and found < CURRENT_VERSION:
        note["migrated_from"] = found
    return table_copy.row_counts(database.execute_sql)


def _sqlite_header_check(path: str) -> None:
    """integrity_check and the schema version, read with plain sqlite3 before peewee opens
    the copy (a damaged file is refused here, with SQLite's words)."""
    try:
        conn = sqlite3.connect(path)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                raise RestoreRefused(
                    f"the backup is damaged (integrity_check: {'; '.join(result[:3])}); "
                    "nothing was changed"
                )
            has = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_info'"
            ).fetchone()
            version = (
                conn.execute("SELECT value FROM schema_info WHERE key=?", (VERSION_KEY,)).fetchone()
                if has
                else None
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise RestoreRefused(
            f"the backup is not a readable SQLite database ({exc}); nothing was changed"
        ) from exc
    if version is None:
        raise RestoreRefused("the file is no waitlist database (no schema version)")
    if int(version[0]) > CURRENT_VERSION:
        raise RestoreRefused(
            f"the backup uses schema version {version[0]}, newer than this app's "
            f"{CURRENT_VERSION}: upgrade waitlist-tui to restore it; nothing was changed",
            data={"found": int(version[0]), "supported": CURRENT_VERSION},
        )


def _copy_file(source: Path, folder: Path, prefix: str) -> str:
    """A 0600 scratch copy of `source` in `folder` (same file system as the target)."""
    name = scratch_files.create(folder, prefix, SCRATCH_SUFFIX)
    try:
        with open(source, "rb") as src, open(name, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        with suppress(FileNotFoundError):
            os.remove(name)
        raise
    return name


def _restore_into_sqlite(
    source: Path, target_url: str, actor: str, note: dict[str, Any]
) -> dict[str, Any]:
    target = Path(sqlite_path_from(target_url)).expanduser()
    target = Path(os.path.realpath(target))
    private_dirs(target.parent)
    copy: str | None = _copy_file(source, target.parent, f".{target.name}.restore-")
    try:
        assert copy is not None
        _sqlite_header_check(copy)
        with bound_to(make_database(copy)) as db:
            rows = _check_copy(db, actor, note)
            with database.atomic():
                audit.record(actor, "database.restore", "database", target.name, note)
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        before = _swap_sqlite(target, copy)
        copy = None
    finally:
        if copy is not None:
            for extra in ("", "-wal", "-shm", "-journal"):
                with suppress(FileNotFoundError):
                    os.remove(f"{copy}{extra}")
    after_conn = sqlite3.connect(target)
    try:
        after = table_copy.row_counts(after_conn.execute)
    finally:
        after_conn.close()
    return {"rows": _compare(rows, after, before), "note": note}


def openers(path: Path) -> list[dict[str, Any]]:
    """Other processes of this machine (that this user may inspect) with the SQLite file or
    its WAL open: {"pid", "command"} each. Read from /proc; [] where there is none."""
    wanted = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & wanted:
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                command = "?"
            found.append({"pid": int(entry.name), "command": command[:200]})
    return found


def _in_use(target: str, who: list[dict[str, Any]]) -> DatabaseInUse:
    named = ", ".join(f"pid {w['pid']} ({w['command'][:60]})" for w in who[:5])
    return DatabaseInUse(
        f"{target} is open elsewhere{': ' + named if named else ''}; close those desks "
        "and run the restore again (nothing was changed)",
        data={"open_by": who},
    )


def _swap_sqlite(target: Path, copy: str) -> dict[str, int] | None:
    """Rename the checked copy over `target` while holding it exclusively; the target's rows
    before (None when there was no file)."""
    if not target.exists():
        os.chmod(copy, FILE_MODE)
        os.replace(copy, target)
        fsync_dir(target.parent)
        return None
    who = openers(target)
    if who:
        raise _in_use(str(target), who)
    conn = sqlite3.connect(target, timeout=0, isolation_level=None)
    try:
        try:
            # Leaving WAL needs every other connection gone (refused at once otherwise), and
            # folds the WAL into the file; EXCLUSIVE then keeps everyone out until the rename.
            mode = conn.execute("PRAGMA journal_mode=delete").fetchone()[0]
            if str(mode).lower() != "delete":
                raise sqlite3.OperationalError("database is locked")
            conn.execute("BEGIN EXCLUSIVE")
            before = _sqlite_counts(conn)
        except sqlite3.OperationalError:
            raise _in_use(str(target), openers(target)) from None
        os.chmod(copy, FILE_MODE)
        old = os.open(target, os.O_WRONLY)
        try:
            os.replace(copy, target)
            fsync_dir(target.parent)
            # A desk that opened the old file in the instant of the swap gets "not a
            # database" from it, instead of writing where nobody will ever read.
            os.pwrite(old, _RETIRED, 0)
        finally:
            conn.execute("ROLLBACK")
            os.close(old)
    finally:
        conn.close()
    for extra in ("-wal", "-shm", "-journal"):  # the old file's, if any were left
        with suppress(FileNotFoundError):
            os.remove(f"{target}{extra}")
    return before


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int] | None:
    """Rows per counted table of a SQLite file that may hold an older schema, or none."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_info" not in have:
        return None
    names = [m._meta.table_name for m in table_copy.COUNTED if m._meta.table_name in have]
    return table_copy.row_counts(conn.execute, names)


def _restore_into_postgres(
    source: Path, fmt: str, target_url: str, actor: str, note: dict[str, Any]
) -> dict[str, Any]:
    scratch_url: str | None = None
    copy: str | None = None
    checked: Database
    try:
        if fmt == "pgdump":
            _sweep_scratch_databases(target_url)
            scratch_url = _create_scratch_database(target_url)
            _pg_restore(source, scratch_url)
            checked = make_database(scratch_url)
        else:
            copy = _copy_file(source, Path(tempfile.gettempdir()), ".waitlist-restore-")
            _sqlite_header_check(copy)
            checked = make_database(copy)
        with bound_to(checked):
            rows = _check_copy(checked, actor, note)
        who = _sessions(target_url)
        if who:
            raise DatabaseInUse(
                f"{_shown(target_url)} has other sessions: "
                + ", ".join(f"pid {w['pid']} ({w['application'] or w['client']})" for w in who[:5])
                + "; close those desks and run the restore again (nothing was changed)",
                data={"open_by": who},
            )
        before, after = _load_postgres(checked, target_url, actor, note)
        return {"rows": _compare(rows, after, before), "note": note}
    finally:
        if copy is not None:
            with suppress(FileNotFoundError):
                os.remove(copy)
        if scratch_url is not None:
            _drop_database(target_url, scratch_url)


def _load_postgres(
    checked: Database, target_url: str, actor: str, note: dict[str, Any]
) -> tuple[dict[str, int] | None, dict[str, int]]:
    """Empty the target's tables and load the checked copy's rows, in one transaction."""
    checked.connect(reuse_if_open=True)
    try:
        raw: Any = checked.connection()
        server_side = isinstance(checked, PostgresqlDatabase)
        if server_side:
            raw.autocommit = False
            raw.set_session(isolation_level="REPEATABLE READ", readonly=True)
        target = make_database(target_url)
        with bound_to(target):
            before = _counts_if_any(target)
            ensure_schema(target)
            with database.atomic():
                maintenance.wipe(indexes=False)
                table_copy.copy_rows(table_copy.cursor_reader(raw, server_side=server_side))
                maintenance.create_indexes()
                maintenance.finish_bulk_load()
                audit.record(actor, "database.restore", "database", target.database, note)
            database.execute_sql("ANALYZE")
            after = table_copy.row_counts(database.execute_sql)
        if server_side:
            raw.rollback()
    finally:
        checked.close()
    return before, after


def _counts_if_any(db: Database) -> dict[str, int] | None:
    if not db.table_exists("schema_info"):
        return None
    have = set(db.get_tables())
    names = [m._meta.table_name for m in table_copy.COUNTED if m._meta.table_name in have]
    return table_copy.row_counts(db.execute_sql, names)


def _compare(
    backup_rows: dict[str, int], after: dict[str, int], before: dict[str, int] | None
) -> list[dict[str, Any]]:
    """Table by table: rows in the backup, in the target after and before; `same` when the
    target holds the backup's rows (audit_event: one more, the restore's own row)."""
    out = []
    for table, n in backup_rows.items():
        expected = n + 1 if table == "audit_event" else n
        out.append(
            {
                "table": table,
                "backup": n,
                "restored": after.get(table),
                "before": None if before is None else before.get(table),
                "same": after.get(table) == expected,
            }
        )
    return out


def _admin_url(url: str, dbname: str = "postgres") -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def _admin(url: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def _sessions(url: str) -> list[dict[str, Any]]:
    """Other sessions on the target database: {"pid", "application", "client", "state"}."""
    name = urlparse(url).path.lstrip("/") or "postgres"
    try:
        conn = _admin(_admin_url(url))
    except Exception:
        conn = _admin(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid, application_name, COALESCE(host(client_addr), 'local'), state "
                "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            return [
                {"pid": p, "application": a, "client": c, "state": s}
                for p, a, c, s in cur.fetchall()
            ]
    finally:
        conn.close()


def _create_scratch_database(url: str) -> str:
    name = f"{RESTORE_DB}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = _admin(_admin_url(url))
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return _admin_url(url, name)


def _drop_database(url: str, scratch_url: str) -> None:
    name = urlparse(scratch_url).path.lstrip("/")
    with suppress(Exception):
        conn = _admin(_admin_url(url))
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def _sweep_scratch_databases(url: str) -> None:
    """Drop scratch databases of restores killed on this machine (their pid is gone); only
    for a server on this machine, where a pid names one of our processes."""
    host = urlparse(url).hostname or "localhost"
    if host not in ("localhost", "127.0.0.1", "::1", socket.gethostname()):
        return
    with suppress(Exception):
        conn = _admin(_admin_url(url))
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{RESTORE_DB}%",)
                )
                names = [r[0] for r in cur.fetchall()]
        finally:
            conn.close()
        for name in names:
            pid = name[len(RESTORE_DB) :].split("_")[0]
            if pid.isdigit() and not scratch_files.alive(int(pid)):
                _drop_database(url, _admin_url(url, name))


def _pg_restore(source: Path, scratch_url: str) -> None:
    if not shutil.which("pg_restore"):
        raise RestoreRefused("pg_restore is not installed: it reads .pgdump backups")
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", scratch_url, str(source)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RestoreRefused(
            f"the dump could not be read: {done.stderr.strip()[-300:]}; nothing was changed"
        )


# --- the clinic's schedule ------------------------------------------------------------------

BACKUP_DEFAULTS: dict[str, Any] = {"every_hours": 0, "dir": None, "keep_daily": 7, "keep_weekly": 4}


def clinic_settings() -> dict[str, Any]:
    """The clinic's `[backup]` settings (setup.parse_backup_settings wrote them) over the
    defaults; the defaults when no clinic is set up. Reads the bound database."""
    from waitlist_tui.domain.store.models import Clinic

    clinic = Clinic.select(Clinic.settings).first()
    stored = ((clinic.settings or {}) if clinic else {}).get("backup") or {}
    return {**BACKUP_DEFAULTS, **stored}


def default_folder(url: str) -> Path:
    """Where backups go without --to or `[backup] dir`: `backups/` beside a SQLite file,
    the app's data folder's `backups/` for a server."""
    if not is_postgres_url(url):
        return Path(os.path.realpath(Path(sqlite_path_from(url)).expanduser())).parent / "backups"
    from waitlist_tui.config import data_dir

    return data_dir() / "backups"


def newest(folder: Path) -> dt.datetime | None:
    found = listing(folder)
    return found[-1][0] if found else None


def backup_if_due(url: str, now: dt.datetime) -> dict[str, Any] | None:
    """The app's timer: a backup when the clinic's `every_hours` is set and the newest one in
    its folder is that old (or there is none); None when not due. A server without pg_dump
    is left to cron (its logical copy rebinds the models, which a desk's threads share)."""
    wanted = clinic_settings()
    every = int(wanted.get("every_hours") or 0)
    if every <= 0 or url == ":memory:":
        return None
    if is_postgres_url(url) and not shutil.which("pg_dump"):
        return None
    folder = Path(wanted["dir"]).expanduser() if wanted.get("dir") else default_folder(url)
    last = newest(folder)
    if last is not None and now - last < dt.timedelta(hours=every):
        return None
    return backup(
        url, folder, keep_daily=wanted.get("keep_daily"), keep_weekly=wanted.get("keep_weekly")
    )
