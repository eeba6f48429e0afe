"""Login, lockout, CSRF, session expiry, the desk's websocket refused without a session,
and /health, through aiohttp's test client (no browser, no desk process unless logged in)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.timetravel import move_to
from tests.web.conftest import PASSWORD, csrf_of, log_in
from waitlist_tui.domain.access import accounts
from waitlist_tui.domain.store.meta_tables import AuditEvent
from waitlist_tui.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, in_thread


def session_cookie(response) -> str:
    header = [h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE)]
    assert header, response.headers
    return header[0]


async def test_login_opens_the_desk_page(client) -> None:
    start = await client.get("/", allow_redirects=False)
    assert start.status == 303 and start.headers["Location"] == "/login"
    answer = await log_in(client)
    assert answer.status == 303 and answer.headers["Location"] == "/"
    cookie = session_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200 and "ana (manager)" in html and "/ws" in html
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert AuditEvent.get(AuditEvent.action == "staff.login").actor == "ana"


async def test_cookies_are_secure_over_tls(aiohttp_client, settings) -> None:
    from waitlist_tui.web.app import make_app

    settings.tls = True
    client = await aiohttp_client(make_app(settings))
    page = await client.get("/login")
    assert "Secure" in page.headers["Set-Cookie"]
    token = csrf_of(await page.text())  # the client keeps no Secure cookie over http: by hand
    answer = await client.post(
        "/login",
        data={"csrf": token, "name": "ana", "password": PASSWORD},
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"},
        allow_redirects=False,
    )
    assert answer.status == 303 and "Secure" in session_cookie(answer)


async def test_wrong_password_is_refused(client) -> None:
    answer = await log_in(client, password="not the password")
    assert answer.status == 401 and SESSION_COOKIE not in answer.cookies
    assert "wrong name or password" in await answer.text()
    unknown = await log_in(client, name="nobody")
    assert unknown.status == 401 and "wrong name or password" in await unknown.text()
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_failed_logins_lock_the_account(client) -> None:
    for _ in range(accounts.MAX_FAILURES):
        assert (await log_in(client, password="not the password")).status == 401
    locked = await log_in(client)  # the right password, too late
    assert locked.status == 429 and "locked" in await locked.text()
    assert SESSION_COOKIE not in locked.cookies


async def test_login_without_its_csrf_token_is_refused(client) -> None:
    await client.get("/login")
    bare = await client.post(
        "/login", data={"name": "ana", "password": PASSWORD}, allow_redirects=False
    )
    assert bare.status == 403 and SESSION_COOKIE not in bare.cookies
    client.session.cookie_jar.clear()  # a forged form: a token, but not the cookie's
    forged = await client.post(
        "/login",
        data={"csrf": "x" * 43, "name": "ana", "password": PASSWORD},
        allow_redirects=False,
    )
    assert forged.status == 403 and SESSION_COOKIE not in forged.cookies


async def test_logout_needs_the_session_csrf_token(client) -> None:
    await log_in(client)
    page = await (await client.get("/")).text()
    refused = await client.post("/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert refused.status == 403
    assert (await client.get("/", allow_redirects=False)).status == 200
    out = await client.post("/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    assert (await client.get("/", allow_redirects=False)).status == 303
    assert AuditEvent.get(AuditEvent.action == "staff.logout").actor == "ana"


async def test_session_expires_after_inactivity(client, frozen, settings) -> None:
    await log_in(client)
    move_to(frozen.add(minutes=settings.idle_minutes - 1))
    assert (await client.get("/", allow_redirects=False)).status == 200
    move_to(frozen.add(minutes=2 * settings.idle_minutes - 1))
    assert (await client.get("/", allow_redirects=False)).status == 200
    move_to(frozen.add(minutes=3 * settings.idle_minutes))
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_websocket_without_a_session_is_refused(client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws")
    assert err.value.status == 401
    plain = await client.get("/ws")
    assert plain.status == 401
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "made-up-token"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws")
    assert err.value.status == 401
    assert (await client.get("/download/anything")).status == 401


async def test_websocket_from_another_site_is_refused(client) -> None:
    await log_in(client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws", origin="https://evil.example")
    assert err.value.status == 403


async def test_the_desk_runs_in_the_staff_name_and_ends_with_the_session(client) -> None:
    """A logged-in websocket starts the desk process (`--staff ana`); logging out closes it."""
    await log_in(client)
    page = await (await client.get("/")).text()
    ws = await client.ws_connect("/ws?width=100&height=30")
    received = b""
    async with asyncio.timeout(60):
        while b"Waitlist" not in received and b"waitlist" not in received:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                received += message.data
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    assert received, "the desk sent nothing"
    await client.post("/logout", data={"csrf": csrf_of(page)})
    async with asyncio.timeout(20):
        while not ws.closed:
            await ws.receive()
    assert ws.closed
    async with asyncio.timeout(20):  # the desk process has ended
        while (await (await client.get("/health")).json())["open_desks"]:
            await asyncio.sleep(0.1)


async def test_health_says_the_database_answers(client) -> None:
    answer = await client.get("/health")
    body = await answer.json()
    assert answer.status == 200
    assert body["status"] == "ok" and body["database"] == "ok"
    assert isinstance(body["schema_version"], int) and body["version"]


def test_the_desk_command_carries_the_staff_name_as_one_word() -> None:
    """The name goes through a shell (textual-serve runs a command line): quoted, whatever
    it holds; the login's role goes with it."""
    import shlex

    from waitlist_tui.web.settings import WebSettings

    name = "Maria O'Neil; rm -rf / $(id)"
    words = shlex.split(WebSettings(db_url="/tmp/a b.db").desk_command(name, "desk"))
    assert words[-6:] == ["--db", "/tmp/a b.db", "--staff", name, "--staff-role", "desk"]
    assert words[0] == "exec" and words[2:4] == ["-m", "waitlist_tui"]


