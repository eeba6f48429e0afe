"""Peewee models: fields, indexes and constraints only; the rules live in the service modules.

Every table whose rows get edited carries `version` for optimistic locking: an update is
`... WHERE id = ? AND version = ?` and a row count of 0 means another desk got there first.

A foreign key's `<name>_id` accessor, which peewee adds, is annotated at the top of its model
for the type checker (an annotation makes no column).

The base classes are in base.py (AuditedModel stamps created/updated at/by), the stats
tables in stats_tables.py.

A foreign key gets no index of its own (index=False) where a composite index of the table
starts with it: the duplicate would only slow writes and bulk loads.
"""

from __future__ import annotations

import uuid

from peewee import (
    SQL,
    BooleanField,
    CharField,
    DateField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    SmallIntegerField,
    TextField,
)

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store.base import AuditedModel as AuditedModel
from waitlist_tui.domain.store.base import BaseModel as BaseModel
from waitlist_tui.domain.store.base import UUIDModel as UUIDModel
from waitlist_tui.domain.store.fields import UTCDateTimeField
from waitlist_tui.domain.store.meta_tables import AuditEvent as AuditEvent
from waitlist_tui.domain.store.meta_tables import RateHit as RateHit
from waitlist_tui.domain.store.meta_tables import SchemaInfo as SchemaInfo
from waitlist_tui.domain.store.meta_tables import Staff as Staff
from waitlist_tui.domain.store.meta_tables import WebSession as WebSession
from waitlist_tui.domain.store.stats_tables import StatsCount as StatsCount
from waitlist_tui.domain.store.stats_tables import StatsPoint as StatsPoint


class Clinic(AuditedModel):
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=200)
    time_zone = CharField(max_length=64)
    region = CharField(max_length=2, default="US")  # phone numbers without + are read here
    waitlist_enabled = BooleanField(default=True)
    max_span_days = IntegerField(default=30)
    offer_hold_minutes = IntegerField(default=120)
    default_workflow = CharField(max_length=16, default=vocab.SEQUENTIAL)
    broadcast_top_n = IntegerField(default=3)
    parts_of_day = JSONField(default=lambda: dict(vocab.DEFAULT_PARTS_OF_DAY))
    event_waitlist_mode = CharField(max_length=16, default="enroll")  # enroll | offer
    no_answer_advances = BooleanField(default=True)
    settings = JSONField(default=dict)  # room for later settings without a migration
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    version = IntegerField(default=1)


class Service(UUIDModel):
    clinic_id: uuid.UUID

    clinic = ForeignKeyField(Clinic, backref="services", on_delete="CASCADE", index=False)
    code = CharField(max_length=32)
    name = CharField(max_length=200)
    duration_minutes = IntegerField()
    appointment_type = CharField(max_length=16, default=vocab.FOLLOW_UP)
    kind = CharField(max_length=16, default="appointment")  # appointment | event
    active = BooleanField(default=True)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("clinic", "code"), True),)


class Provider(UUIDModel):
    clinic_id: uuid.UUID

    clinic = ForeignKeyField(Clinic, backref="providers", on_delete="CASCADE", index=False)
    code = CharField(max_length=32)
    name = CharField(max_length=200)
    weekly_hours = JSONField(default=dict)  # {"MONDAY": [["09:00", "12:00"], ...], ...}
    active = BooleanField(default=True)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("clinic", "code"), True),)


class ProviderService(BaseModel):
    provider_id: uuid.UUID
    service_id: uuid.UUID

    provider = ForeignKeyField(Provider, on_delete="CASCADE", index=False)
    service = ForeignKeyField(Service, on_delete="CASCADE")

    class Meta:
        primary_key = False
        indexes = ((("provider", "service"), True),)


class TimeOff(UUIDModel):
    provider = ForeignKeyField(Provider, backref="time_off", on_delete="CASCADE", index=False)
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    reason = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("provider", "starts_at"), False),)


