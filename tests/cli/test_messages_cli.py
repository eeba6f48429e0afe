"""Messages on the command line: outbox list/deliver and reply, as a gateway or cron calls them.

The dates below are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import json

from tests.cli.conftest import add_entry, envelope


def test_offer_deliver_list_and_reply(run, tmp_path, monkeypatch) -> None:
    out = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("WAITLIST_OUTBOX_FILE", str(out))
    add_entry(run, tmp_path, "Ann", "Lee")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    (offer,) = envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    (queued,) = envelope(run("outbox", "list", "--status", "pending", "--json"))
    assert queued["idempotency_key"] == f"offer:{offer['id']}:v1"
    assert queued["recipient"].startswith("+1617") and "*" in queued["recipient"]
    assert envelope(run("outbox", "deliver", "--batch", "5", "--json"))["sent"] == 1
    line = json.loads(out.read_text())
    assert line["idempotency_key"] == queued["idempotency_key"] and line["to"] == offer["phone"]
    reply = envelope(run("reply", "--from", offer["phone"], "--text", "YES", "--json"))
    assert reply["outcome"] == "accepted" and reply["offer_id"] == offer["id"]
    statuses = {m["kind"]: m["status"] for m in envelope(run("outbox", "list", "--json"))}
    assert statuses == {"offer": "sent", "booked": "pending"}
    assert envelope(run("replies", "list", "--json"))[0]["outcome"] == "accepted"


def test_reply_to_another_clients_offer_is_4030(run, tmp_path) -> None:
    add_entry(run, tmp_path, "Ann", "Lee")
    add_entry(run, tmp_path, "Bob", "Wu")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    ann, bob = envelope(
        run("offers", "send", "--opening", opening["id"], "--broadcast", "2", "--json")
    )
    result = run("reply", "--from", ann["phone"], "--text", "YES", "--ref", bob["id"], "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["code"] == 4030
    text = run("outbox", "list", "--status", "bogus")
    assert text.exit_code == 2  # click refuses an unknown status


def test_a_delivery_loop_stopped_by_ctrl_c_prints_its_totals(run, tmp_path, monkeypatch) -> None:
    from waitlist_tui.domain.messaging import delivery

    monkeypatch.setenv("WAITLIST_OUTBOX_FILE", str(tmp_path / "outbox.jsonl"))
    add_entry(run, tmp_path, "Ann", "Lee")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    run("offers", "send", "--opening", opening["id"], "--json")

    def stop_sleeping(seconds: float) -> None:
        raise KeyboardInterrupt  # the desk presses Ctrl+C while the loop waits

    monkeypatch.setattr(delivery.time, "sleep", stop_sleeping)
    result = run("outbox", "deliver", "--loop", "--json")
    assert result.exit_code == 0
    assert envelope(result)["sent"] == 1


def test_outbox_list_shows_the_providers_delivery_receipt(run, tmp_path, monkeypatch) -> None:
    """A receipt kept on the row (as the SMS webhooks keep it) shows in `outbox list`: the
    --json fields and the table's delivery column."""
    from waitlist_tui.domain.messaging import receipts

    monkeypatch.setenv("WAITLIST_OUTBOX_FILE", str(tmp_path / "outbox.jsonl"))
    add_entry(run, tmp_path, "Ann", "Lee")
    opening = envelope(run("openings", "add", "--provider", "KIM", "--start",
                           "2026-11-23T09:00", "--minutes", "60", "--json"))  # fmt: skip
    envelope(run("offers", "send", "--opening", opening["id"], "--json"))
    (queued,) = envelope(run("outbox", "list", "--json"))
    assert (queued["delivery_status"], queued["delivery_error"]) == (None, None)
    envelope(run("outbox", "deliver", "--json"))
    kept = receipts.record_status(f"file:{queued['idempotency_key']}", "undelivered", "30003")
    assert kept.changed
    (row,) = envelope(run("outbox", "list", "--json"))
    assert (row["delivery_status"], row["delivery_error"]) == ("undelivered", "30003")
    assert row["delivery_at"].startswith("2026-11-20")
    monkeypatch.setenv("COLUMNS", "220")  # the whole table on one line a row
    table = run("outbox", "list")
    assert table.exit_code == 0 and "delivery" in table.output
    assert "undelivered (30003)" in table.output
