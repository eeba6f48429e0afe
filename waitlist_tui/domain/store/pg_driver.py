"""psycopg2 loaded only when a PostgreSQL database is opened.

peewee imports psycopg2 (and with it ssl) as it is imported itself: ~15 ms of the app's
~350 ms start that a desk on SQLite never uses. The app's entry (launch.py) imports peewee
through `import_peewee()`, with the PostgreSQL drivers held back; `ready_psycopg2()` (called
by db.make_database for a postgresql:// URL) then does what peewee's own import would have
done. Written against peewee 4.5's module (pinned <5 in pyproject);
tests/domain/test_pg_driver.py holds the result to a plain import of peewee.
"""

from __future__ import annotations

import sys
from typing import Any

_HELD = ("psycopg2", "psycopg")  # peewee tries both; the app uses psycopg2


def import_peewee() -> None:
    """Import peewee without its PostgreSQL drivers (unless something already loaded one)."""
    if "peewee" in sys.modules or any(name in sys.modules for name in _HELD):
        return
    for name in _HELD:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import peewee  # noqa: F401
    finally:
        for name in _HELD:
            del sys.modules[name]  # a later `import psycopg2` (tests, the app) works as usual


def ready_psycopg2() -> None:
    """Give peewee psycopg2 as its import would have: its module names, the adapter's
    transaction states and the UUID adapter. A no-op when peewee already has it."""
    import peewee as peewee_module

    peewee: Any = peewee_module  # its driver globals are not in peewee's stubs
    if peewee.psycopg2 is not None:
        return
    import psycopg2
    from psycopg2 import extensions, extras

    extras.register_uuid()
    peewee.psycopg2 = psycopg2
    peewee.pg_extensions = extensions
    peewee.pg_register_uuid = extras.register_uuid
    peewee.Json_pg2 = extras.Json
    adapter = peewee.Psycopg2Adapter
    adapter.txn_idle = extensions.TRANSACTION_STATUS_IDLE
    adapter.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
    adapter.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN
