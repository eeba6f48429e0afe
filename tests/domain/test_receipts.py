"""Delivery receipts on the outbox row: an unknown sid changes nothing, a final status is
never replaced, a repeat writes nothing; and the words the offers screen shows."""

from __future__ import annotations

import pytest

from tests.domain.outbox_helpers import a_client, queue_messages, row
from waitlist_tui.domain.messaging import receipts
from waitlist_tui.domain.store.models import AuditEvent, Clinic, OutboxMessage


def test_receipts_move_forward_only(clinic: Clinic) -> None:
    [key] = queue_messages(clinic, a_client(clinic), 1)
    OutboxMessage.update(status="sent", provider_message_id="SM9").execute()
    assert receipts.record_status("SMnope", "delivered") == receipts.ReceiptResult(
        False, False, None
    )
    assert receipts.record_status("SM9", "sent").changed
    assert receipts.record_status("SM9", "delivered").status == "delivered"
    assert not receipts.record_status("SM9", "delivered").changed  # twice
    assert not receipts.record_status("SM9", "failed", "30003").changed  # final stays
    assert not receipts.record_status("SM9", "bogus").changed
    kept = row(key)
    assert (kept.delivery_status, kept.delivery_error) == ("delivered", None)
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.object_id == str(kept.id))]
    assert actions.count("message.delivery") == 2


@pytest.mark.parametrize(
    ("status", "delivery", "label"),
    [
        ("pending", None, "queued"),
        ("failed", None, "retrying"),
        ("sent", None, "sent"),
        ("sent", "queued", "sent"),
        ("sent", "delivered", "delivered"),
        ("sent", "undelivered", "phone them"),
        ("sent", "failed", "phone them"),
        ("dead", None, "phone them"),
    ],
)
def test_the_desk_reads_how_far_a_text_got(status, delivery, label) -> None:
    assert receipts.text_label(status, delivery) == label
