"""Offers bound to the slot's time, from the command line: `setup` checks min_notice, nothing
is opened, offered, accepted or booked by a texted YES past the deadline, `expire` ends what
is late (after checking its arguments), `openings close` withdraws a slot.

The frozen clock is Friday 2026-11-20 09:30 in New York (14:30 UTC); the demo clinic stops
offering a slot 60 minutes before it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest

from tests.cli.conftest import SETUP, add_entry, envelope
from tests.timetravel import move_to
from waitlist_tui.domain.store.models import Appointment, Offer, Opening

TEN = pendulum.datetime(2026, 11, 20, 10, 0, tz="America/New_York")


def refused(result, code: int) -> dict:
    """A --json error: non-zero exit and the envelope with `code`."""
    assert result.exit_code != 0, result.output
    body = json.loads(result.output)
    assert body["code"] == code, body
    return body


def opening_at(run, start: str, provider: str = "KIM", *extra: str) -> dict:
    args = ["--provider", provider, "--start", start, "--minutes", "60", *extra]
    return envelope(run("openings", "add", *args, "--json"))


def today_entry(run, tmp_path: Path, first: str, phone: str | None = None) -> str:
    extra = {"date_range_start": "2026-11-20"}
    if phone:
        extra["client"] = {"first_name": first, "last_name": "Cli", "phone": phone}
    return add_entry(run, tmp_path, first, **extra)


@pytest.mark.parametrize("value", ["-5", '"soon"', "1.5", "true"])
def test_setup_refuses_a_bad_min_notice(run, tmp_path: Path, value: str) -> None:
    text = Path(SETUP).read_text().replace("min_notice = 60", f"min_notice = {value}")
    assert f"min_notice = {value}" in text
    bad = tmp_path / "clinic.toml"
    bad.write_text(text)
    body = refused(run("setup", str(bad), "--json"), 4000)
    assert "clinic.min_notice must be a whole number of minutes" in body["message"]
    good = tmp_path / "good.toml"
    good.write_text(text.replace(f"min_notice = {value}", "min_notice = 30"))
    assert run("setup", str(good)).exit_code == 0


def test_nothing_past_the_deadline_by_any_command(run, tmp_path: Path) -> None:
    ann = today_entry(run, tmp_path, "Ann", phone="617-555-0401")
    opening = opening_at(run, "2026-11-20T11:00")
    terms = envelope(run("match", "--opening", opening["id"], "--json"))["offer_terms"]
    assert terms["deadline"] == "2026-11-20T15:00:00Z" and terms["capped_by_slot"] is True
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    assert [o["entry_id"] for o in sent] == [ann]
    assert sent[0]["expires_at"] == "2026-11-20T15:00:00Z"  # 10:00 local, not 11:30
    move_to(TEN)
    body = refused(run("offers", "accept", sent[0]["id"], "--json"), 4090)
    assert body["message"].startswith("too late: the slot starts at 11:00")
    replied = envelope(run("reply", "--from", "617-555-0401", "--text", "YES", "--json"))
    assert replied["outcome"] == "too_late" and "too late" in replied["detail"]
    assert Appointment.select().count() == 0
    body = refused(run("offers", "send", "--opening", opening["id"], "--json"), 4090)
    assert "too late" in body["message"]
    body = refused(
        run(
            "openings",
            "add",
            "--provider",
            "PATEL",
            "--start",
            "2026-11-20T10:45",
            "--minutes",
            "60",
            "--json",
        ),
        4000,
    )
    assert body["message"].startswith("too late: the slot starts at 10:45")
    assert Opening.select().count() == 1


def test_expire_checks_its_arguments_then_ends_what_is_late(run, tmp_path: Path) -> None:
    today_entry(run, tmp_path, "Ann")
    today_entry(run, tmp_path, "Bo")
    opening = opening_at(run, "2026-11-20T11:00")
    empty = opening_at(run, "2026-11-20T12:00", "PATEL", "--outside-hours")  # nobody's slot
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    move_to(TEN)
    body = refused(run("expire", "--older-than-days", "0", "--json"), 4000)
    assert "older_than_days" in body["message"]
    assert Offer.get_by_id(sent[0]["id"]).status == "sent"  # checked before anything changed
    counts = envelope(run("expire", "--json"))
    assert counts["offers_expired"] == 1 and counts["offers_advanced"] == 0
    assert counts["openings_closed"] == 1  # the 11:00 one: too late for Bo
    assert Offer.get_by_id(sent[0]["id"]).status == "expired"
    assert [o["id"] for o in envelope(run("openings", "list", "--json"))] == [empty["id"]]
    move_to(TEN.add(minutes=59))
    assert envelope(run("expire", "--json"))["openings_closed"] == 0
    move_to(TEN.add(hours=1))
    assert envelope(run("expire", "--json"))["openings_closed"] == 1  # 12:00 - 60 minutes
    assert envelope(run("openings", "list", "--json")) == []


def test_openings_close_withdraws_the_slot_and_its_offers(run, tmp_path: Path) -> None:
    add_entry(run, tmp_path, "Ann")
    add_entry(run, tmp_path, "Bo")
    opening = opening_at(run, "2026-11-23T09:00")
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--broadcast", "2", "--json"))
    closed = envelope(run("openings", "close", opening["id"][:8], "--note", "off", "--json"))
    assert closed == {"opening_id": opening["id"], "status": "closed", "offers_ended": 2}
    live = envelope(run("offers", "list", "--json"))
    assert live == [] and {Offer.get_by_id(o["id"]).status for o in sent} == {"rescinded"}
    refused(run("openings", "close", opening["id"], "--json"), 4090)
