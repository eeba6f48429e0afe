"""Files that hold client data: 0600, in directories the app creates 0700 (every one it
creates, not only the last), whatever the umask; and the check of the ones that exist.

The waitlist is names, phone numbers and health-adjacent wishes: the database, its WAL, the
exports, the backups, the outbox file. `private_dirs` makes each missing level of a path
0700 (`Path.mkdir(parents=True, mode=...)` gives the parents the umask's mode); `open_private`
creates or truncates a file 0600 (an existing 0644 file is narrowed too, as O_CREAT's mode
applies to new files only). `exposed` lists the files and directories that others can read;
`narrow` fixes them (`waitlist-tui maintenance fix-permissions`).

No database here: the store, the wings and the CLI all use it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
_OTHERS = stat.S_IRWXG | stat.S_IRWXO  # any bit for group or others


def private_dirs(folder: Path | str) -> list[Path]:
    """Create `folder` and each missing parent 0700; the directories created (outermost
    first). Existing ones are left as they are (`exposed` reports them)."""
    folder = Path(folder).expanduser()
    missing: list[Path] = []
    at = folder
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        with suppress(OSError):  # a file system without modes (FAT) keeps its own
            os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
        created.append(path)
    return created


def open_private(path: Path | str, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """Open `path` for writing ("w", "wb", "a", "ab"), created 0600 with its missing
    directories 0700; an existing file is narrowed to 0600 first."""
    path = Path(path).expanduser()
    private_dirs(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & _OTHERS:
            with suppress(OSError):  # as above
                os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def fsync_dir(folder: Path | str) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def exposed(paths: Iterable[Path | str]) -> list[dict[str, str]]:
    """The paths (files or directories that exist) that group or others may read, write or
    enter: {"path", "mode", "wanted"} each, modes in octal."""
    found = []
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            info = path.stat()
        except OSError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if path.is_dir() and not _ours_to_narrow(path, info.st_mode):
            continue
        if mode & _OTHERS:
            wanted = DIR_MODE if path.is_dir() else FILE_MODE
            found.append({"path": str(path), "mode": f"{mode:04o}", "wanted": f"{wanted:04o}"})
    return found


def _ours_to_narrow(folder: Path, mode: int) -> bool:
    """A folder the app may make 0700: not the home directory, the root, or a shared one
    with the sticky bit (/tmp); those only hold the database, whose own mode protects it."""
    resolved = folder.resolve()
    return not (resolved in (Path.home().resolve(), Path("/")) or mode & stat.S_ISVTX)


def narrow(paths: Iterable[Path | str]) -> list[dict[str, str]]:
    """Make the exposed ones among `paths` 0600 (files) or 0700 (directories); what was
    changed, as `exposed` says it."""
    changed = exposed(paths)
    for item in changed:
        with suppress(FileNotFoundError):
            os.chmod(item["path"], int(item["wanted"], 8))
    return changed


def sqlite_family(db_file: Path | str) -> list[Path]:
    """A SQLite database file's directory, the file and its journal/WAL/SHM files."""
    file = Path(db_file).expanduser()
    return [file.parent, file, *(Path(f"{file}{x}") for x in ("-journal", "-wal", "-shm"))]
