"""Offers, as one name for their callers: the work lives in modules named for what they do.

- offer_views: OfferView, get_offer, list_offers, taken_by (reading)
- sending: offer (to the best candidate, the top N, or one entry)
- slot_offers: offer_slot (open a typed slot if needed and offer it, one transaction)
- ending: end_offer and its causes (every way an offer ends), withdraw_opening, expire_offers
- offer_replies: accept, decline, rescind (the desk's answers)
"""

from __future__ import annotations

from waitlist_tui.domain.fill.ending import (
    CAUSES,
    DECLINED,
    END_RULES,
    ENTRY_CANCELLED,
    ENTRY_EXPIRED,
    ENTRY_NARROWED,
    EXPIRED,
    FILLED_BY_OTHER,
    NO_ANSWER,
    OPENING_WITHDRAWN,
    OPTED_OUT,
    PAST_DEADLINE,
    RESCINDED,
    Ended,
    EndRule,
    end_entry_offers,
    end_offer,
    expire_offers,
    withdraw_opening,
)
from waitlist_tui.domain.fill.offer_replies import Reply, accept, decline, rescind
from waitlist_tui.domain.fill.offer_views import (
    FILLED,
    NOTE_MAX,
    OfferView,
    get_offer,
    list_offers,
    lock_offer,
    offer_message_key,
    offer_parties,
    reply_note,
    resolve_offer,
    taken_by,
)
from waitlist_tui.domain.fill.sending import offer

__all__ = [
    "CAUSES",
    "DECLINED",
    "END_RULES",
    "ENTRY_CANCELLED",
    "ENTRY_EXPIRED",
    "ENTRY_NARROWED",
    "EXPIRED",
    "FILLED",
    "FILLED_BY_OTHER",
    "NOTE_MAX",
    "NO_ANSWER",
    "OPENING_WITHDRAWN",
    "OPTED_OUT",
    "PAST_DEADLINE",
    "RESCINDED",
    "EndRule",
    "Ended",
    "OfferView",
    "Reply",
    "accept",
    "decline",
    "end_entry_offers",
    "end_offer",
    "expire_offers",
    "get_offer",
    "list_offers",
    "lock_offer",
    "offer",
    "offer_message_key",
    "offer_parties",
    "reply_note",
    "rescind",
    "resolve_offer",
    "taken_by",
    "withdraw_opening",
]