async def test_a_disabled_account_loses_its_open_desk(client) -> None:
    await log_in(client)
    ws = await client.ws_connect("/ws")
    async with asyncio.timeout(60):  # the desk is up
        while (await ws.receive()).type != aiohttp.WSMsgType.BINARY:
            pass
    await in_thread(accounts.disable_staff, "ana", "admin")
    async with asyncio.timeout(20):
        while not ws.closed:
            await ws.receive()
    assert (await client.get("/", allow_redirects=False)).status == 303
    async with asyncio.timeout(20):
        while (await (await client.get("/health")).json())["open_desks"]:
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "form",
    [
        {"name": "ana\x00", "password": PASSWORD},
        {"name": "a" * 5000, "password": PASSWORD},
        {"name": "ana", "password": "p" * 5000},
        {"name": "<script>alert(1)</script>", "password": "x"},
        {"password": PASSWORD},
        {},
    ],
)
async def test_hostile_login_forms_are_refused_plainly(client, form) -> None:
    page = await client.get("/login")
    answer = await client.post(
        "/login", data={"csrf": csrf_of(await page.text()), **form}, allow_redirects=False
    )
    text = await answer.text()
    assert answer.status == 401 and "wrong name or password" in text
    assert "<script>alert" not in text and "Traceback" not in text


async def test_an_oversized_form_is_refused(client) -> None:
    answer = await client.post("/login", data={"csrf": "x", "name": "n" * 100_000})
    assert answer.status == 413


async def test_a_restarted_or_second_server_keeps_the_login(client, aiohttp_client, settings):
    """Sessions live in the database: another server process (or this one restarted) on the
    same database knows the cookie; logging out on one ends it on both."""
    from waitlist_tui.web.app import make_app

    answer = await log_in(client)
    token = answer.cookies[SESSION_COOKIE].value
    other = await aiohttp_client(make_app(settings))
    page = await other.get("/", headers={"Cookie": f"{SESSION_COOKIE}={token}"})
    assert page.status == 200 and "ana (manager)" in await page.text()
    csrf = csrf_of(await (await client.get("/")).text())
    assert (await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)).status == 303
    gone = await other.get(
        "/", headers={"Cookie": f"{SESSION_COOKIE}={token}"}, allow_redirects=False
    )
    assert gone.status == 303 and gone.headers["Location"] == "/login"


async def _wrong_logins(client, forwarded: str, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        page = await client.get("/login")
        token = csrf_of(await page.text())
        answer = await client.post(
            "/login",
            data={"csrf": token, "name": "ana", "password": "not the password"},
            headers={"X-Forwarded-For": forwarded},
            allow_redirects=False,
        )
        statuses.append(answer.status)
    return statuses


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    aiohttp_client, settings, monkeypatch
):
    """Without --trusted-proxy a client cannot dodge the per-address limit by sending
    X-Forwarded-For; behind a trusted proxy each client counts on its own."""
    from waitlist_tui.web.app import make_app
    from waitlist_tui.web.auth import THROTTLE

    monkeypatch.setattr(accounts, "MAX_FAILURES", 1000)  # the account itself never locks
    plain = await aiohttp_client(make_app(settings))
    plain.app[THROTTLE].limit = 2
    assert await _wrong_logins(plain, "198.51.100.1", 2) == [401, 401]
    assert await _wrong_logins(plain, "198.51.100.2", 1) == [429]  # the header ignored
    plain.app[THROTTLE].forget()

    settings.trusted_proxies = ("127.0.0.0/8",)
    proxied = await aiohttp_client(make_app(settings))
    proxied.app[THROTTLE].limit = 2
    assert await _wrong_logins(proxied, "198.51.100.1", 3) == [401, 401, 429]
    # the proxy appends what it saw: a forged first hop does not change who is counted
    assert await _wrong_logins(proxied, "6.6.6.6, 198.51.100.1", 1) == [429]
    assert await _wrong_logins(proxied, "198.51.100.2", 1) == [401]