class Client(AuditedModel):
    clinic_id: uuid.UUID

    clinic = ForeignKeyField(Clinic, backref="clients", on_delete="CASCADE", index=False)
    first_name = CharField(max_length=100)
    last_name = CharField(max_length=100)
    phone = CharField(max_length=20, null=True)  # E.164
    email = CharField(max_length=254, null=True)  # normalised
    consent_sms = BooleanField(default=True)
    consent_email = BooleanField(default=True)
    # Lower-cased "first last email phone-digits", kept by the service layer for text search.
    search = TextField(default="")
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        indexes = (
            (("clinic", "phone"), False),
            (("clinic", "email"), False),
            (("clinic", "last_name", "first_name"), False),
        )


class Entry(AuditedModel):
    """One waitlist entry (a "waitlist request")."""

    clinic_id: uuid.UUID
    client_id: uuid.UUID
    service_id: uuid.UUID

    clinic = ForeignKeyField(Clinic, backref="entries", on_delete="CASCADE", index=False)
    client = ForeignKeyField(Client, backref="entries", on_delete="CASCADE", index=False)
    service = ForeignKeyField(Service, backref="entries", index=False)
    status = CharField(max_length=12, default=vocab.WAITING)
    priority = SmallIntegerField(default=3)
    payment_type = CharField(max_length=16)
    appointment_type = CharField(max_length=16)
    preferred_days = SmallIntegerField(default=0)  # bit mask over vocab.DAYS; 0 = any day
    preferred_time_slots = SmallIntegerField(default=0)  # bit mask over vocab.TIME_SLOTS
    preferred_time_start = SmallIntegerField(null=True)  # minutes after local midnight
    preferred_time_end = SmallIntegerField(null=True)
    date_range_start = DateField()
    date_range_end = DateField()
    notes = TextField(default="")
    expires_at = UTCDateTimeField(null=True)
    original_appointment_at = UTCDateTimeField(null=True)  # schema v2
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    status_changed_at = UTCDateTimeField()
    booked_at = UTCDateTimeField(null=True)
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)
    # schema v12: from the clients' /join page (a column default too: bulk inserts omit it)
    self_joined = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    # schema v18: the client keeps their later appointment when they take an earlier slot
    # (no knock-on release, fill/knock_on.py); a column default for the bulk rows too
    keep_later_appointment = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    # schema v19, kept by triggers alone (store/demand_columns.py; no service writes them):
    # the entry's preferred providers ("id,id" in id order, NULL for none) and whether it
    # was ever offered a slot, so `stats demand` reads them from its indexes
    provider_ids = TextField(null=True)
    ever_offered = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])

    class Meta:
        indexes = (
            (("clinic", "status", "priority", "created_at", "id"), False),
            # The queue's default order, with status inside so the scan filters without
            # reading rows and id so no sort is left for the tie-break.
            (("clinic", "priority", "created_at", "id", "status"), False),
            # A service's waiting entries in queue order: the filtered queue page, and the
            # matching prefilter (which then checks each one's date range).
            (("service", "status", "priority", "created_at", "id"), False),
            (("client", "status"), False),
            (("status", "expires_at"), False),
        )


class EntryProvider(BaseModel):
    entry_id: uuid.UUID
    provider_id: uuid.UUID

    entry = ForeignKeyField(Entry, backref="provider_links", on_delete="CASCADE", index=False)
    provider = ForeignKeyField(Provider, on_delete="CASCADE", index=False)

    class Meta:
        primary_key = False
        indexes = ((("entry", "provider"), True), (("provider", "entry"), False))


class CalendarSource(AuditedModel):
    """A provider's calendar as the clinic file names it (schema v7): a file or a feed, the
    rules that map its events to services, and how its last sync went. `source` may hold a
    feed's private token: it is read to fetch, and shown only as `label`."""

    provider_id: uuid.UUID

    provider = ForeignKeyField(Provider, backref="calendar_sources", on_delete="CASCADE")
    source = TextField()
    label = CharField(max_length=300)
    spec = TextField()  # JSON: the rules (calendar/sources.SourceSpec)
    tag = CharField(max_length=300, null=True)  # the feed's ETag, or a file's size and time
    modified = CharField(max_length=100, null=True)  # the feed's Last-Modified
    digest = CharField(max_length=64, null=True)  # sha256 of the content last applied
    blocks = TextField(null=True)  # JSON: calendar/blocks.Known, the events' hashes (v8)
    checked_at = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(null=True)
    failed_at = UTCDateTimeField(null=True)
    error = TextField(null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("provider", "source"), True),)


