"""Consent on the command line: `entries add` reads it strictly, `reply` acts on STOP / START /
HELP, `clients update` records what a client said.

The dates below are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import json

from tests.cli.conftest import add_entry, envelope


def client_of(run, entry_id: str) -> dict:
    entry = envelope(run("entries", "show", entry_id, "--json"))
    (found,) = envelope(run("clients", "list", "--search", entry["client"]["last_name"], "--json"))[
        "items"
    ]
    return found


def test_entries_add_reads_consent_strictly(run, tmp_path) -> None:
    entry = add_entry(run, tmp_path, "Ann", "Lee", client={
        "first_name": "Ann", "last_name": "Lee", "phone": "617-555-0101",
        "consent_sms": "false", "consent_email": "OFF",
    })  # fmt: skip
    got = client_of(run, entry)
    assert (got["consent_sms"], got["consent_email"]) == (False, False)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({
        "client": {"first_name": "Bob", "last_name": "Wu", "phone": "617-555-0102",
                   "consent_sms": "maybe"},
        "service": "PT-EVAL", "payment_type": "SELF_PAY",
    }))  # fmt: skip
    result = run("entries", "add", "--json-file", str(path), "--json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["code"] == 4000
    assert body["message"].startswith("client.consent_sms must be true or false")
    assert envelope(run("clients", "list", "--search", "Wu", "--json"))["total"] == 0


def test_stop_start_and_help_by_sms_reply(run, tmp_path, monkeypatch) -> None:
    out = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("WAITLIST_OUTBOX_FILE", str(out))
    entry = add_entry(run, tmp_path, "Ann", "Lee")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    (offer,) = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    stop = envelope(run("reply", "--from", offer["phone"], "--text", "STOP", "--json"))
    assert stop["outcome"] == "opted_out" and offer["id"] in stop["detail"]
    assert client_of(run, entry)["consent_sms"] is False
    (shown,) = envelope(run("offers", "list", "--status", "declined", "--json"))
    assert (shown["status"], shown["note"]) == ("declined", "opted out by STOP")
    assert envelope(run("outbox", "deliver", "--json"))["dead"] == 1  # the offer's text
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["idempotency_key"] for m in sent] == [stop["message_key"]]  # only the confirmation
    text = run("reply", "--from", offer["phone"], "--text", "help")
    assert text.exit_code == 0 and text.output.startswith("help: Ann Lee")
    start = envelope(run("reply", "--from", offer["phone"], "--text", "Start", "--json"))
    assert start["outcome"] == "opted_in" and client_of(run, entry)["consent_sms"] is True
    outcomes = [r["outcome"] for r in envelope(run("replies", "list", "--json"))]
    assert sorted(outcomes) == ["help", "opted_in", "opted_out"]


def test_clients_update_records_consent(run, tmp_path) -> None:
    entry = add_entry(run, tmp_path, "Ann", "Lee")
    client_id = client_of(run, entry)["id"]
    got = envelope(run("clients", "update", client_id[:8], "--consent-email", "no", "--json"))
    assert (got["consent_sms"], got["consent_email"]) == (True, False)
    result = run("clients", "update", client_id, "--consent-sms", "perhaps", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["code"] == 4000
    assert "client.consent_sms" in json.loads(result.output)["message"]
