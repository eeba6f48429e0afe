"""The CLI as a script calls it: `run(*args)` on a database holding the demo clinic's set-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import _empty_all_tables
from waitlist_tui.cli import main
from waitlist_tui.domain.store.db import is_postgres

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SETUP = str(ASSETS / "demo_clinic.toml")


@pytest.fixture
def run(db_url: str, frozen):
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(main, ["--db", db_url, "--staff", "maria", *args], input=stdin)

    result = invoke("setup", SETUP)
    assert result.exit_code == 0, result.output
    if is_postgres():  # the session's shared database: start from the set-up only
        _empty_all_tables()
        assert invoke("setup", SETUP).exit_code == 0
    return invoke


def envelope(result) -> dict:
    """The data of a successful --json answer."""
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["code"], body["message"]) == (2000, "Success")
    return body["data"]


_phones = iter(range(100, 10_000))


def add_entry(run, tmp_path: Path, first: str, last: str = "Cli", **extra) -> str:
    """Add a waiting PT-EVAL entry through `entries add`; returns its id."""
    payload = {
        "client": {"first_name": first, "last_name": last, "phone": f"617-555-{next(_phones):04d}"},
        "service": "PT-EVAL",
        "payment_type": "SELF_PAY",
        "date_range_start": "2026-11-21",
        "date_range_end": "2026-12-15",
        **extra,
    }
    path = tmp_path / f"{first}-{last}.json"
    path.write_text(json.dumps(payload))
    return envelope(run("entries", "add", "--json-file", str(path), "--json"))["id"]
