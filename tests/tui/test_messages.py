"""The messages screen: the outbox with its statuses, filtered by status, opened from triage."""

from __future__ import annotations

import random

from textual.widgets import DataTable, Static

from tests.conftest import FROZEN
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_triage import four_offers, open_triage
from waitlist_tui.domain.messaging import delivery
from waitlist_tui.domain.messaging.transports import TransportError, Transports
from waitlist_tui.domain.store.models import OutboxMessage
from waitlist_tui.tui.screens.messages import MessagesScreen


class Gateway:
    """Takes Eve's and Ann's texts, refuses Cara's for good, is down for Dan's."""

    name = "webhook"

    def send(self, message) -> str:
        if "5550103" in message.recipient:
            raise TransportError("webhook HTTP 400", permanent=True)
        if "5550104" in message.recipient:
            raise TransportError("webhook: TimeoutError: timed out")
        return f"gw-{message.recipient[-4:]}"


def outbox_states() -> None:
    """Four offers (and their texts): two sent, one dead, one failed waiting for a retry.
    Keys and references made from the client's name, and the rows queued a minute apart, so
    that the screen does not depend on random ids."""
    sent = four_offers()
    for minutes, (name, view) in enumerate(sorted(sent.items())):
        ref = str(view.id)[:6].upper()
        message = OutboxMessage.get(OutboxMessage.ref_id == str(view.id))
        OutboxMessage.update(
            idempotency_key=f"offer:{name}:v1",
            body=message.body.replace(ref, name.upper()),
            created_at=FROZEN.subtract(minutes=minutes),
        ).where(OutboxMessage.id == message.id).execute()
    gateway = Gateway()
    policy = delivery.RetryPolicy(max_attempts=3, base_seconds=60, jitter=0.0)
    delivery.deliver(Transports(gateway, gateway), policy=policy, rng=random.Random(1))


async def open_messages(pilot) -> None:
    await open_triage(pilot)
    await pilot.press("m")
    await settle(pilot)


def test_messages_snapshot(clinic_only_db, snap_compare) -> None:
    outbox_states()
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_messages)


def receipts_came() -> None:
    """The provider's receipts: Eve's text delivered, Ann's undelivered (error 30003)."""
    for phone, status, code in (("0105", "delivered", None), ("0101", "undelivered", "30003")):
        OutboxMessage.update(
            delivery_status=status, delivery_error=code, delivery_at=FROZEN.add(minutes=1)
        ).where(OutboxMessage.provider_message_id == f"gw-{phone}").execute()


def test_messages_show_delivery_receipts_snapshot(clinic_only_db, snap_compare) -> None:
    """The Delivery column (green delivered, red undelivered with its code), and the line
    under the table telling the desk to phone the client whose text did not arrive."""
    outbox_states()
    receipts_came()

    async def on_ann(pilot) -> None:
        await open_messages(pilot)
        table = pilot.app.screen.query_one(DataTable)
        keys = [str(k.value) for k in table.rows]
        ann = OutboxMessage.get(OutboxMessage.provider_message_id == "gw-0101")
        table.move_cursor(row=keys.index(str(ann.id)))
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=on_ann)


async def test_the_detail_line_says_to_phone_when_a_text_did_not_arrive(clinic_only_db) -> None:
    outbox_states()
    receipts_came()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        screen = app.screen
        table = screen.query_one(DataTable)
        keys = [str(k.value) for k in table.rows]
        by_id = {str(m.id): m for m in OutboxMessage.select()}
        shown = {}
        for row, key in enumerate(keys):
            table.move_cursor(row=row)
            await settle(pilot)
            cells = [str(c) for c in table.get_row_at(row)]
            detail = screen.query_one("#messages-detail", Static)
            shown[by_id[key].provider_message_id] = (cells[7], str(detail.render()))
        assert shown["gw-0105"][0] == "delivered" and "phone" not in shown["gw-0105"][1]
        assert shown["gw-0101"][0] == "undelivered"
        assert "Not delivered (undelivered, error 30003, " in shown["gw-0101"][1]
        assert "phone the client" in shown["gw-0101"][1]


def test_messages_failed_filter_snapshot(clinic_only_db, snap_compare) -> None:
    outbox_states()

    async def failed_only(pilot) -> None:
        await open_messages(pilot)
        await pilot.press("s", "s", "s")  # all -> pending -> sent -> failed
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=failed_only)


async def test_status_filter_cycles_and_escape_goes_back(clinic_only_db) -> None:
    outbox_states()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        screen = app.screen
        assert isinstance(screen, MessagesScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        seen = {}
        for status in ("pending", "sent", "failed", "dead"):
            await pilot.press("s")
            await settle(pilot)
            seen[status] = {m.status for m in screen.rows} or set()
            expected = OutboxMessage.select().where(OutboxMessage.status == status).count()
            assert table.row_count == expected, status
        assert seen == {"pending": set(), "sent": {"sent"}, "failed": {"failed"}, "dead": {"dead"}}
        await pilot.press("s")
        await settle(pilot)
        assert table.row_count == 4
        detail = str(screen.query_one("#messages-detail", Static).render())
        assert "offer:" in detail
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "TriageScreen"


async def test_columns_are_sized_from_their_cells_on_the_first_paint(clinic_only_db) -> None:
    """The screen once opened with every column cut to about 6 characters: columns added
    without widths settle on idle, and a paint before that cuts cells to the header's width.
    The first rows set the widths themselves now."""
    outbox_states()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 4
        for index, column in enumerate(table.ordered_columns):
            assert not column.auto_width, column.label
            cells = [str(table.get_cell_at((row, index))) for row in range(table.row_count)]
            assert column.width >= max(len(cell) for cell in cells), column.label
