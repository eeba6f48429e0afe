"""Rate limits of the served pages (logins, /join, its codes), counted in the database
(schema v15): every server process on one database counts in the same rows, and a restart
forgets nothing.

A limit allows `limit` requests per `window` seconds for one key (a client address); the
key is kept only as an HMAC under a secret kept in the database, so the table lists no
addresses. Old rows are deleted as new ones come. Each call needs a connection."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import secrets
import zlib

from waitlist_tui.domain import clock
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.locking import RATE_LOCKS, transaction_lock
from waitlist_tui.domain.store.models import RateHit
from waitlist_tui.domain.store.schema import get_meta, set_meta

SECRET_KEY = "rate_key_secret"
PRUNE_ONE_IN = 50  # how often a counted request also deletes the bucket's old rows


def _secret() -> bytes:
    value = get_meta(SECRET_KEY)
    if value is None:
        set_meta(SECRET_KEY, secrets.token_hex(32))
        value = get_meta(SECRET_KEY) or ""
    return bytes.fromhex(value)


class RateLimit:
    """At most `limit` requests in a sliding `window` (seconds) per key, in bucket `bucket`."""

    def __init__(self, bucket: str, limit: int, window: float = 60.0) -> None:
        self.bucket, self.limit, self.window = bucket, limit, window

    def key_hash(self, key: str) -> str:
        return hmac.new(_secret(), f"{self.bucket}:{key}".encode(), hashlib.sha256).hexdigest()

    def allow(self, key: str) -> bool:
        """Count this request and say whether it is within the limit (a refused one is not
        counted: a client that waits gets in again)."""
        now = clock.now()
        since = now - dt.timedelta(seconds=self.window)
        with database.atomic():
            hashed = self.key_hash(key)
            # One key's count at a time (PostgreSQL; SQLite has one writer): two requests at
            # once cannot both read the count under the limit.
            transaction_lock(RATE_LOCKS + zlib.crc32(hashed.encode()) % 1_000_000)
            seen = (
                RateHit.select()
                .where(
                    RateHit.bucket == self.bucket, RateHit.key_hash == hashed, RateHit.at > since
                )
                .count()
            )
            if seen >= self.limit:
                return False
            RateHit.create(bucket=self.bucket, key_hash=hashed, at=now)
            if random.randrange(PRUNE_ONE_IN) == 0:
                RateHit.delete().where(RateHit.bucket == self.bucket, RateHit.at <= since).execute()
        return True

    def forget(self) -> int:
        """Every count of this bucket gone (tests; an operator after a false alarm)."""
        return int(RateHit.delete().where(RateHit.bucket == self.bucket).execute())
