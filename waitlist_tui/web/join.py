"""The clients' self-join page: GET/POST /join, GET/POST /join/confirm (no login).

Thin: the form's fields go to domain/waitlist/self_join.py (the CLI's rules, the same 4000s);
this module reads the form (at most FORM_MAX bytes, URL-encoded UTF-8, no file parts),
checks its CSRF pair (a cookie and a hidden field, as the login form does), limits
submissions per client address, and shows each error next to its field with what was
typed kept. Every refusal is a page with the message (400, or 429 for a limit); nothing
here answers with a traceback. The answers never say whether a phone was known.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl

import aiohttp_jinja2
from aiohttp import web

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.access.limits import RateLimit
from waitlist_tui.domain.errors import DomainError, ValidationError
from waitlist_tui.domain.waitlist import self_join
from waitlist_tui.web.auth import allowed, cookie_flags, in_thread
from waitlist_tui.web.settings import SETTINGS

log = logging.getLogger(__name__)

JOIN_CSRF_COOKIE = "waitlist_join_csrf"
FORM_MAX = 16 * 1024  # bytes: a join form is a dozen short fields
FIELDS_MAX = 40  # name=value pairs in one form
LIST_FIELDS = ("preferred_days", "preferred_time_slots")
JOIN_THROTTLE: web.AppKey[RateLimit] = web.AppKey("join_throttle", RateLimit)
CONFIRM_THROTTLE: web.AppKey[RateLimit] = web.AppKey("confirm_throttle", RateLimit)
DAY_CHOICES = [(d, d.title()) for d in vocab.DAYS]
SLOT_CHOICES = [(s, s.title()) for s in vocab.TIME_SLOTS if s != "ANYTIME"]


class BadForm(ValidationError):
    """The request is not a readable form (size, type, encoding, CSRF): a 400 page."""


def _field(name: str | None) -> str:
    """A domain field name as the form's: client.phone -> phone."""
    return (name or "form").removeprefix("client.")


def _errors(err: DomainError) -> dict[str, str]:
    found: dict[str, str] = {}
    listed = (err.data or {}).get("errors") if isinstance(err.data, dict) else None
    for item in listed or [{"field": err.field, "message": err.message}]:
        found.setdefault(_field(item.get("field")), str(item.get("message")))
    return found


