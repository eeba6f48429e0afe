"""Query counts pinned: an N+1 in offering fails here, not on a busy desk's PostgreSQL.

A broadcast to 10 used to cost 155 queries: the outbox re-read the offer's opening, entry,
client, clinic, service and provider, and its message, for every offer. The count below is
the budget: a change that adds a query per offer breaks it by 10.
"""

from __future__ import annotations

from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.store.models import Clinic, OutboxMessage

# 14 for the batch (the opening and its lock, the candidates (claimed, not counted: the two
# counts went), the daily limit, the rows the messages name, the opening's workflow, the views
# returned) and 5 writes per offer: the entry's move, the offer, its audit row, its message,
# the message's audit row. Before the outbox was told the rows its caller holds it was 155 on
# both backends. Plus 12 for the fairness record (fill/fairness.py), once per offer call
# whatever its size: the opening's earlier offers and skips, the entries kept out, the ranked
# entries' details and offers today, the lead-time rule, the record and its stamps (a
# broadcast to 5 costs 14 + 12 + 5 * 5). It was 16 until the record shared the offer call's
# SlotShape (the provider's services were read three times per call, now once), and 14 until
# it read the ranking alone (matching.fits), not the names and preferences a page shows.
BROADCAST_10_QUERIES = 14 + 12 + 5 * 10


def test_a_broadcast_to_10_costs_a_fixed_number_of_queries(clinic: Clinic) -> None:
    for i in range(12):
        add_entry(f"B{i}", priority=1 + i % 5)
    opening = monday_opening()
    with count_queries() as counter:
        sent = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=10)
    assert len(sent) == 10
    assert OutboxMessage.select().count() == 10  # each offer's message was written
    assert counter.count == BROADCAST_10_QUERIES
