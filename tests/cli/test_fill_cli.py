"""The fill engine from the command line: cancellation to booking, with the JSON contract.

The dates below are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import json

from tests.cli.conftest import add_entry, envelope
from tests.conftest import FROZEN


def add(run, tmp_path, first: str, **extra) -> str:
    return add_entry(run, tmp_path, first, "Cli", **extra)


def test_cancellation_to_booking(run, tmp_path) -> None:
    first = add(run, tmp_path, "Ann", priority=1)
    second = add(run, tmp_path, "Bartholomew", priority=2, preferred_days=["FRIDAY"])
    opening = envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            "2026-11-23T09:00",
            "--minutes",
            "60",
            "--json",
        )
    )
    assert opening["slot_start"] == "2026-11-23T14:00:00Z" and opening["status"] == "open"
    listed = envelope(run("openings", "list", "--json"))
    assert [o["id"] for o in listed] == [opening["id"]]
    ranked = envelope(run("match", "--opening", opening["id"][:8], "--json"))
    assert [c["entry_id"] for c in ranked["items"]] == [first, second]
    assert [c["match_type"] for c in ranked["items"]] == ["EXACT", "PARTIAL"]
    assert ranked["items"][1]["fails"] == ["day"]
    sent = envelope(run("offers", "send", "--opening", opening["id"][:8], "--json"))
    assert [o["entry_id"] for o in sent] == [first]
    declined = envelope(run("offers", "decline", sent[0]["id"][:8], "--note", "away", "--json"))
    assert declined["offer"]["status"] == "declined"
    nxt = declined["next_offers"][0]
    assert nxt["entry_id"] == second
    live = envelope(run("offers", "list", "--json"))
    assert [o["id"] for o in live] == [nxt["id"]]
    booked = envelope(run("offers", "accept", nxt["id"][:8], "--json"))
    assert booked["offer"]["status"] == "accepted" and booked["appointment_id"]
    again = run("offers", "accept", nxt["id"][:8], "--json")
    assert again.exit_code == 1 and json.loads(again.output)["code"] == 4090
    shown = envelope(run("entries", "show", second[:8], "--include-offers", "--json"))
    assert shown["status"] == "booked" and shown["matched_invites"][0]["status"] == "accepted"
    day = envelope(
        run("appointments", "list", "--date", "2026-11-23", "--provider", "KIM", "--json")
    )
    assert [a["entry_id"] for a in day] == [second]
    cancelled = envelope(run("appointments", "cancel", day[0]["id"][:8], "--json"))
    assert cancelled["opening"]["source"] == "cancellation"
    free = envelope(run("match", "--entry", first[:8], "--json"))
    assert free and all(g["provider"] in ("KIM", "PATEL", "LINDQVIST") for g in free)


def test_broadcast_notify_expire_and_errors(run, tmp_path) -> None:
    for name in ("Cy", "Dee", "Eve"):
        add(run, tmp_path, name)
    opening = envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            "2026-11-24T10:00",
            "--minutes",
            "60",
            "--json",
        )
    )
    sent = envelope(run("offers", "send", "--opening", opening["id"], "--broadcast", "2", "--json"))
    assert len(sent) == 2
    rescinded = envelope(run("offers", "rescind", sent[0]["id"], "--json"))
    assert rescinded["offer"]["status"] == "rescinded" and rescinded["next_offers"] == []
    notify = envelope(run("notify", "--service", "PT-EVAL", "--date", "2026-11-24", "--json"))
    assert notify["message"] == "Found 2 clients to notify about availability on 2026-11-24"
    counts = envelope(run("expire", "--json"))
    assert counts["offers_expired"] == 0 and "seat_offers_expired" in counts
    clash = run(
        "openings",
        "add",
        "--provider",
        "KIM",
        "--start",
        "2026-11-24T10:30",
        "--minutes",
        "30",
        "--json",
    )
    assert json.loads(clash.output)["code"] == 4090
    bad = run("openings", "add", "--provider", "KIM", "--start", "tomorrow", "--minutes", "30")
    assert bad.exit_code == 1 and "start must be a local date-time" in bad.output
    neither = run("match", "--json")
    assert json.loads(neither.output)["code"] == 4000


def test_offers_attempt(run, tmp_path) -> None:
    first = add(run, tmp_path, "Fay", priority=1)
    second = add(run, tmp_path, "Gus", priority=2)
    opening = envelope(
        run(
            "openings",
            "add",
            "--provider",
            "KIM",
            "--start",
            "2026-11-24T09:00",
            "--minutes",
            "60",
            "--json",
        )
    )
    sent = envelope(run("offers", "send", "--opening", opening["id"][:8], "--json"))
    offer_id = sent[0]["id"]
    assert sent[0]["entry_id"] == first
    left = envelope(
        run(
            "offers",
            "attempt",
            offer_id[:8],
            "--outcome",
            "voicemail",
            "--note",
            "left msg",
            "--json",
        )
    )
    assert left["outcome"] == "voicemail" and left["released"] is False
    assert left["offer"]["status"] == "sent" and left["attempts"]["count"] == 1
    said = run("offers", "attempt", offer_id[:8], "--outcome", "voicemail")
    assert "; the offer still waits for a reply" in said.output  # not "offer sent"
    text = run("offers", "attempt", offer_id[:8], "--outcome", "no_answer")
    assert text.exit_code == 0, text.output
    assert "no answer logged for Fay Cli (calls: 3); the offer is now expired" in text.output
    assert "next offer sent to Gus Cli" in text.output
    live = envelope(run("offers", "list", "--json"))
    assert [o["entry_id"] for o in live] == [second]
    bad = run("offers", "attempt", live[0]["id"][:8], "--outcome", "busy", "--json")
    body = json.loads(bad.output)
    assert bad.exit_code == 1 and body["code"] == 4000
    assert "no_answer, voicemail, declined_by_phone" in body["message"]
    closed = run("offers", "attempt", offer_id[:8], "--outcome", "voicemail", "--json")
    assert closed.exit_code == 1 and json.loads(closed.output)["code"] == 4090
    assert "offer is expired" in json.loads(closed.output)["message"]
    declined = envelope(
        run("offers", "attempt", live[0]["id"][:8], "--outcome", "declined_by_phone", "--json")
    )
    assert declined["offer"]["status"] == "declined" and declined["next_offers"] == []


def test_list_commands_say_their_order_and_when_there_is_more(run, tmp_path) -> None:
    """`offers list` stopped at 200 rows, oldest first, without a word: accepted offers are
    listed newest first, a page at a time, and the text says where the rest is."""
    from tests.timetravel import move_to
    from waitlist_tui.domain.store.models import Offer

    names = ["Ann", "Bea", "Cy"]
    for minutes, first in enumerate(names):
        entry = add(run, tmp_path, first)
        start = f"2026-11-2{3 + minutes}T09:00"
        opening = envelope(
            run(
                "openings",
                "add",
                "--provider",
                "KIM",
                "--start",
                start,
                "--minutes",
                "60",
                "--json",
            )
        )
        move_to(FROZEN.add(minutes=minutes))  # sent and accepted in this order
        (sent,) = envelope(
            run("offers", "send", "--opening", opening["id"], "--entry", entry, "--json")
        )
        envelope(run("offers", "accept", sent["id"], "--json"))
    first_page = run("offers", "list", "--status", "accepted", "--limit", "2")
    assert first_page.exit_code == 0, first_page.output
    assert first_page.output.index("Cy") < first_page.output.index("Bea")  # newest first
    assert "Ann" not in first_page.output
    assert "rows 1-2, newest first; more with --offset 2" in first_page.output
    rest = run("offers", "list", "--status", "accepted", "--limit", "2", "--offset", "2")
    assert "Ann" in rest.output and "rows 3-3, newest first; no more" in rest.output
    paged = envelope(run("offers", "list", "--status", "all", "--limit", "1", "--json"))
    assert len(paged) == 1 and Offer.select().count() == 3
    bad = run("offers", "list", "--limit", "0", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["code"] == 4000
    assert "limit" in json.loads(bad.output)["message"]
    assert run("reply", "--from", "617-555-0199", "--text", "thanks").exit_code == 0
    assert run("reply", "--from", "617-555-0198", "--text", "see you").exit_code == 0
    for command in (("outbox", "list"), ("replies", "list")):
        shown = run(*command, "--limit", "1")
        assert shown.exit_code == 0, shown.output
        assert "rows 1-1, newest first; more with --offset 1" in shown.output


def test_text_output_is_in_clinic_time_and_json_in_utc(run, tmp_path) -> None:
    """An 08:00 appointment printed as 2026-12-09T13:00:00Z in the text output."""
    entry = add(run, tmp_path, "Hal")
    start = ["--provider", "KIM", "--start", "2026-11-23T09:00", "--minutes", "60"]
    opening = envelope(run("openings", "add", *start, "--json"))
    assert opening["slot_start"] == "2026-11-23T14:00:00Z"  # JSON: UTC as before
    added = run(
        "openings", "add", "--provider", "KIM", "--start", "2026-11-23T13:00", "--minutes", "30"
    )
    assert added.output.strip().endswith("at Mon 23 Nov 13:00"), added.output
    listed = run("openings", "list")
    assert "23 Nov" in listed.output and "09:00" in listed.output
    assert "14:00:00Z" not in listed.output
    run("offers", "send", "--opening", opening["id"], "--entry", entry, "--json")
    offers_text = run("offers", "list").output
    assert "Mon 23" in offers_text and "09:00" in offers_text  # the table wraps at 80 columns
    assert "Fri 20" in offers_text and "11:30" in offers_text  # the reply-by time, clinic time
    assert "14:00:00Z" not in offers_text and "T14" not in offers_text
    empty = run("offers", "send", "--opening", added.output.split()[1], "--json")
    body = json.loads(empty.output)
    assert empty.exit_code == 1 and body["code"] == 4090  # nobody: said, not a 2000 with []
    assert body["message"].startswith("nobody on the waitlist can take this opening")


def test_openings_add_outside_the_providers_hours_asks_for_the_flag(run) -> None:
    """A gap typed at 01:30 or on a Sunday went through without a word."""
    sunday = run("openings", "add", "--provider", "KIM", "--start", "2026-11-22T10:00",
                 "--minutes", "60", "--json")  # fmt: skip
    body = json.loads(sunday.output)
    assert sunday.exit_code == 1 and body["code"] == 4000
    assert (
        body["message"] == "start: KIM does not work on Sundays (--outside-hours opens it anyway)"
    )
    night = json.loads(run("openings", "add", "--provider", "KIM", "--start", "2026-11-23T01:30",
                           "--minutes", "60", "--json").output)  # fmt: skip
    assert night["message"].startswith("start: 01:30-02:30 is outside KIM's hours on Mon (")
    forced = run("openings", "add", "--provider", "KIM", "--start", "2026-11-22T10:00",
                 "--minutes", "60", "--outside-hours", "--json")  # fmt: skip
    assert envelope(forced)["status"] == "open"


def test_openings_add_with_offers_opens_and_offers_in_one_transaction(run, tmp_path) -> None:
    """`openings add --broadcast N` / `--offer`: opened and offered at once; an offer nobody
    can take leaves no opening behind (a script's `add` then `send` left one open)."""
    first = add(run, tmp_path, "Ivy", priority=1)
    second = add(run, tmp_path, "Jon", priority=2)
    slot = ["--provider", "KIM", "--minutes", "60"]
    both = envelope(
        run("openings", "add", *slot, "--start", "2026-11-23T09:00", "--broadcast", "2", "--json")
    )
    assert both["status"] == "open" and both["workflow_type"] == "BROADCAST"
    assert [o["entry_id"] for o in both["offers"]] == [first, second]
    assert {o["opening_id"] for o in both["offers"]} == {both["id"]}
    nobody = run("openings", "add", *slot, "--start", "2026-11-23T11:00", "--offer", "--json")
    assert nobody.exit_code == 1 and json.loads(nobody.output)["code"] == 4090
    assert [o["id"] for o in envelope(run("openings", "list", "--json"))] == [both["id"]]
    sunday = run("openings", "add", *slot, "--start", "2026-11-22T10:00", "--offer", "--json")
    assert sunday.exit_code == 1 and json.loads(sunday.output)["code"] == 4000  # outside hours
    add(run, tmp_path, "Kay", priority=3)
    text = run("openings", "add", *slot, "--start", "2026-11-23T13:00", "--offer")
    assert text.exit_code == 0, text.output
    assert "at Mon 23 Nov 13:00; offered to Kay Cli" in text.output, text.output
