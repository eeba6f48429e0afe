"""Scratch files a build writes beside its target (the demo's `.X.building` file, the side
tables' file): created 0600 with the builder's pid in the name, and swept by the next build
once that process is gone.

A build killed with SIGKILL (or a power cut) runs no cleanup, so its scratch file stays. The
pid in the name says whose it is: the next build removes only files whose builder no longer
runs on this machine, never those of a build still going. Files named before pids were put in
them (no pid to read) are removed once they are an hour old.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import suppress
from pathlib import Path

_NAMELESS_AGE_S = 3600.0
_SIDE_CARS = ("", "-journal", "-wal", "-shm")  # SQLite's files beside a database file


def create(folder: Path, prefix: str, suffix: str) -> str:
    """A new empty file `<prefix><pid>.<random><suffix>` in `folder`, mode 0600 (it will hold
    client data); its path. Stale files of the same kind are swept first."""
    sweep(folder, prefix, suffix)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{prefix}{os.getpid()}.", suffix=suffix)
    os.close(fd)  # mkstemp makes it 0600, whatever the umask
    return name


def alive(pid: int) -> bool:
    """A process of that id runs on this machine (another user's counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep(folder: Path, prefix: str, suffix: str) -> list[str]:
    """Remove the files `<prefix>...<suffix>` (and SQLite's -journal/-wal/-shm beside them)
    whose builder is dead; returns the names removed."""
    pattern = re.compile(re.escape(prefix) + r"(?:(\d+)\.)?.+" + re.escape(suffix) + "$")
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        found = pattern.match(name)
        if not found:
            continue
        path = Path(folder) / name
        if found.group(1) is not None:
            if alive(int(found.group(1))):
                continue
        else:
            try:
                if now - path.stat().st_mtime < _NAMELESS_AGE_S:
                    continue
            except OSError:
                continue
        for extra in _SIDE_CARS:
            with suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.remove(f"{path}{extra}")
        removed.append(name)
    return removed
