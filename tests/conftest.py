"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, a frozen clock, a clinic.

PostgreSQL runs when a server answers on 127.0.0.1:5432 (or WAITLIST_TEST_PG_URL); with
WAITLIST_TEST_PG set (CI) a missing server fails the run instead of skipping. Each session
creates its own scratch database and drops it at the end.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import pendulum
import pytest
import time_machine
from hypothesis import settings

from tests.timetravel import frozen_at, shifted_start
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import ALL_MODELS, Clinic

# CI replays the same examples every run (a fuzz that explores anew can turn a submission
# red with a find of the day); a developer's runs explore, and keep what they find.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

PG_BASE = os.environ.get("WAITLIST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
FROZEN = pendulum.datetime(2026, 11, 20, 14, 30, tz="UTC")  # a Friday, 09:30 in New York
STAFF = "tester"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-at",
        default=os.environ.get("WAITLIST_TEST_CLOCK_AT") or None,
        help="run the suite with the wall clock moved (and ticking) to +Nd, -Nd or an ISO "
        "date/datetime, so a test that reads the real date fails today, not on that date "
        "(env WAITLIST_TEST_CLOCK_AT)",
    )


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("--clock-at")
    if not spec:
        return
    try:
        start = shifted_start(spec, pendulum.now("UTC"))
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    shift = time_machine.travel(start, tick=True)
    shift.start()
    config.stash[_SHIFT] = (shift, start)


def pytest_unconfigure(config: pytest.Config) -> None:
    shifted = config.stash.get(_SHIFT, None)
    if shifted is not None:
        shifted[0].stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    shifted = config.stash.get(_SHIFT, None)
    if shifted is None:
        return None
    return f"wall clock shifted to {shifted[1].isoformat()} (--clock-at)"


_SHIFT = pytest.StashKey[tuple[time_machine.travel, pendulum.DateTime]]()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the user's own data, config and env out of every test."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in ("WAITLIST_DB", "WAITLIST_STAFF", "WAITLIST_TUI_EXIT_WHEN_READY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def _pg_answers() -> bool:
    parsed = urlparse(PG_BASE)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


def _admin(url: str):
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def make_pg_database() -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    if not _pg_answers():
        if os.environ.get("WAITLIST_TEST_PG"):
            pytest.fail(f"WAITLIST_TEST_PG is set but no PostgreSQL answers at {PG_BASE}")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"waitlist_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = _admin(PG_BASE)
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return urlunparse(urlparse(PG_BASE)._replace(path=f"/{name}"))


def drop_pg_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    conn = _admin(PG_BASE)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = make_pg_database()
    yield url
    if database.obj is not None:
        database.close()
    drop_pg_database(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A database of its own, for tests that build a schema by hand (migrations)."""
    url = make_pg_database()
    yield url
    if database.obj is not None:
        database.close()
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "data" / "waitlist.db")
    return request.getfixturevalue("pg_url")


def _empty_all_tables() -> None:
    names = ", ".join(
        f'"{m._meta.table_name}"' for m in ALL_MODELS if m._meta.table_name != "schema_info"
    )
    database.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def frozen() -> Iterator[pendulum.DateTime]:
    with frozen_at(FROZEN):
        yield FROZEN


@pytest.fixture
def db(db_url: str, backend: str, frozen: pendulum.DateTime) -> Iterator[object]:
    """A connected, empty database with the current schema."""
    database_ = connect(db_url)
    if backend == "postgres":
        _empty_all_tables()
    yield database_
    database_.close()


def clinic_without_feeds() -> dict[str, object]:
    """The demo clinic file without its sample calendar feeds: a test that syncs names its
    own sources (tests/domain/calendar/test_demo_feeds.py tests the demo's)."""
    data = demo_clinic()
    for provider in data["providers"]:
        provider.pop("calendars", None)
    return data


def without_feeds(text: str) -> str:
    """The demo clinic file's text without its `[[providers.calendars]]` tables."""
    return re.sub(r"\n\[\[providers\.calendars\]\]\nsource = [^\n]*\nmatch = [^\n]*\n", "\n", text)


@pytest.fixture
def clinic(db: object) -> Clinic:
    """The demo clinic's set-up (services, providers, hours), without generated data."""
    apply_setup(clinic_without_feeds(), STAFF)
    return Clinic.get()


def entry_payload(**overrides: object) -> dict[str, object]:
    """A valid entry for the demo clinic; tests override what they exercise."""
    payload: dict[str, object] = {
        "client": {
            "first_name": "Jane",
            "last_name": "Doe",
            "phone": "(617) 555-0142",
            "email": "Jane.Doe@Example.com",
        },
        "service": "PT-EVAL",
        "preferred_providers": ["KIM"],
        "preferred_days": ["MONDAY", "WEDNESDAY"],
        "preferred_time_slots": ["MORNING"],
        "date_range_start": "2026-11-23",
        "date_range_end": "2026-12-15",
        "payment_type": "INSURANCE_PAY",
        "notes": "Prefers mornings",
    }
    payload.update(overrides)
    return payload
