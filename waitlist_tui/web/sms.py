"""Twilio's webhooks: a client's text (POST /sms/twilio/inbound) and a text's status
callback (POST /sms/twilio/status). No staff login: the signature is the authentication.

Each request must carry X-Twilio-Signature, checked with the twilio library's
RequestValidator against the public URL Twilio was given (settings.public_url + the path and
query; behind a proxy the Host header differs) and the auth token named by the clinic's
settings. Unsigned or badly signed: 403, nothing changes. A text Twilio delivers twice (the
same MessageSid) is acknowledged and not acted on again (replies.handle_reply). The answer to
an inbound text is empty TwiML: what goes back to the client goes through the outbox.
`?clinic=CODE` on the URLs picks the clinic when the database holds several.
"""

from __future__ import annotations

import logging

from aiohttp import web
from twilio.request_validator import RequestValidator

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.messaging import sms_hooks
from waitlist_tui.domain.messaging.twilio_sms import INBOUND_PATH, STATUS_PATH
from waitlist_tui.web.auth import in_thread
from waitlist_tui.web.settings import SETTINGS

log = logging.getLogger("waitlist_tui.web.sms")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FORM_MAX = 16 * 1024


async def _signed_form(request: web.Request) -> dict[str, str]:
    """The request's form when Twilio signed it for this clinic's token; else 403."""
    size = request.content_length or 0
    if size > FORM_MAX:
        raise web.HTTPRequestEntityTooLarge(max_size=FORM_MAX, actual_size=size)
    form = {k: str(v) for k, v in (await request.post()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    clinic = request.query.get("clinic") or None
    try:
        token_env = await in_thread(sms_hooks.token_env, clinic)
    except DomainError:
        raise web.HTTPForbidden(text="forbidden") from None
    settings = request.app[SETTINGS]
    token = settings.env.get(token_env, "")
    base = settings.public_url or f"{request.scheme}://{request.host}"
    url = base.rstrip("/") + request.path_qs
    if not signature or not token or not RequestValidator(token).validate(url, form, signature):
        log.warning("refused an unsigned or badly signed webhook for %s", request.path)
        raise web.HTTPForbidden(text="forbidden")
    return form


async def inbound(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    outcome = await in_thread(sms_hooks.inbound, form, request.query.get("clinic") or None)
    log.info("inbound text: %s", outcome)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    form = await _signed_form(request)
    await in_thread(sms_hooks.status, form)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.post(INBOUND_PATH, inbound, name="sms_inbound"),
            web.post(STATUS_PATH, status, name="sms_status"),
        ]
    )
