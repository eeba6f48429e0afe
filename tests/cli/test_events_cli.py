"""`waitlist-tui events ...`: list, enrol, join, cancel with promotion, accept, decline.

The dates below are the frozen clock's (Friday 2026-11-20, the `run` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import envelope
from tests.conftest import FROZEN
from tests.timetravel import move_to
from waitlist_tui.domain.store.models import Client, Clinic, EventInstance, Provider, Service

SETUP = str(Path(__file__).resolve().parents[2] / "assets" / "demo_clinic.toml")


def _class_and_clients(capacity: int, n: int) -> tuple[EventInstance, list[Client]]:
    clinic = Clinic.get()
    starts = FROZEN.add(days=3)
    inst = EventInstance.create(
        clinic=clinic,
        service=Service.get(Service.code == "PILATES"),
        provider=Provider.get(Provider.code == "PATEL"),
        starts_at=starts,
        ends_at=starts.add(hours=1),
        capacity=capacity,
    )
    people = [
        Client.create(
            clinic=clinic,
            first_name=f"Ana{i}",
            last_name="Silva",
            created_at=FROZEN,
            updated_at=FROZEN,
            created_by="maria",
            updated_by="maria",
        )
        for i in range(n)
    ]
    return inst, people


def test_events_through_the_cli(run) -> None:
    inst, (seat, first, second) = _class_and_clients(capacity=1, n=3)
    iid = str(inst.id)[:8]
    enrolled = envelope(run("events", "enrol", iid, "--client", str(seat.id)[:8], "--json"))
    assert enrolled["status"] == "enrolled" and enrolled["created_by"] == "maria"

    full = run("events", "enrol", iid, "--client", str(first.id), "--json")
    assert full.exit_code == 1
    assert json.loads(full.output) == {
        "code": 4090,
        "message": "class is full: join its waitlist",
        "data": {"seats_free": 0},
    }
    queued = envelope(run("events", "join", iid, "--client", str(first.id), "--json"))
    assert queued["status"] == "waitlisted" and queued["position"] == 1
    move_to(FROZEN.add(minutes=5))
    second_text = run("events", "join", iid, "--client", str(second.id))
    assert second_text.exit_code == 0 and "waitlist position 2" in second_text.output

    shown = envelope(run("events", "show", iid, "--json"))
    assert [
        (e["client"]["first_name"], e["status"], e["position"]) for e in shown["enrolments"]
    ] == [
        (seat.first_name, "enrolled", None),
        (first.first_name, "waitlisted", 1),
        (second.first_name, "waitlisted", 2),
    ]
    assert "waitlist position 2" in run("events", "show", iid).output

    listed = envelope(run("events", "list", "--from", "2026-11-23", "--json"))["items"]
    assert [(i["id"], i["enrolled"], i["waitlist_length"], i["seats_free"]) for i in listed] == [
        (str(inst.id), 1, 2, 0)
    ]
    assert "PILATES" in run("events", "list").output
    assert envelope(run("events", "list", "--from", "2026-11-24", "--json"))["items"] == []

    # Enroll mode (the demo clinic's): cancelling the seat enrols the first in line.
    cancelled = envelope(run("events", "cancel", enrolled["id"][:8], "--json"))
    assert cancelled["status"] == "cancelled"
    assert [(p["id"], p["status"]) for p in cancelled["promoted"]] == [(queued["id"], "enrolled")]
    closed = run("events", "cancel", enrolled["id"])
    assert closed.exit_code == 1 and "4090: enrolment is closed" in closed.output

    # Offer mode: the next freed seat is held for the next in line, who answers it.
    Clinic.update(event_waitlist_mode="offer").execute()
    promoted = envelope(run("events", "cancel", queued["id"], "--json"))["promoted"]
    assert (
        promoted[0]["status"] == "offered" and promoted[0]["expires_at"] == "2026-11-20T16:35:00Z"
    )
    declined = run("events", "decline", promoted[0]["id"][:8])
    assert declined.exit_code == 0 and declined.output.startswith("cancelled")

    invalid = run(
        "events", "join", "00000000-0000-4000-8000-000000000000", "--client", str(seat.id)
    )
    assert invalid.exit_code == 1 and "4220: Invalid event instance" in invalid.output
    assert run("events", "accept", promoted[0]["id"]).exit_code == 1


def test_events_add_schedules_a_class(run) -> None:
    made = envelope(
        run("events", "add", "--service", "PILATES", "--start", "2026-11-26T18:00",
            "--capacity", "6", "--provider", "PATEL", "--json")
    )  # fmt: skip
    assert made["capacity"] == 6 and made["provider"] == "PATEL" and made["seats_free"] == 6
    text = run("events", "add", "--service", "PILATES", "--start", "2026-11-27T18:00",
               "--capacity", "6").output  # fmt: skip
    assert text.startswith("Scheduled PILATES")
    refused = run("events", "add", "--service", "PT-EVAL", "--start", "2026-11-26T18:00",
                  "--capacity", "6", "--json")  # fmt: skip
    assert refused.exit_code != 0
    assert json.loads(refused.output)["code"] == 4000
    assert len(envelope(run("events", "list", "--json"))["items"]) == 2
