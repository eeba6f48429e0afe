"""The offer-link page through aiohttp's test client: a GET shows the slot and never acts
(SMS apps preview links), the POST needs its CSRF pair and acts once; an unknown link is a
404 page, a used or dead one a 410 page, neither changes anything; requests per address are
limited; the page needs no JavaScript and fits a phone."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.domain.link_helpers import deliver_to_file, tokens_by_phone, with_public_url
from tests.domain.test_offer_links import ANN, BOB, broadcast
from tests.timetravel import move_to
from waitlist_tui.domain.store.models import Appointment, AuditEvent, Client, Offer, OfferLink
from waitlist_tui.web.app import make_app
from waitlist_tui.web.offer_links import CSRF_COOKIE
from waitlist_tui.web.settings import WebSettings


@pytest.fixture
def links_settings(db, db_url: str, clinic) -> WebSettings:
    with_public_url()
    return WebSettings(db_url=db_url, links_per_ip=30)


@pytest.fixture
async def page_client(aiohttp_client, links_settings: WebSettings):
    return await aiohttp_client(make_app(links_settings))


def texted(tmp_path: Path) -> tuple[list, dict[str, str]]:
    made = broadcast(2)
    return made, tokens_by_phone(deliver_to_file(tmp_path / "sent.jsonl"))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_the_page_shows_the_slot_and_a_get_never_acts(page_client, tmp_path) -> None:
    (ann, _), tokens = texted(tmp_path)
    rows = AuditEvent.select().count()
    for _ in range(3):  # a link preview, the client, a reload
        page = await page_client.get(f"/o/{tokens[ANN]}")
        assert page.status == 200
    head = await page_client.head(f"/o/{tokens[ANN]}")
    assert head.status == 200
    html = await page.text()
    assert "Mon 23 Nov 09:00" in html and "Ann" in html
    assert 'value="accept"' in html and 'value="decline"' in html and 'value="opt_out"' in html
    assert '<meta name="viewport"' in html and "<script" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert CSRF_COOKIE in page.cookies and page.cookies[CSRF_COOKIE]["path"] == "/o"
    assert (
        Offer.get_by_id(ann.id).status == "sent"
        and not OfferLink.select().where(OfferLink.used_at.is_null(False)).exists()
    )
    assert AuditEvent.select().count() == rows


async def test_accept_by_the_page_books_it_once(page_client, tmp_path) -> None:
    (ann, _bob), tokens = texted(tmp_path)
    page = await page_client.get(f"/o/{tokens[ANN]}")
    answer = await page_client.post(
        f"/o/{tokens[ANN]}", data={"csrf": csrf_of(await page.text()), "action": "accept"}
    )
    assert answer.status == 200 and "You are booked" in await answer.text()
    assert Offer.get_by_id(ann.id).status == "accepted" and Appointment.select().count() == 1
    assert AuditEvent.get(AuditEvent.action == "offer.accept").actor == "link"
    again = await page_client.get(f"/o/{tokens[ANN]}")
    assert again.status == 410 and "booked this slot already" in await again.text()
    bobs = await page_client.get(f"/o/{tokens[BOB]}")
    assert bobs.status == 410 and "taken by someone else" in await bobs.text()
    assert 'value="accept"' not in await bobs.text()


@pytest.mark.parametrize("how", ["no csrf", "wrong csrf", "no cookie"])
async def test_a_post_without_its_csrf_pair_changes_nothing(
    page_client, tmp_path, how: str
) -> None:
    (ann, _), tokens = texted(tmp_path)
    page = await page_client.get(f"/o/{tokens[ANN]}")
    token = csrf_of(await page.text())
    data = {"action": "accept", "csrf": token}
    if how == "no csrf":
        del data["csrf"]
    elif how == "wrong csrf":
        data["csrf"] = "x" * 43
    else:
        page_client.session.cookie_jar.clear()
    rows = AuditEvent.select().count()
    answer = await page_client.post(f"/o/{tokens[ANN]}", data=data)
    assert answer.status == 400 and "expired" in await answer.text()
    assert Offer.get_by_id(ann.id).status == "sent" and AuditEvent.select().count() == rows


async def test_decline_and_opt_out_by_the_page(page_client, tmp_path) -> None:
    (ann, bob), tokens = texted(tmp_path)
    for phone, action, text in ((ANN, "decline", "someone else"), (BOB, "opt_out", "not text")):
        page = await page_client.get(f"/o/{tokens[phone]}")
        answer = await page_client.post(
            f"/o/{tokens[phone]}", data={"csrf": csrf_of(await page.text()), "action": action}
        )
        assert answer.status == 200 and text in await answer.text()
    assert {Offer.get_by_id(o.id).status for o in (ann, bob)} == {"declined"}
    assert Client.get(Client.phone == BOB).consent_sms is False
    assert Client.get(Client.phone == ANN).consent_sms is True


async def test_an_unknown_link_is_a_404_page_and_changes_nothing(page_client, tmp_path) -> None:
    texted(tmp_path)
    rows = AuditEvent.select().count()
    page = await page_client.get("/o/" + "A" * 22)
    assert page.status == 404 and "not valid" in await page.text()
    answer = await page_client.post("/o/" + "A" * 22, data={"csrf": "x", "action": "accept"})
    assert answer.status == 404
    assert AuditEvent.select().count() == rows and Appointment.select().count() == 0


async def test_a_link_past_its_deadline_is_a_410_page(page_client, tmp_path) -> None:
    (ann, _), tokens = texted(tmp_path)
    page = await page_client.get(f"/o/{tokens[ANN]}")
    token = csrf_of(await page.text())
    move_to(Offer.get_by_id(ann.id).expires_at + dt.timedelta(minutes=1))
    late = await page_client.post(f"/o/{tokens[ANN]}", data={"csrf": token, "action": "accept"})
    assert late.status == 410 and "passed" in await late.text()
    assert Offer.get_by_id(ann.id).status == "sent" and Appointment.select().count() == 0
    assert (await page_client.get(f"/o/{tokens[ANN]}")).status == 410


async def test_an_unknown_action_is_a_400_page(page_client, tmp_path) -> None:
    (ann, _), tokens = texted(tmp_path)
    page = await page_client.get(f"/o/{tokens[ANN]}")
    answer = await page_client.post(
        f"/o/{tokens[ANN]}", data={"csrf": csrf_of(await page.text()), "action": "book"}
    )
    assert answer.status == 400 and Offer.get_by_id(ann.id).status == "sent"


async def test_guesses_from_one_address_are_limited(aiohttp_client, db, db_url, clinic) -> None:
    client = await aiohttp_client(make_app(WebSettings(db_url=db_url, links_per_ip=3)))
    statuses = [(await client.get(f"/o/{'B' * 21}{i}")).status for i in range(5)]
    assert statuses == [404, 404, 404, 429, 429]


@pytest.mark.parametrize("how", ["json", "too big", "not utf-8"])
async def test_a_hostile_post_is_a_400_page_and_changes_nothing(
    page_client, tmp_path, how: str
) -> None:
    (ann, _), tokens = texted(tmp_path)
    await page_client.get(f"/o/{tokens[ANN]}")
    if how == "json":
        request: dict = {"json": {"action": "accept"}}
    elif how == "too big":
        request = {"data": {"action": "accept", "pad": "x" * 20_000}}
    else:
        request = {
            "data": b"action=accept&csrf=\xff\xfe",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }
    rows = AuditEvent.select().count()
    answer = await page_client.post(f"/o/{tokens[ANN]}", **request)
    assert answer.status == 400 and "Traceback" not in await answer.text()
    assert Offer.get_by_id(ann.id).status == "sent" and AuditEvent.select().count() == rows
