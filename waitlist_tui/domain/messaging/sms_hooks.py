"""What the SMS provider's webhooks do, for the web server's thin handlers (web/sms.py):
which environment variable holds the token that signs a clinic's webhooks, an inbound text
handed to the same function as `waitlist-tui reply`, and a status callback kept as a receipt.
The signature is checked by the web layer before any of this runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.messaging import receipts, replies, vonage_sms
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.messaging.twilio_sms import DEFAULT_TOKEN_ENV

log = logging.getLogger("waitlist_tui.sms_hooks")
ACTOR = "sms"


def token_env(clinic_code: str | None) -> str:
    """The name of the variable holding the auth token for this clinic's texts."""
    sms = message_settings.of(get_clinic(clinic_code)).sms or {}
    return str(sms.get("auth_token_env") or DEFAULT_TOKEN_ENV)


def inbound(form: Mapping[str, str], clinic_code: str | None) -> str:
    """A client's text (Twilio's From, Body, MessageSid): what it did, as an outcome word.
    A refused or unreadable one is recorded as the reply command records it and answered
    like any other: the provider wants a 200, the desk reads the outcome."""
    try:
        result = replies.handle_reply(
            form.get("From", ""),
            form.get("Body", ""),
            actor=ACTOR,
            clinic_code=clinic_code,
            provider_id=form.get("MessageSid") or None,
        )
    except DomainError as err:
        log.info("inbound text not acted on: %s (%s)", err.code, type(err).__name__)
        return f"refused:{err.code}"
    return result.outcome


def status(form: Mapping[str, str]) -> receipts.ReceiptResult:
    """A status callback (MessageSid, MessageStatus, ErrorCode) kept on its outbox row."""
    return receipts.record_status(
        form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode")
    )


def vonage_signed(
    params: Mapping[str, Any], clinic_code: str | None, env: Mapping[str, str]
) -> bool:
    """Whether Vonage signed this webhook with the signature secret of this clinic's texts
    (the secret read from the variable its settings name), for its API key, just now."""
    sms = message_settings.of(get_clinic(clinic_code)).sms
    config = vonage_sms.config_for(env, sms)
    secret = env.get(str(config["signature_secret_env"]), "")
    return vonage_sms.signature_ok(
        params, secret, str(config["signature_method"]), config.get("api_key"), clock.now()
    )


def vonage_inbound(params: Mapping[str, Any], clinic_code: str | None) -> str:
    """A client's text through Vonage, handed to the same function as Twilio's."""
    return inbound(vonage_sms.inbound_fields(params), clinic_code)


def vonage_status(params: Mapping[str, Any]) -> receipts.ReceiptResult:
    """A Vonage delivery receipt kept on its outbox row (statuses in receipts.py's words)."""
    message_id, status, code = vonage_sms.receipt_fields(params)
    return receipts.record_status(message_id, status, code)
