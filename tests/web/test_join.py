"""The clients' /join page through aiohttp's test client: submit -> pending, the code read
from the outbox -> confirm -> waiting and self-joined; locks, expiry, rate limits, hostile
forms and headers (400 pages, nothing written, no traceback), and 200 submissions from 20
concurrent clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import clinic_without_feeds
from tests.timetravel import move_to
from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.store.meta_tables import AuditEvent
from waitlist_tui.domain.store.models import Entry, JoinCode, OutboxMessage
from waitlist_tui.domain.waitlist import reading, self_join
from waitlist_tui.web.app import make_app
from waitlist_tui.web.auth import in_thread
from waitlist_tui.web.join import JOIN_CSRF_COOKIE
from waitlist_tui.web.settings import WebSettings

PHONE = "(617) 555-0188"


@pytest.fixture
def join_settings(db, db_url: str) -> WebSettings:
    apply_setup(clinic_without_feeds(), "admin")
    return WebSettings(db_url=db_url)


@pytest.fixture
async def join_client(aiohttp_client, join_settings: WebSettings):
    return await aiohttp_client(make_app(join_settings))


def fields(**overrides: object) -> dict[str, object]:
    today = clock.today("America/New_York")
    values: dict[str, object] = {
        "service": "PT-EVAL",
        "date_range_start": (today + dt.timedelta(days=2)).isoformat(),
        "date_range_end": (today + dt.timedelta(days=30)).isoformat(),
        "preferred_days": ["MONDAY", "THURSDAY"],
        "preferred_time_slots": ["AFTERNOON"],
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": PHONE,
        "email": "ada@example.com",
        "consent_sms": "yes",
    }
    values.update(overrides)
    return values


def encoded(values: dict[str, object]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, str(one)))
    return pairs


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def submit(client, **overrides: object):
    page = await client.get("/join")
    assert page.status == 200
    token = csrf_of(await page.text())
    data = encoded({"csrf": token, **fields(**overrides)})
    return await client.post("/join", data=data, allow_redirects=False)


async def code_of(confirm_id: str) -> str:
    def read() -> str:
        message = OutboxMessage.get(OutboxMessage.ref_id == confirm_id)
        return re.search(r"\b(\d{6})\b", message.body).group(1)

    return await in_thread(read)


async def send_code(client, confirm_id: str, code: str):
    page = await client.get(f"/join/confirm?id={confirm_id}")
    token = csrf_of(await page.text())
    return await client.post("/join/confirm", data={"csrf": token, "id": confirm_id, "code": code})


def confirm_id_of(answer) -> str:
    assert answer.status == 303, answer.status
    return answer.headers["Location"].split("id=")[1]


async def test_the_page_is_a_plain_accessible_form(join_client) -> None:
    page = await join_client.get("/join")
    html = await page.text()
    assert page.status == 200 and '<meta name="viewport"' in html
    assert html.count("<fieldset") >= 4 and 'for="phone"' in html and "<script" not in html
    assert "http://" not in html and "https://" not in html  # no external assets
    assert "Physical Therapy" in html or "PT-EVAL" in html


async def test_submit_then_confirm_makes_a_waiting_self_joined_entry(join_client) -> None:
    answer = await submit(join_client)
    confirm_id = confirm_id_of(answer)
    entry = await in_thread(Entry.get)
    assert (entry.status, entry.self_joined) == (vocab.PENDING, True)
    done = await send_code(join_client, confirm_id, await code_of(confirm_id))
    assert done.status == 200 and "You are on the waitlist" in await done.text()
    view = await in_thread(reading.get, entry.id)
    assert view.status == vocab.WAITING and view.self_joined
    assert view.preferred_days == ("MONDAY", "THURSDAY")
    audit = await in_thread(lambda: AuditEvent.get(AuditEvent.action == "entry.confirm"))
    assert audit.actor == self_join.ACTOR


async def test_errors_are_shown_next_to_their_field_with_what_was_typed(join_client) -> None:
    answer = await submit(join_client, date_range_end="not a date", first_name="Grace")
    html = await answer.text()
    assert answer.status == 400
    assert 'id="date_range_end-error"' in html and 'value="Grace"' in html
    assert await in_thread(Entry.select().count) == 0


async def test_five_wrong_codes_lock_the_request(join_client) -> None:
    confirm_id = confirm_id_of(await submit(join_client))
    code = await code_of(confirm_id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(self_join.MAX_TRIES):
        assert (await send_code(join_client, confirm_id, wrong)).status == 400
    late = await send_code(join_client, confirm_id, code)
    assert late.status == 400 and "too many wrong codes" in await late.text()
    assert (await in_thread(Entry.get)).status == vocab.PENDING


async def test_an_expired_code_is_refused(join_client, frozen) -> None:
    confirm_id = confirm_id_of(await submit(join_client))
    code = await code_of(confirm_id)
    move_to(frozen + dt.timedelta(minutes=self_join.CODE_MINUTES, seconds=1))
    late = await send_code(join_client, confirm_id, code)
    assert late.status == 400 and "expired" in await late.text()


async def test_submissions_per_address_are_limited(join_client, join_settings) -> None:
    for i in range(join_settings.joins_per_ip):
        assert (await submit(join_client, phone=f"(617) 555-01{i:02d}")).status == 303
    refused = await submit(join_client, phone="(617) 555-0150")
    assert refused.status == 429 and "Too many requests" in await refused.text()
    assert await in_thread(Entry.select().count) == join_settings.joins_per_ip


async def test_codes_per_phone_are_limited_and_the_answer_never_tells_a_known_phone(
    join_client,
) -> None:
    first = await submit(join_client)  # a phone nobody knew
    second = await submit(join_client)  # now known: the same answer
    assert first.status == second.status == 303
    for _ in range(self_join.CODES_PER_PHONE - 2):
        await submit(join_client)
    refused = await submit(join_client)
    assert refused.status == 429 and "too many codes" in await refused.text()


async def test_a_phone_that_texted_stop_is_told_to_call(join_client) -> None:
    from waitlist_tui.domain.messaging.replies import handle_reply

    confirm_id_of(await submit(join_client))
    await in_thread(handle_reply, PHONE, "STOP")
    answer = await submit(join_client)
    assert answer.status == 200 and "call the clinic" in await answer.text()


async def test_a_form_without_its_csrf_pair_writes_nothing(join_client) -> None:
    answer = await join_client.post("/join", data=encoded(fields()))
    assert answer.status == 400 and "expired" in await answer.text()
    big = await join_client.post(
        "/join", data=encoded(fields(notes="x" * 20000)), allow_redirects=False
    )
    assert big.status == 400 and "at most 16 KB" in await big.text()
    assert await in_thread(Entry.select().count) == 0


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@dataclass
class Fuzz:
    client: object
    token: str


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(
        [
            "service",
            "date_range_start",
            "date_range_end",
            "preferred_days",
            "preferred_time_slots",
            "first_name",
            "last_name",
            "phone",
            "consent_sms",
            "nonsense",
        ]
    ),
    value=TEXT | st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    header=st.sampled_from(["Content-Type", "X-Forwarded-For", "Cookie", "Accept-Language"]),
    header_value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
    raw=st.booleans(),
)
def test_fuzzed_fields_and_headers_are_400_pages(
    fuzz_client, field, value, header, header_value, raw
) -> None:
    loop, client, token = fuzz_client
    good = fields(**{field: value if field not in ("preferred_days",) else [value]})
    if field not in ("first_name", "last_name", "nonsense", "service", "phone"):
        good["phone"] = "notaphone"  # make every example a bad form: nothing may be written
    else:
        good["date_range_end"] = "never"

    async def go() -> None:
        headers = {header: header_value}
        if header == "Cookie":
            headers[header] = f"{JOIN_CSRF_COOKIE}={token}; {header_value}"
        else:
            headers["Cookie"] = f"{JOIN_CSRF_COOKIE}={token}"
        if raw:
            body = "&".join(f"{k}={v}" for k, v in encoded({"csrf": token, **good})).encode(
                "utf-8", "surrogatepass"
            )
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            answer = await client.post("/join", data=body, headers=headers, allow_redirects=False)
        else:
            answer = await client.post(
                "/join",
                data=encoded({"csrf": token, **good}),
                headers=headers,
                allow_redirects=False,
            )
        text = await answer.text(errors="replace")
        assert answer.status in (400, 429), (answer.status, text[:300])
        assert "Traceback" not in text and 'File "' not in text

    loop.run_until_complete(go())


@pytest.fixture
def fuzz_client(join_settings):
    """A server and client on a loop of their own (hypothesis drives a sync test)."""
    from aiohttp.test_utils import TestClient, TestServer

    loop = asyncio.new_event_loop()
    app = make_app(WebSettings(db_url=join_settings.db_url, joins_per_ip=10**6))
    client = TestClient(TestServer(app), loop=loop)
    loop.run_until_complete(client.start_server())
    page = loop.run_until_complete(client.get("/join"))
    token = csrf_of(loop.run_until_complete(page.text()))
    yield loop, client, token
    loop.run_until_complete(client.close())
    loop.close()
    assert Entry.select().count() == 0 and JoinCode.select().count() == 0


async def run_load(client, clients: int = 20, each: int = 10) -> dict[str, int]:
    """`clients` tasks, each with its own phone, `each` submissions: 303s are requests taken,
    429s refused by the per-phone limit; anything else is a failure."""
    statuses: dict[int, int] = {}
    taken: list[str] = []

    async def one(n: int) -> None:
        # A browser of its own (its own CSRF cookie); unsafe: the server is at an IP address.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            for _ in range(each):
                page = await browser.get(client.make_url("/join"))
                token = csrf_of(await page.text())
                data = encoded(
                    {"csrf": token, **fields(phone=f"(617) 555-{n:04d}", first_name=f"Load{n}")}
                )
                answer = await browser.post(
                    client.make_url("/join"), data=data, allow_redirects=False
                )
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if answer.status == 303:
                    taken.append(answer.headers["Location"].split("id=")[1])
                await answer.release()

    await asyncio.gather(*(one(n) for n in range(clients)))
    return {"statuses": statuses, "taken": taken}  # type: ignore[dict-item]


async def test_200_submissions_from_20_clients(aiohttp_client, join_settings) -> None:
    join_settings.joins_per_ip = 10**6  # one test address for all: the per-phone limit holds
    client = await aiohttp_client(make_app(join_settings))
    result = await run_load(client)
    statuses, taken = result["statuses"], result["taken"]
    assert sum(statuses.values()) == 200 and set(statuses) <= {303, 429}, statuses
    assert statuses[303] == 20 * self_join.CODES_PER_PHONE and len(set(taken)) == len(taken)

    def rows() -> tuple[int, int, int]:
        return (
            Entry.select().where(Entry.status == vocab.PENDING).count(),
            JoinCode.select().count(),
            OutboxMessage.select().where(OutboxMessage.ref_type == "join_code").count(),
        )

    assert await in_thread(rows) == (len(taken),) * 3  # none lost, none duplicated