async def read_form(request: web.Request) -> dict[str, Any]:
    """The form as {name: text, or a list for the repeated ones}; BadForm when it is not a
    small URL-encoded UTF-8 form. A field given twice becomes a list (self_join refuses it)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise BadForm("form: send it from the page (a web form)", field="form")
    if request.content_length is not None and request.content_length > FORM_MAX:
        raise BadForm(f"form: at most {FORM_MAX // 1024} KB", field="form")
    body = await request.content.read(FORM_MAX + 1)
    if len(body) > FORM_MAX:
        raise BadForm(f"form: at most {FORM_MAX // 1024} KB", field="form")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=FIELDS_MAX,
            encoding="utf-8",
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("form: not a readable form (UTF-8, URL-encoded)", field="form") from None
    form: dict[str, Any] = {}
    for key, value in pairs:
        if key in LIST_FIELDS:
            form.setdefault(key, []).append(value)
        elif key in form:
            form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
        else:
            form[key] = value
    return form


def _csrf_ok(request: web.Request, form: dict[str, Any]) -> bool:
    cookie = request.cookies.get(JOIN_CSRF_COOKIE, "")
    offered = form.get("csrf", "")
    return (
        bool(cookie)
        and isinstance(offered, str)
        and cookie.isascii()
        and offered.isascii()
        and hmac.compare_digest(cookie.encode(), offered.encode())
    )


def _render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> web.Response:
    """A page with a fresh CSRF pair (the cookie covers /join and /join/confirm)."""
    token = secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(
        template, request, {"csrf": token, **context}, status=status
    )
    response.set_cookie(
        JOIN_CSRF_COOKIE, token, **{**cookie_flags(request.app[SETTINGS]), "path": "/join"}
    )
    return response


def _kept(form: dict[str, Any]) -> dict[str, Any]:
    """What was typed, to fill the form again (text only; the lists as lists)."""
    kept: dict[str, Any] = {}
    for key, value in form.items():
        if key == "csrf":
            continue
        if key in LIST_FIELDS:
            kept[key] = [v for v in value if isinstance(v, str)][:10]
        elif isinstance(value, str):
            kept[key] = value[: self_join.FIELD_MAX]
    return kept


async def _join_page(
    request: web.Request,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        services = await in_thread(self_join.services)
    except DomainError:
        services = []
    today = clock.today("UTC")
    return _render(
        request,
        "join.html",
        {
            "services": services,
            "days": DAY_CHOICES,
            "slots": SLOT_CHOICES,
            "form": _kept(form or {}),
            "errors": errors or {},
            "min_date": today.isoformat(),
            "max_date": (today + dt.timedelta(days=366)).isoformat(),
        },
        status=status,
    )


async def join_page(request: web.Request) -> web.StreamResponse:
    return await _join_page(request)


async def join(request: web.Request) -> web.StreamResponse:
    try:
        form = await read_form(request)
    except BadForm as bad:
        return await _join_page(request, errors=_errors(bad), status=400)
    if not await allowed(request, request.app[JOIN_THROTTLE]):
        errors = {"form": "Too many requests from here: wait a few minutes, or call the clinic."}
        return await _join_page(request, form, errors, status=429)
    if not _csrf_ok(request, form):
        errors = {"form": "form: the page expired; check the details and send it again"}
        return await _join_page(request, form, errors, status=400)
    try:
        submitted = await in_thread(self_join.submit, form)
    except self_join.TooMany as many:
        return await _join_page(request, form, _errors(many), status=429)
    except DomainError as err:
        return await _join_page(request, form, _errors(err), status=400)
    if not submitted.code_sent:
        return _render(request, "join_done.html", {"stopped": True, "confirmed": False})
    raise web.HTTPSeeOther(f"/join/confirm?id={submitted.confirm_id}")


def _confirm_id(request: web.Request, form: dict[str, Any] | None = None) -> str:
    value = (form or {}).get("id", request.query.get("id", ""))
    return value[:40] if isinstance(value, str) else ""


async def confirm_page(request: web.Request) -> web.StreamResponse:
    return _render(request, "join_confirm.html", {"id": _confirm_id(request), "message": None})


async def confirm(request: web.Request) -> web.StreamResponse:
    try:
        form = await read_form(request)
    except BadForm as bad:
        return _render(request, "join_confirm.html", {"id": "", "message": bad.message}, 400)
    confirm_id = _confirm_id(request, form)
    if not await allowed(request, request.app[CONFIRM_THROTTLE]):
        message = "Too many tries from here: wait a few minutes, or call the clinic."
        return _render(request, "join_confirm.html", {"id": confirm_id, "message": message}, 429)
    if not _csrf_ok(request, form):
        message = "form: the page expired; type the code again"
        return _render(request, "join_confirm.html", {"id": confirm_id, "message": message}, 400)
    try:
        await in_thread(self_join.confirm, confirm_id, form.get("code", ""))
    except DomainError as err:
        return _render(
            request, "join_confirm.html", {"id": confirm_id, "message": err.message}, 400
        )
    return _render(request, "join_done.html", {"stopped": False, "confirmed": True})


@web.middleware
async def no_traceback(request: web.Request, handler: Any) -> web.StreamResponse:
    """Anything unexpected on the join pages is a plain 400 page, never a traceback."""
    if not request.path.startswith("/join"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:  # the page must answer; the log keeps the detail
        log.exception("join page failed")
        return web.Response(
            status=400,
            text="The request could not be read. Please call the clinic.",
            content_type="text/plain",
        )


def add_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[JOIN_THROTTLE] = RateLimit("join", settings.joins_per_ip, 600.0)
    app[CONFIRM_THROTTLE] = RateLimit("join_confirm", settings.confirms_per_ip, 600.0)
    app.middlewares.append(no_traceback)
    app.add_routes(
        [
            web.get("/join", join_page, name="join"),
            web.post("/join", join),
            web.get("/join/confirm", confirm_page, name="join_confirm"),
            web.post("/join/confirm", confirm),
        ]
    )
