"""Offer links: a token made as the offer's text goes (never kept in clear), bound to its
offer, alive while the offer is sent and before its deadline, acting once, through the same
accept / decline as a reply; and the other candidates told at once when one books. Both
backends."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.link_helpers import (
    PUBLIC,
    deliver_to_file,
    token_in,
    tokens_by_phone,
    with_public_url,
)
from tests.timetravel import move_to
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.errors import NotFound, ValidationError
from waitlist_tui.domain.fill import offer_links, offers
from waitlist_tui.domain.messaging import outbox, sms_fit
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    Client,
    Clinic,
    Entry,
    Offer,
    OfferLink,
    OutboxMessage,
)

ANN, BOB, CY = "+16175550101", "+16175550102", "+16175550103"


def _people(*names: tuple[str, str]) -> None:
    for priority, (first, phone) in enumerate(names, start=1):
        add_entry(
            first,
            client={"first_name": first, "last_name": "Lee", "phone": phone},
            priority=priority,
        )


def broadcast(n: int = 2) -> list[offers.OfferView]:
    """Ann, Bob (and Cy) each hold an offer of the Monday 09:00 opening, best first."""
    _people(*[("Ann", ANN), ("Bob", BOB), ("Cy", CY)][:n])
    return offers.offer(monday_opening().id, STAFF, workflow="BROADCAST", top=n)


def texted(tmp_path: Path, n: int = 2) -> tuple[list[offers.OfferView], dict[str, str]]:
    """Offers texted with their links; (offers, token by phone)."""
    with_public_url()
    made = broadcast(n)
    return made, tokens_by_phone(deliver_to_file(tmp_path / "sent.jsonl"))


def test_no_public_url_no_link_in_the_offer_text(clinic: Clinic, tmp_path: Path) -> None:
    broadcast(1)
    (sent,) = deliver_to_file(tmp_path / "sent.jsonl")
    assert "/o/" not in sent["body"] and outbox.LINK_MARK not in sent["body"]
    assert sent["body"].endswith("Ref " + str(Offer.get().id)[:6].upper())
    assert OfferLink.select().count() == 0


def test_the_token_is_made_as_the_text_goes_and_only_its_hash_is_kept(
    clinic: Clinic, tmp_path: Path
) -> None:
    with_public_url()
    (ann,) = broadcast(1)
    queued = OutboxMessage.get()
    assert outbox.LINK_MARK in queued.body and "/o/" not in queued.body  # no token yet
    (sent,) = deliver_to_file(tmp_path / "sent.jsonl")
    token = token_in(sent["body"])
    assert sent["body"].endswith(f"{PUBLIC}/o/{token}") and len(token) == 22
    link = OfferLink.get()
    assert link.offer_id == ann.id
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert OutboxMessage.get().body == queued.body  # the outbox keeps the mark, not the link
    kept = [str(a.changes) for a in AuditEvent.select()]
    assert not any(token in text for text in kept)
    issued = AuditEvent.get(AuditEvent.action == "offer_link.issue")
    assert (issued.actor, issued.object_id) == ("delivery", str(ann.id))


def test_reading_a_link_changes_nothing_and_shows_the_slot(clinic: Clinic, tmp_path: Path) -> None:
    (ann, _), tokens = texted(tmp_path)
    rows = AuditEvent.select().count()
    view = offer_links.view(tokens[ANN])
    view_again = offer_links.view(tokens[ANN])
    assert view == view_again and view.live and view.why_not == ""
    assert (view.first_name, view.slot) == ("Ann", "Mon 23 Nov 09:00")
    assert view.service and view.provider and view.deadline
    assert AuditEvent.select().count() == rows
    assert Offer.get_by_id(ann.id).status == "sent"
    assert not OfferLink.select().where(OfferLink.used_at.is_null(False)).exists()


def test_accept_by_link_books_it_and_names_the_channel(clinic: Clinic, tmp_path: Path) -> None:
    (ann, bob), tokens = texted(tmp_path)
    done = offer_links.act(tokens[ANN], "accept")
    assert done.appointment_id is not None and not done.view.live
    assert Offer.get_by_id(ann.id).status == "accepted" and Appointment.select().count() == 1
    assert Offer.get_by_id(bob.id).status == "rescinded"
    accepted = AuditEvent.get(AuditEvent.action == "offer.accept")
    assert accepted.actor == "link"
    used = AuditEvent.get(AuditEvent.action == "offer_link.use")
    assert used.changes["action"] == [None, "accept"] and used.actor == "link"
    link = OfferLink.get(OfferLink.offer == ann.id)
    assert link.used_for == "accept" and link.used_at == clock.now()
    rows = AuditEvent.select().count()
    with pytest.raises(offer_links.LinkGone):  # single use
        offer_links.act(tokens[ANN], "decline")
    with pytest.raises(offer_links.LinkGone, match="taken by someone else"):
        offer_links.act(tokens[BOB], "accept")  # Bob's link died with his offer
    assert AuditEvent.select().count() == rows and Appointment.select().count() == 1


def test_decline_by_link_moves_a_sequential_opening_on(clinic: Clinic, tmp_path: Path) -> None:
    with_public_url()
    _people(("Ann", ANN), ("Bob", BOB))
    (ann,) = offers.offer(monday_opening().id, STAFF)
    token = tokens_by_phone(deliver_to_file(tmp_path / "sent.jsonl"))[ANN]
    offer_links.act(token, "decline")
    declined = Offer.get_by_id(ann.id)
    assert (declined.status, declined.note) == ("declined", "declined by link")
    assert Offer.get(Offer.status == "sent").entry_id != ann.entry_id  # Bob's turn
    assert Entry.get_by_id(ann.entry_id).status == "waiting"


def test_opt_out_by_link_withdraws_consent_and_ends_the_offer(
    clinic: Clinic, tmp_path: Path
) -> None:
    (ann, bob), tokens = texted(tmp_path)
    offer_links.act(tokens[ANN], "opt_out")
    client = Client.get(Client.phone == ANN)
    assert (client.consent_sms, client.consent_email) == (False, False)
    assert Offer.get_by_id(ann.id).status == "declined"
    ended = AuditEvent.get(
        AuditEvent.action == "offer.declined", AuditEvent.object_id == str(ann.id)
    )
    assert ended.changes["cause"] == [None, "opted_out"] and ended.actor == "link"
    assert Offer.get_by_id(bob.id).status == "sent"  # Bob is not touched
    with pytest.raises(offer_links.LinkGone):
        offer_links.act(tokens[ANN], "accept")


def test_a_link_dies_with_the_offers_deadline(clinic: Clinic, tmp_path: Path) -> None:
    (ann, _), tokens = texted(tmp_path)
    move_to(Offer.get_by_id(ann.id).expires_at + dt.timedelta(seconds=1))
    view = offer_links.view(tokens[ANN])
    assert not view.live and "passed" in view.why_not
    rows = AuditEvent.select().count()
    with pytest.raises(offer_links.LinkGone):
        offer_links.act(tokens[ANN], "accept")
    assert Offer.get_by_id(ann.id).status == "sent"  # the sweep ends it, not the link
    assert AuditEvent.select().count() == rows
    assert not OfferLink.select().where(OfferLink.used_at.is_null(False)).exists()


def test_a_link_dies_when_the_opening_is_withdrawn(clinic: Clinic, tmp_path: Path) -> None:
    (ann, _), tokens = texted(tmp_path)
    offers.withdraw_opening(ann.opening_id, STAFF)
    with pytest.raises(offer_links.LinkGone, match="ended"):
        offer_links.act(tokens[ANN], "accept")
    assert Appointment.select().count() == 0


@pytest.mark.parametrize(
    "token", ["", "x", "A" * 22, "A" * 500, "../../etc/passwd", "Ä" * 22, "a b" * 8]
)
def test_a_guessed_or_malformed_token_is_not_found_and_changes_nothing(
    clinic: Clinic, tmp_path: Path, token: str
) -> None:
    texted(tmp_path)
    rows = AuditEvent.select().count()
    with pytest.raises(NotFound):
        offer_links.view(token)
    with pytest.raises(NotFound):
        offer_links.act(token, "accept")
    assert (
        AuditEvent.select().count() == rows
        and Offer.select().where(Offer.status == "sent").count() == 2
    )


def test_an_unknown_action_is_refused(clinic: Clinic, tmp_path: Path) -> None:
    _, tokens = texted(tmp_path)
    with pytest.raises(ValidationError, match="action"):
        offer_links.act(tokens[ANN], "book")


def test_the_others_are_told_at_once_when_one_books(clinic: Clinic, tmp_path: Path) -> None:
    """Broadcast to three, texted; Ann books at the desk: Bob's and Cy's offers end and each
    gets "already filled" in the same transaction; Cy withdrew consent meanwhile: no message
    (an audit row says so). A late YES from Bob does not tell him twice."""
    made = broadcast(3)
    deliver_to_file(tmp_path / "sent.jsonl")
    ann, bob, cy = made
    cy_client = Client.get(Client.phone == CY)
    clients.update_consent(cy_client.id, {"consent_sms": False, "consent_email": False}, STAFF)
    offers.accept(ann.id, STAFF)
    assert {Offer.get_by_id(o.id).status for o in (bob, cy)} == {"rescinded"}
    told = OutboxMessage.get(OutboxMessage.idempotency_key == f"offer:{bob.id}:filled:v1")
    assert told.kind == "already_filled" and told.recipient == BOB and told.status == "pending"
    assert "already been filled" in told.body
    assert (
        not OutboxMessage.select()
        .where(OutboxMessage.idempotency_key == f"offer:{cy.id}:filled:v1")
        .exists()
    )
    assert (
        AuditEvent.select()
        .where(AuditEvent.action == "message.not_sent", AuditEvent.object_id == str(cy_client.id))
        .exists()
    )
    from waitlist_tui.domain.messaging import replies

    late = replies.handle_reply(BOB, "YES")
    assert late.outcome == "already_filled"
    filled = OutboxMessage.select().where(OutboxMessage.kind == "already_filled")
    assert filled.count() == 1
    sent = deliver_to_file(tmp_path / "sent.jsonl")
    assert [m["to"] for m in sent if "already been filled" in m["body"]] == [BOB]


def test_slot_taken_messages_roll_back_with_the_booking(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob = broadcast(2)
    deliver_to_file(tmp_path / "sent.jsonl")
    real = outbox.tell_offer

    def fail_on_filled(offer, kind, *args, **kwargs):
        if kind == "already_filled":
            raise RuntimeError("outbox down")
        return real(offer, kind, *args, **kwargs)

    monkeypatch.setattr(outbox, "tell_offer", fail_on_filled)
    messages = OutboxMessage.select().count()
    with pytest.raises(RuntimeError):
        offers.accept(ann.id, STAFF)
    assert Offer.get_by_id(ann.id).status == "sent" and Offer.get_by_id(bob.id).status == "sent"
    assert Appointment.select().count() == 0 and OutboxMessage.select().count() == messages


def test_an_offer_the_client_was_not_yet_texted_gets_no_slot_taken(clinic: Clinic) -> None:
    ann, bob = broadcast(2)  # queued, not sent: delivery drops Bob's (his offer ended)
    offers.accept(ann.id, STAFF)
    assert Offer.get_by_id(bob.id).status == "rescinded"
    assert not OutboxMessage.select().where(OutboxMessage.kind == "already_filled").exists()


def test_public_url_rules() -> None:
    check = message_settings.public_url
    assert check("https://desk.example.org/") == "https://desk.example.org"
    assert check("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert check("") == ""
    for bad in ("http://desk.example.org", "ftp://x", "https://x.org/?a=1", "https://u:p@x.org"):
        with pytest.raises(ValidationError, match="public_url"):
            check(bad)


def test_the_offer_text_with_its_link_still_fits_two_segments(clinic: Clinic) -> None:
    answer = with_public_url()
    assert answer["warnings"] == []
    template = message_settings.of(Clinic.get()).templates["offer"]["sms"]
    link = f"{PUBLIC}/o/" + "x" * 22
    fit = sms_fit.fit(template.format(**{**sms_fit.SAMPLE, "link": link}))
    assert fit.encoding == sms_fit.GSM7 and fit.segments <= sms_fit.MAX_SEGMENTS
    long_url = "https://" + "very-long-clinic-name." * 6 + "example.org"
    warned = with_public_url(long_url)["warnings"]
    assert any("offer text takes 3 SMS segments" in w for w in warned), warned


def test_one_link_tapped_at_once_from_two_phones_acts_once(clinic: Clinic, tmp_path: Path) -> None:
    """Two requests with the same link behind a barrier (a double tap, a forwarded text):
    one acts, the other is refused; never both, on each backend."""
    import threading

    from waitlist_tui.domain.errors import DomainError
    from waitlist_tui.domain.store.db import database

    (ann, _), tokens = texted(tmp_path)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def tap(action: str) -> None:
        with database.connection_context():
            barrier.wait()
            try:
                offer_links.act(tokens[ANN], action)
                result = action
            except DomainError as err:
                result = type(err).__name__
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=tap, args=(a,)) for a in ("accept", "decline")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["LinkGone", "accept"], ["LinkGone", "decline"]), outcomes
    assert OfferLink.get(OfferLink.offer == ann.id).used_for in ("accept", "decline")
    assert Offer.get_by_id(ann.id).status in ("accepted", "declined")
    uses = AuditEvent.select().where(AuditEvent.action == "offer_link.use").count()
    assert uses == 1
