"""The page an offer's link opens: GET /o/{token} shows the slot, POST /o/{token} answers it
(accept, decline, or no more offers). No login: the token is the authentication.

Thin: domain/fill/offer_links.py decides. A GET never acts (SMS apps fetch links to draw a
preview); the POST carries a CSRF pair (a cookie on /o and a hidden field, as /join does).
An unknown token is a 404 page, a used or ended one a 410 page; neither changes anything.
Requests to /o from one address are limited (settings.links_per_ip in 10 minutes), so a run
of guessed tokens stops early; the tokens' 128 random bits make guessing hopeless anyway.
Pages need no JavaScript and fit a phone (join_base.html)."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from waitlist_tui.domain.access.limits import RateLimit
from waitlist_tui.domain.errors import DomainError, NotFound
from waitlist_tui.domain.fill import offer_links
from waitlist_tui.web.auth import allowed, cookie_flags, in_thread
from waitlist_tui.web.join import BadForm, read_form
from waitlist_tui.web.settings import SETTINGS

log = logging.getLogger(__name__)

CSRF_COOKIE = "waitlist_offer_csrf"
LINK_THROTTLE: web.AppKey[RateLimit] = web.AppKey("link_throttle", RateLimit)
DONE = {
    offer_links.ACCEPT: "You are booked. We will send you a confirmation. See you then!",
    offer_links.DECLINE: "Thank you: we will offer this slot to someone else. "
    "You stay on our waitlist.",
    offer_links.OPT_OUT: "Done: we will not text or email you offers any more. "
    "You stay on our waitlist; call the clinic to change this.",
}
TOO_MANY = "Too many requests from here: wait a few minutes, or call the clinic."


def _page(
    request: web.Request,
    view: offer_links.LinkView | None,
    status: int = 200,
    message: str = "",
    done: str = "",
) -> web.Response:
    """The page, with a fresh CSRF pair when it has a form."""
    token = secrets.token_urlsafe(32)
    context: dict[str, Any] = {
        "view": view,
        "csrf": token,
        "message": message,
        "done": done,
        "action": request.path,
    }
    response = aiohttp_jinja2.render_template("offer_link.html", request, context, status=status)
    response.headers["X-Robots-Tag"] = "noindex"
    if view is not None and view.live and not done:
        flags = {**cookie_flags(request.app[SETTINGS]), "path": offer_links.PATH.rstrip("/")}
        response.set_cookie(CSRF_COOKIE, token, **flags)
    return response


def _csrf_ok(request: web.Request, form: dict[str, Any]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    offered = form.get("csrf", "")
    return (
        bool(cookie)
        and isinstance(offered, str)
        and cookie.isascii()
        and offered.isascii()
        and hmac.compare_digest(cookie.encode(), offered.encode())
    )


async def _current(request: web.Request, token: str) -> tuple[offer_links.LinkView | None, int]:
    """The link's view and the status its page answers with (200 live, 410 dead, 404)."""
    try:
        view = await in_thread(offer_links.view, token)
    except NotFound:
        return None, 404
    return view, 200 if view.live else 410


async def link_page(request: web.Request) -> web.StreamResponse:
    if not await allowed(request, request.app[LINK_THROTTLE]):
        return _page(request, None, 429, TOO_MANY)
    try:
        view, status = await _current(request, request.match_info["token"])
    except Exception:  # the page must answer; the log keeps the detail
        log.exception("offer link page failed")
        return _page(request, None, 500, "Something went wrong. Please call the clinic.")
    message = view.why_not if view is not None else ""
    return _page(request, view, status, message)


async def answer(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    if not await allowed(request, request.app[LINK_THROTTLE]):
        return _page(request, None, 429, TOO_MANY)
    try:
        try:
            form = await read_form(request)
        except BadForm as bad:
            view, _ = await _current(request, token)
            return _page(request, view, 400, bad.message)
        if not _csrf_ok(request, form):
            view, status = await _current(request, token)
            why = "The page expired: please choose again." if status == 200 else ""
            return _page(request, view, 400 if status == 200 else status, why or _why(view))
        action = form.get("action", "")
        if not isinstance(action, str) or action not in offer_links.ACTIONS:
            view, _ = await _current(request, token)
            return _page(request, view, 400, "Please choose one of the buttons.")
        try:
            outcome = await in_thread(offer_links.act, token, action)
        except NotFound:
            return _page(request, None, 404)
        except offer_links.LinkGone as gone:
            view, _ = await _current(request, token)
            return _page(request, view, 410, gone.message)
        except DomainError as err:  # the offer's own rules (a clash, the cutoff)
            log.info("offer link refused: %s %s", err.code, err.message)
            view, _ = await _current(request, token)
            return _page(request, view, 409, err.message)
    except Exception:
        log.exception("offer link answer failed")
        return _page(request, None, 500, "Something went wrong. Please call the clinic.")
    log.info("offer %s answered by link: %s", outcome.offer_id, action)
    return _page(request, outcome.view, 200, done=DONE[action])


def _why(view: offer_links.LinkView | None) -> str:
    return view.why_not if view is not None else ""


def add_routes(app: web.Application) -> None:
    app[LINK_THROTTLE] = RateLimit("offer_link", app[SETTINGS].links_per_ip, 600.0)
    path = offer_links.PATH + "{token}"
    app.add_routes(
        [web.get(path, link_page, name="offer_link"), web.post(path, answer)],
    )
