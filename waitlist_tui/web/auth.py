"""The staff login in front of the desk: /login and /logout, the session cookie, CSRF.

Cookies are HttpOnly, SameSite=Lax, and Secure when served over TLS. The login form's CSRF
token is a double-submit pair (a cookie and a hidden field that must match; a site that
cannot read the cookie cannot forge the form); the logout form carries the session's own."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from waitlist_tui.domain.access import accounts
from waitlist_tui.domain.access.limits import RateLimit
from waitlist_tui.domain.access.sessions import Session
from waitlist_tui.domain.session import connection
from waitlist_tui.web.settings import SESSIONS, SETTINGS, WebSettings

SESSION_COOKIE = "waitlist_session"
LOGINS_PER_MINUTE = 30  # per client address, right or wrong (an office shares one address)
HASHING_AT_ONCE = 2  # argon2 checks running at once: a flood of logins queues, not the CPU
LOGIN_CSRF_COOKIE = "waitlist_login_csrf"
FORM_MAX = 8 * 1024  # a login form is two short fields


# Logins from one address, right or wrong, in the database: a password-guessing run across
# many names is slowed, which the per-account lock alone does not do.
THROTTLE: web.AppKey[RateLimit] = web.AppKey("login_throttle", RateLimit)
HASHING: web.AppKey[asyncio.Semaphore] = web.AppKey("hashing", asyncio.Semaphore)


def cookie_flags(settings: WebSettings) -> dict[str, Any]:
    return {"httponly": True, "samesite": "Lax", "secure": settings.tls, "path": "/"}


async def in_thread(fn: Any, *args: Any) -> Any:
    """A domain call on a worker thread with a connection of its own (argon2 and the
    database block; the event loop keeps serving the open desks)."""

    def run() -> Any:
        with connection():
            return fn(*args)

    return await asyncio.to_thread(run)


def client_address(request: web.Request) -> str:
    """Who sent the request, for the rate limits: the peer's address, or, when the peer is a
    proxy named by --trusted-proxy, the last address in X-Forwarded-For that is not one of
    those proxies (what the proxy saw; the addresses before it are the client's own word).
    From any other peer the header is ignored: a client cannot pick its own address."""
    peer = request.remote or "?"
    trusted = request.app[SETTINGS].trusted_proxies
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop.strip("[]")))
        except ValueError:
            return peer  # a mangled header: count the proxy itself
        if not _in(address, trusted):
            return address
    return peer


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


async def allowed(request: web.Request, limit: RateLimit) -> bool:
    """Whether this client is within `limit` (counted in the database)."""
    return bool(await in_thread(limit.allow, client_address(request)))


async def current_session(request: web.Request, touch: bool = True) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found: Session | None = await in_thread(request.app[SESSIONS].get, token, touch)
    return found


async def require_session(request: web.Request) -> Session:
    """The request's live session, or 401 (pages redirect to the login themselves)."""
    session = await current_session(request)
    if session is None:
        raise web.HTTPUnauthorized(text="log in first", content_type="text/plain")
    return session


async def login_page(request: web.Request) -> web.StreamResponse:
    if await current_session(request) is not None:
        raise web.HTTPSeeOther("/")
    return _login_form(request, message=None, status=200)


def _login_form(
    request: web.Request, message: str | None, status: int, name: str = ""
) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {"csrf": token, "message": message, "name": name},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, **{**cookie_flags(request.app[SETTINGS]), "path": "/login"}
    )
    return response


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_length is not None and request.content_length > FORM_MAX:
        raise web.HTTPRequestEntityTooLarge(max_size=FORM_MAX, actual_size=request.content_length)
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def login(request: web.Request) -> web.StreamResponse:
    if not await allowed(request, request.app[THROTTLE]):
        return _login_form(request, "Too many login attempts from here: wait a minute.", status=429)
    form = await _form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    offered = form.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), offered.encode()):
        return _login_form(
            request, "The form expired: please log in again.", status=403, name=form.get("name", "")
        )
    try:
        async with request.app[HASHING]:
            who = await in_thread(
                accounts.authenticate, form.get("name", ""), form.get("password", "")
            )
    except accounts.LoginRefused as refused:
        status = 429 if (refused.data or {}).get("locked") else 401
        return _login_form(request, refused.message, status=status, name=form.get("name", ""))
    session = await in_thread(request.app[SESSIONS].start, who.name, who.role)
    response = web.HTTPSeeOther("/")
    response.set_cookie(SESSION_COOKIE, session.token, **cookie_flags(request.app[SETTINGS]))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session = await current_session(request, touch=False)
    if session is None:
        raise web.HTTPSeeOther("/login")
    if not session.csrf_ok(form.get("csrf")):
        raise web.HTTPForbidden(text="the form expired: reload the page", content_type="text/plain")
    await in_thread(request.app[SESSIONS].end, session.token)
    await in_thread(accounts.record_logout, session.staff)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def add_routes(app: web.Application) -> None:
    app[THROTTLE] = RateLimit("login", LOGINS_PER_MINUTE, 60.0)
    app[HASHING] = asyncio.Semaphore(HASHING_AT_ONCE)
    app.add_routes(
        [
            web.get("/login", login_page, name="login"),
            web.post("/login", login),
            web.post("/logout", logout, name="logout"),
        ]
    )