class Appointment(AuditedModel):
    clinic_id: uuid.UUID
    client_id: uuid.UUID | None
    provider_id: uuid.UUID
    service_id: uuid.UUID | None
    entry_id: uuid.UUID | None
    calendar_source_id: uuid.UUID | None

    clinic = ForeignKeyField(Clinic, on_delete="CASCADE", index=False)
    # no client, or no service, for a booking read from the clinic's calendar (schema v7)
    client = ForeignKeyField(Client, null=True, backref="appointments", on_delete="CASCADE")
    provider = ForeignKeyField(Provider, backref="appointments", index=False)
    service = ForeignKeyField(Service, null=True)
    entry = ForeignKeyField(Entry, null=True, backref="appointments", on_delete="SET NULL")
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    status = CharField(max_length=12, default=vocab.APPT_BOOKED)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    cancelled_at = UTCDateTimeField(null=True)
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)
    # From the clinic's calendar (schema v7): its source and the occurrence's key there (UID
    # and RECURRENCE-ID), the event's title, and whether it is a day away (no opening when
    # it is taken back). What the waitlist booked has no source.
    calendar_source = ForeignKeyField(
        CalendarSource, null=True, backref="appointments", on_delete="SET NULL", index=False
    )
    calendar_key = CharField(max_length=600, null=True)
    summary = CharField(max_length=200, null=True)
    away = BooleanField(default=False)

    class Meta:
        indexes = (
            (("provider", "starts_at"), False),
            # A provider's booked time overlapping a slot (first_overlap; schema v8): the
            # (provider, starts_at) index walked the provider's whole history to the slot
            # (SQLite picks it: 19 ms at 100,000 entries, 0.04 ms with this one).
            # With ends_at (schema v14) it covers a provider's busy time over a range
            # (availability.busy): no table read per appointment.
            (("provider", "status", "starts_at", "ends_at"), False),
            (("clinic", "starts_at"), False),
            (("status", "starts_at"), False),
            (("calendar_source", "calendar_key"), True),
        )


