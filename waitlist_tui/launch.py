"""The console script's entry: what a process that starts the app does before any import.

Kept out of the package's __init__ so that tests and other importers are left as they are:
- no garbage collection until the queue is on screen (or a subcommand starts): start-up
  builds a few hundred thousand objects and almost no garbage, and the collector's passes
  over them took 30-40 ms of a ~390 ms start (startup.started turns it back on);
- peewee imported without psycopg2, which a desk on SQLite never uses (domain/store/pg_driver.py).
"""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    from waitlist_tui.domain.store.pg_driver import import_peewee

    import_peewee()
    from waitlist_tui.cli import main

    main()
