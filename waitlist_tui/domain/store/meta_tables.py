"""The tables about the desk rather than its work: the schema's own facts, the staff names,
and the audit trail. They point at no other table, so they live apart from the models."""

from __future__ import annotations

from peewee import BigAutoField, CharField, IntegerField, JSONField, TextField

from waitlist_tui.domain.store.base import AuditedModel, BaseModel
from waitlist_tui.domain.store.fields import UTCDateTimeField


class SchemaInfo(BaseModel):
    """Key/value rows: the schema version, and facts such as when the demo was built."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()


class Staff(AuditedModel):
    """A staff account for the desk served in a browser (domain/access/accounts.py): its
    argon2 password hash (never the password), its role, and the failed-login lock."""

    name = CharField(max_length=120, unique=True)
    created_at = UTCDateTimeField()
    role = CharField(max_length=16, default="desk")
    password_hash = CharField(max_length=255, null=True)
    disabled_at = UTCDateTimeField(null=True)
    failed_logins = IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)
    last_login_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(null=True)


class AuditEvent(BaseModel):
    """Who did what, when, with the old and new values; written in the same transaction."""

    id = BigAutoField()
    at = UTCDateTimeField()
    actor = CharField(max_length=120)
    action = CharField(max_length=40)
    object_type = CharField(max_length=24)
    object_id = CharField(max_length=36)
    changes = JSONField(default=dict)

    class Meta:
        indexes = (
            (("object_type", "object_id", "at"), False),
            # `audit list`: a period, and newest first a page at a time (schema v9)
            (("at",), False),
        )


class WebSession(BaseModel):
    """A login session of the served desk (schema v15, domain/access/sessions.py): the
    SHA-256 of its token (the cookie holds the token; the database never does), whose it is,
    and when it was last used. In the database, so a restart keeps staff logged in and two
    server processes share them."""

    token_hash = CharField(max_length=64, primary_key=True)
    staff = CharField(max_length=120, index=True)
    role = CharField(max_length=16)
    started_at = UTCDateTimeField()
    seen_at = UTCDateTimeField(index=True)

    class Meta:
        table_name = "web_session"


class RateHit(BaseModel):
    """One counted request of a rate limit (schema v15, domain/access/limits.py): which limit,
    a hash of what it counts by (a client address, a phone), and when. Every server process
    counts in the same rows."""

    id = BigAutoField()
    bucket = CharField(max_length=24)
    key_hash = CharField(max_length=64)
    at = UTCDateTimeField()

    class Meta:
        table_name = "rate_hit"
        indexes = ((("bucket", "key_hash", "at"), False), (("at",), False))