class Opening(AuditedModel):
    """A free block of a provider's time that the desk wants to fill."""

    clinic_id: uuid.UUID
    provider_id: uuid.UUID
    service_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    freed_by_id: uuid.UUID | None

    clinic = ForeignKeyField(Clinic, on_delete="CASCADE")
    provider = ForeignKeyField(Provider, backref="openings", index=False)
    service = ForeignKeyField(Service, null=True)
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")  # cancelled one
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    status = CharField(max_length=12, default=vocab.OPENING_OPEN)
    source = CharField(max_length=16, default="manual")  # manual | cancellation | knock_on
    workflow = CharField(max_length=16, null=True)
    # schema v18, a knock-on release (fill/knock_on.py): the booking whose client gave this
    # time back, and the chain's first opening (every opening a chain frees names it)
    freed_by = ForeignKeyField(
        Appointment, null=True, on_delete="SET NULL", backref="freed_openings", index=False
    )
    chain = CharField(max_length=36, null=True, index=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    filled_at = UTCDateTimeField(null=True)
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        indexes = (
            (("status", "starts_at"), False),
            (("provider", "starts_at"), False),
            # open time overlapping (v8); with ends_at (v14) it covers availability.busy
            (("provider", "status", "starts_at", "ends_at"), False),
        )


class Offer(AuditedModel):
    """An opening offered to one entry (an "invite")."""

    opening_id: uuid.UUID
    entry_id: uuid.UUID

    opening = ForeignKeyField(Opening, backref="offers", on_delete="CASCADE", index=False)
    entry = ForeignKeyField(Entry, backref="offers", on_delete="CASCADE", index=False)
    status = CharField(max_length=12, default=vocab.OFFER_SENT)
    match_type = CharField(max_length=8, default=vocab.EXACT)
    sent_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    responded_at = UTCDateTimeField(null=True)
    note = TextField(default="")
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        indexes = (
            (("opening", "status"), False),
            (("entry", "status"), False),
            (("status", "expires_at"), False),
        )


class OfferRanking(AuditedModel):
    """What the desk saw when an opening's candidates were ranked for an offer (kind "offer",
    `offer` the first offer it sent), or an entry the desk skipped for this opening with the
    reason typed (kind "skip", `entry` and `reason`). `record` holds the compact ranking
    (domain/fill/fairness.py): the entries that fitted, the first ones that did not, and
    counts of the rest by reason. Written in the offer's (or the skip's) transaction."""

    opening_id: uuid.UUID
    offer_id: uuid.UUID | None
    entry_id: uuid.UUID | None

    opening = ForeignKeyField(Opening, on_delete="CASCADE", index=False)
    offer = ForeignKeyField(Offer, null=True, on_delete="SET NULL")
    entry = ForeignKeyField(Entry, null=True, on_delete="CASCADE")
    kind = CharField(max_length=8)  # offer | skip
    reason = TextField(default="")
    record = JSONField(default=dict)
    created_at = UTCDateTimeField()
    created_by = CharField(max_length=120)

    class Meta:
        table_name = "offer_ranking"
        indexes = (
            (("opening", "kind", "created_at"), False),
            (("created_at",), False),
        )


# The queue's default view (waiting + offered) in its order, from the active entries alone
# (schema v5). PostgreSQL reads a plain index scan's rows from the table: walking the full
# (clinic, priority, ...) index to the first 50 active entries read thousands of closed ones,
# and counting them read the table; with this index the first page is 12 -> 6 ms at 100k.
# (SQLite keeps using the covering indexes above: its queries bind the statuses as parameters,
# and it takes a partial index only for a WHERE written out in the query.) v23 adds the
# client: a search that matches many clients walks the queue in this order and checks each
# entry's client, from the index alone instead of each entry's row (listing.py).
ACTIVE_QUEUE_INDEX = "entry_active_queue"
Entry.add_index(
    Entry.index(
        Entry.clinic,
        Entry.priority,
        Entry.created_at,
        Entry.id,
        Entry.client,
        where=SQL(f"status IN ('{vocab.WAITING}', '{vocab.OFFERED}')"),
        name=ACTIVE_QUEUE_INDEX,
    )
)


# The waiting entries by what `stats demand` groups them on (schema v18): the report reads
# this partial covering index alone, never the table (SQLite is told to, INDEXED BY: its
# planner took the queue's index and read 23,000 table rows, 533 -> 109 ms).
# domain/stats/demand.py. In the order of its preference pattern, providers included (v22):
# SQLite groups the entries per pattern as it reads them, with no sort (206 -> 87 ms at
# 99,000 waiting).
DEMAND_INDEX = "entry_waiting_demand"
Entry.add_index(
    Entry.index(
        Entry.clinic,
        Entry.service,
        Entry.preferred_days,
        Entry.preferred_time_slots,
        Entry.preferred_time_start,
        Entry.preferred_time_end,
        Entry.provider_ids,  # v19: no look-up of its preferred providers per entry
        Entry.date_range_start,
        Entry.date_range_end,
        Entry.created_at,
        Entry.id,
        Entry.status,  # named in the WHERE: without it SQLite reads the table row too
        where=SQL(f"status = '{vocab.WAITING}'"),
        name=DEMAND_INDEX,
    )
)


# The entries that ended (cancelled, expired) with what `stats demand` groups them on
# (schema v18): "ended without an offer" over the last 90 days reads this alone, not the
# table's 140,000 closed rows (2.2 s at 99,000 waiting of 430,000 entries). In the order it
# groups them, the time last (v22): SQLite reads every closed entry's index row but groups
# them as it reads, where the 90 days first had it sort 67,000 rows (77 -> 30 ms).
ENDED_INDEX = "entry_ended_demand"
Entry.add_index(
    Entry.index(
        Entry.clinic,
        Entry.service,
        Entry.preferred_days,
        Entry.preferred_time_slots,
        Entry.provider_ids,  # v19: no join of its preferred providers
        Entry.ever_offered,  # v19: no offer probe per entry
        Entry.status_changed_at,
        Entry.id,
        Entry.status,
        where=SQL(f"status IN ('{vocab.CANCELLED}', '{vocab.EXPIRED}')"),
        name=ENDED_INDEX,
    )
)


# At most one accepted offer per opening, and at most one sent offer per entry, whatever the
# number of desks racing: the database refuses the second one.
Offer.add_index(
    Offer.index(
        Offer.opening,
        unique=True,
        where=SQL("status = 'accepted'"),
        name="offer_one_accepted_per_opening",
    )
)
Offer.add_index(
    Offer.index(
        Offer.entry, unique=True, where=SQL("status = 'sent'"), name="offer_one_sent_per_entry"
    )
)


class EventInstance(UUIDModel):
    """A class or group session with a capacity; a full one keeps its own waitlist."""

    clinic_id: uuid.UUID
    service_id: uuid.UUID
    provider_id: uuid.UUID | None

    clinic = ForeignKeyField(Clinic, on_delete="CASCADE")
    service = ForeignKeyField(Service)
    provider = ForeignKeyField(Provider, null=True)
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    capacity = IntegerField()
    status = CharField(max_length=12, default="scheduled")  # scheduled | cancelled | completed
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("clinic", "starts_at"), False),)


