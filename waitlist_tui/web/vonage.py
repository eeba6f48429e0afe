"""Vonage's SMS API webhooks: a client's text (/sms/vonage/inbound) and a delivery receipt
(/sms/vonage/status). No staff login: the signature is the authentication.

Vonage signs each webhook with the account's signature secret when "signed webhooks" are on
(its `sig` parameter over every other parameter and a `timestamp`), checked with the vonage
library's Auth.check_signature (sms_hooks.vonage_signed). Unsigned, badly signed, for another
account or older than five minutes: 403, nothing changes. Vonage may call with GET (query
parameters, its default), POST (a form) or POST-JSON; all three are read. `?clinic=CODE` on
the URLs picks the clinic (and its secret) and is not part of what Vonage signs. A text
delivered twice (the same messageId) acts once (replies.handle_reply). Vonage wants a 2xx.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.messaging import sms_hooks
from waitlist_tui.domain.messaging.vonage_sms import INBOUND_PATH, STATUS_PATH
from waitlist_tui.web.auth import in_thread
from waitlist_tui.web.settings import SETTINGS

log = logging.getLogger("waitlist_tui.web.vonage")
BODY_MAX = 16 * 1024


async def _params(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return {k: v for k, v in request.query.items() if k != "clinic"}
    size = request.content_length or 0
    if size > BODY_MAX:
        raise web.HTTPRequestEntityTooLarge(max_size=BODY_MAX, actual_size=size)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPForbidden(text="forbidden") from None
        if not isinstance(body, dict):
            raise web.HTTPForbidden(text="forbidden")
        return {str(k): v for k, v in body.items() if isinstance(v, (str, int, float, bool))}
    return {k: str(v) for k, v in (await request.post()).items()}


async def _signed(request: web.Request) -> dict[str, Any]:
    """The webhook's parameters when Vonage signed them for this clinic; else 403."""
    params = await _params(request)
    clinic = request.query.get("clinic") or None
    env = request.app[SETTINGS].env
    try:
        good = await in_thread(sms_hooks.vonage_signed, params, clinic, env)
    except DomainError:
        good = False
    if not good:
        log.warning("refused an unsigned or badly signed webhook for %s", request.path)
        raise web.HTTPForbidden(text="forbidden")
    return params


async def inbound(request: web.Request) -> web.Response:
    params = await _signed(request)
    clinic = request.query.get("clinic") or None
    outcome = await in_thread(sms_hooks.vonage_inbound, params, clinic)
    log.info("inbound text: %s", outcome)
    return web.Response(status=204)


async def status(request: web.Request) -> web.Response:
    params = await _signed(request)
    await in_thread(sms_hooks.vonage_status, params)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get(INBOUND_PATH, inbound, name="vonage_inbound", allow_head=False),
            web.post(INBOUND_PATH, inbound),
            web.get(STATUS_PATH, status, name="vonage_status", allow_head=False),
            web.post(STATUS_PATH, status),
        ]
    )
