"""The demo clinic built in a file of its own, for `simulate --demo`: the models are bound to
that file only while it is built, then to whatever they were bound to before."""

from __future__ import annotations

from pathlib import Path

from waitlist_tui.demo import build
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import bind, database


def demo_file(path: Path, entries: int, seed: int, actor: str = "simulate") -> str:
    """Build the demo into `path` (a new SQLite file); its URL."""
    before = database.obj
    db = connect(str(path))
    try:
        build.build(entries=entries, seed=seed, actor=actor)
    finally:
        db.close()
        if before is not None:
            bind(before)
    return str(path)