class Enrolment(AuditedModel):
    instance_id: uuid.UUID
    client_id: uuid.UUID

    instance = ForeignKeyField(
        EventInstance, backref="enrolments", on_delete="CASCADE", index=False
    )
    client = ForeignKeyField(Client, on_delete="CASCADE")
    status = CharField(max_length=12)  # enrolled | waitlisted | offered | cancelled
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    offered_at = UTCDateTimeField(null=True)
    expires_at = UTCDateTimeField(null=True)
    created_by = CharField(max_length=120)
    updated_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        indexes = (
            (("instance", "status", "created_at"), False),
            (("status", "expires_at"), False),
        )


# A client is on a class once (enrolled, waitlisted or offered), whatever desks race.
Enrolment.add_index(
    Enrolment.index(
        Enrolment.instance,
        Enrolment.client,
        unique=True,
        where=SQL("status <> 'cancelled'"),
        name="enrolment_one_live_per_client",
    )
)


class OutboxMessage(AuditedModel):
    """A message to a client, written in the transaction of what it tells (schema v4): the
    delivery loop sends it later, once, keyed by `idempotency_key`. `lease_until` and
    `claim_token` mark a row a delivery loop has claimed; an expired lease (or, on PostgreSQL,
    a claim whose run's session is gone) is claimable again. Each attempt is counted before
    the send (`attempts`, `sending_since`, schema v6); a claim that finds `sending_since` set
    knows the attempt was cut off with its outcome unknown and counts it in `interrupted`:
    the message goes again with the same key, and the desk sees it may have gone twice."""

    clinic_id: uuid.UUID
    client_id: uuid.UUID

    clinic = ForeignKeyField(Clinic, on_delete="CASCADE", index=False)
    client = ForeignKeyField(Client, on_delete="CASCADE")
    kind = CharField(max_length=24)  # offer | offer_expired | booked | seat_promoted ...
    channel = CharField(max_length=8)  # sms | email
    recipient = CharField(max_length=254)
    subject = CharField(max_length=200, default="")
    body = TextField()
    idempotency_key = CharField(max_length=120, unique=True)
    ref_type = CharField(max_length=16, default="")  # offer | enrolment | reply
    ref_id = CharField(max_length=36, default="")
    status = CharField(max_length=8, default="pending")  # pending | sent | failed | dead
    attempts = IntegerField(default=0)
    next_attempt_at = UTCDateTimeField()
    lease_until = UTCDateTimeField(null=True)
    claim_token = CharField(max_length=36, null=True)
    sending_since = UTCDateTimeField(null=True)  # an attempt began; its outcome not yet written
    interrupted = IntegerField(default=0)  # attempts cut off mid-send (the sender died)
    last_error = TextField(default="")
    provider_message_id = CharField(max_length=200, null=True)
    # what the provider's status callbacks said (schema v13): queued | sent | delivered |
    # undelivered | failed; a final one never goes back (messaging/receipts.py)
    delivery_status = CharField(max_length=12, null=True)
    delivery_error = CharField(max_length=16, null=True)  # the provider's error code
    delivery_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(null=True)
    created_by = CharField(max_length=120)
    version = IntegerField(default=1)

    class Meta:
        table_name = "outbox_message"
        indexes = (
            (("status", "next_attempt_at"), False),
            (("clinic", "created_at"), False),
            (("provider_message_id",), False),
        )


