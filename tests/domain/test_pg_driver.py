"""The app's start imports peewee without psycopg2; opening PostgreSQL then gives peewee the
same driver state a plain import would have. Each case runs in a fresh interpreter: the test
session itself imported peewee (with psycopg2) long ago."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# What peewee's import of psycopg2 sets up, as comparable text.
DRIVER_STATE = """
import json, peewee, psycopg2.extensions as ext
a = peewee.Psycopg2Adapter
print(json.dumps({
    "modules": [m.__name__ for m in (peewee.psycopg2, peewee.pg_extensions)],
    "json": peewee.Json_pg2.__name__,
    "txn": [a.txn_idle, a.txn_inerror, a.txn_unknown],
    "uuid_caster": 2950 in ext.string_types,
}))
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_app_start_does_not_import_psycopg2() -> None:
    loaded = run(
        """
        import sys
        from waitlist_tui import launch
        sys.argv = ["waitlist-tui", "--help"]  # the console script's own path, then out
        try:
            launch.run()
        except SystemExit:
            pass
        import waitlist_tui.cli.demo, waitlist_tui.tui.app
        print(sorted(m for m in ("psycopg2", "psycopg") if m in sys.modules))
        import psycopg2  # held back from peewee only, not from everyone afterwards
        """
    )
    assert loaded.splitlines()[0].startswith("Usage: waitlist-tui")
    assert loaded.splitlines()[-1] == "[]"


def test_opening_postgresql_readies_peewee_as_its_own_import_would() -> None:
    plain = run(DRIVER_STATE)
    deferred = run(
        textwrap.dedent(
            """
        from waitlist_tui.domain.store.pg_driver import import_peewee
        import_peewee()
        import peewee
        assert peewee.psycopg2 is None
        from waitlist_tui.domain.store.db import make_database
        make_database("postgresql://postgres@127.0.0.1:5432/test")
        """
        )
        + DRIVER_STATE
    )
    assert json.loads(deferred) == json.loads(plain)
    assert json.loads(plain)["uuid_caster"] is True


def test_a_deferred_driver_reads_and_writes_postgresql(pg_url: str) -> None:
    out = run(
        f"""
        import uuid
        from waitlist_tui.domain.store.pg_driver import import_peewee
        import_peewee()
        from waitlist_tui.domain.store import db
        from waitlist_tui.domain.store.connect import connect
        from waitlist_tui.domain.store.models import Clinic
        connect({pg_url!r})
        with db.database.atomic():
            db.database.execute_sql("CREATE TEMP TABLE t (id uuid, v jsonb)")
            db.database.execute_sql("INSERT INTO t VALUES (%s, '{{}}')", (str(uuid.uuid4()),))
        value = db.database.execute_sql("SELECT id FROM t").fetchone()[0]
        print(type(value).__name__, Clinic.select().count() >= 0)
        """
    )
    assert out == "UUID True"
