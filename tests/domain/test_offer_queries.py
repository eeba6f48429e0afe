"""Query counts pinned: an N+1 in offering fails here, not on a busy desk's PostgreSQL.

A broadcast to 10 used to cost about 6 extra queries per offer (the outbox re-read the offer's
opening, entry, client, clinic, service and provider). The counts below are the budget: a
change that adds a query per offer breaks them by 10.
"""

from __future__ import annotations

from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.store.models import Clinic, OutboxMessage

BROADCAST_10_QUERIES = 155  # measured before the outbox was told the rows its caller holds


def test_a_broadcast_to_10_costs_a_fixed_number_of_queries(clinic: Clinic) -> None:
    for i in range(12):
        add_entry(f"B{i}", priority=1 + i % 5)
    opening = monday_opening()
    with count_queries() as counter:
        sent = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=10)
    assert len(sent) == 10
    assert OutboxMessage.select().count() == 10  # each offer's message was written
    print("QUERIES", counter.count)
    assert counter.count == BROADCAST_10_QUERIES