class InboundMessage(UUIDModel):
    """A reply as the SMS gateway passed it on (schema v4), and what it did: accepted,
    declined, already_filled, no_offer, opted_out / opted_in / help (STOP, START, HELP), or
    note (anything else, for the desk to read)."""

    clinic_id: uuid.UUID
    client_id: uuid.UUID | None

    clinic = ForeignKeyField(Clinic, on_delete="CASCADE", index=False)
    client = ForeignKeyField(Client, null=True, on_delete="SET NULL")
    sender = CharField(max_length=32)  # E.164 when it parsed, else as received
    text = TextField()
    outcome = CharField(max_length=16)
    offer_id = CharField(max_length=36, null=True)
    received_at = UTCDateTimeField()
    # the provider's id for it (schema v13): a webhook delivered twice is acted on once
    provider_message_id = CharField(max_length=64, null=True, unique=True)

    class Meta:
        table_name = "inbound_message"
        indexes = ((("clinic", "received_at"), False),)


class JoinCode(UUIDModel):
    """The one-time code that confirms a self-joined entry's phone (schema v12): its HMAC,
    never the code; tries counted; gone with its entry. domain/waitlist/self_join.py."""

    entry_id: uuid.UUID

    entry = ForeignKeyField(Entry, on_delete="CASCADE", index=False)
    phone = CharField(max_length=32)
    code_hash = CharField(max_length=64)
    sent_at = UTCDateTimeField()  # when the code was made and queued
    expires_at = UTCDateTimeField()
    tries = SmallIntegerField(default=0)
    used_at = UTCDateTimeField(null=True)
    # The consents the page asked for, given to an existing client only once the code proves
    # the phone (schema v15): the page can add a consent, never withdraw one.
    adds_consent_sms = BooleanField(default=False)
    adds_consent_email = BooleanField(default=False)

    class Meta:
        table_name = "join_code"
        indexes = (
            (("entry",), False),
            (("phone", "sent_at"), False),
        )


class OfferLink(UUIDModel):
    """A link an offer's message carried (schema v16): the SHA-256 of its random token, never
    the token; bound to one offer and alive only while that offer is sent and before its
    deadline; used once (used_at, used_for). domain/fill/offer_links.py."""

    offer_id: uuid.UUID

    offer = ForeignKeyField(Offer, on_delete="CASCADE", index=False)
    token_hash = CharField(max_length=64, unique=True)
    issued_at = UTCDateTimeField()  # when its text went out (not an audited row's stamp)
    used_at = UTCDateTimeField(null=True)
    used_for = CharField(max_length=12, default="")  # accept | decline | opt_out

    class Meta:
        table_name = "offer_link"
        indexes = ((("offer",), False),)


ALL_MODELS: list[type[BaseModel]] = [
    SchemaInfo,
    Clinic,
    Staff,
    Service,
    Provider,
    ProviderService,
    TimeOff,
    Client,
    Entry,
    EntryProvider,
    CalendarSource,
    Appointment,
    Opening,
    Offer,
    OfferRanking,
    EventInstance,
    Enrolment,
    AuditEvent,
    StatsCount,
    StatsPoint,
    OutboxMessage,
    InboundMessage,
    JoinCode,
    OfferLink,
    WebSession,
    RateHit,
]
