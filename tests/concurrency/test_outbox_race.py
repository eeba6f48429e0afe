"""Two delivery loops (two desks) over one outbox: every message is sent once, never twice.

PostgreSQL claims with FOR UPDATE SKIP LOCKED (1,000 messages, as the issue asks); SQLite
serialises claims and keeps them apart with leases (300 messages: its writers queue)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.domain.outbox_helpers import Gateway, a_client, queue_messages, serve
from waitlist_tui.domain.messaging import delivery
from waitlist_tui.domain.messaging.transports import Transports, WebhookTransport
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic, OutboxMessage

LOOPS = 2


def test_two_delivery_loops_never_send_a_message_twice(clinic: Clinic, backend: str) -> None:
    total = 1000 if backend == "postgres" else 300
    keys = queue_messages(clinic, a_client(clinic), total)
    gateway = Gateway()
    server, url = serve(gateway)
    hook = WebhookTransport(url, timeout=5)
    chosen = Transports(hook, hook)
    barrier = threading.Barrier(LOOPS)
    reports: list[delivery.Report] = []
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            with database.connection_context():
                barrier.wait()
                reports.append(delivery.deliver(chosen, batch=25))
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=loop) for _ in range(LOOPS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert not errors, errors
    requests = Counter(gateway.requests)
    assert sorted(requests) == sorted(keys)
    assert max(requests.values()) == 1  # no message reached the gateway twice
    assert sum(r.sent for r in reports) == total
    assert all(r.sent > 0 for r in reports), [r.sent for r in reports]  # both loops worked
    sent_by = [set(r.keys) for r in reports]
    assert not sent_by[0] & sent_by[1]
    assert OutboxMessage.select().where(OutboxMessage.status == "sent").count() == total
    assert OutboxMessage.select().where(OutboxMessage.claim_token.is_null(False)).count() == 0


@pytest.mark.parametrize("batch", [1, 7])
def test_claims_of_two_loops_are_disjoint(clinic: Clinic, batch: int) -> None:
    """Claim without sending: what one loop leased, the other cannot take until it expires."""
    queue_messages(clinic, a_client(clinic), 10)
    first = delivery.claim(batch, "loop-a")
    second = delivery.claim(10, "loop-b")
    assert len(first) == batch and len(second) == 10 - batch
    assert not {m.id for m in first} & {m.id for m in second}
    assert delivery.claim(10, "loop-c") == []
