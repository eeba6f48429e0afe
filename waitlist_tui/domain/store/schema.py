"""Schema versioning: create on first open, migrate an older schema, refuse a newer one.

Each entry of MIGRATIONS moves the schema from version N-1 to N with playhouse.migrate, in one
transaction with the version bump, so a failed migration leaves the old schema as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from peewee import Database, SqliteDatabase

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.store import models as m
from waitlist_tui.domain.store.db import schema_of
from waitlist_tui.domain.store.fields import UTCDateTimeField
from waitlist_tui.domain.store.locking import SCHEMA_LOCK, transaction_lock

if TYPE_CHECKING:  # playhouse.migrate loads only when a migration runs: not on every start
    from playhouse.migrate import SchemaMigrator

CURRENT_VERSION = 24
VERSION_KEY = "schema_version"


class SchemaError(DomainError):
    """The database cannot be used by this version of the app."""

    code = 4090


def _v2_original_appointment_and_search(db: Database, migrator: SchemaMigrator) -> None:
    """v2: entries remember the client's original appointment (for "days sooner" stats) and
    clients carry a denormalised search text, backfilled here."""
    from playhouse.migrate import migrate

    migrate(
        migrator.add_column("entry", "original_appointment_at", UTCDateTimeField(null=True)),
        migrator.add_column("client", "search", m.Client.search),
    )
    from waitlist_tui.domain.textinput import search_text

    for client in m.Client.select(
        m.Client.id, m.Client.first_name, m.Client.last_name, m.Client.email, m.Client.phone
    ).iterator():
        m.Client.update(
            search=search_text(client.first_name, client.last_name, client.email, client.phone)
        ).where(m.Client.id == client.id).execute()


def _v3_stats_rollups(db: Database, migrator: SchemaMigrator) -> None:
    """v3: stats read pre-aggregated rollups kept by triggers (domain/store/rollups.py); created and
    filled from the rows already there."""
    from waitlist_tui.domain.store import rollup_rebuild

    db.create_tables([m.StatsCount, m.StatsPoint], safe=True)
    rollup_rebuild.rebuild()  # _ensure installs the triggers once every step has run


def _v4_outbox(db: Database, migrator: SchemaMigrator) -> None:
    """v4: the outbox of messages to clients and the replies they send back; both start
    empty (what happened before v4 was never messaged)."""
    db.create_tables([m.OutboxMessage, m.InboundMessage], safe=True)


def _v5_active_queue_index(db: Database, migrator: SchemaMigrator) -> None:
    """v5: a partial index of the active entries in queue order (models.ACTIVE_QUEUE_INDEX)."""
    _entry_indexes(db)


def _v6_outbox_attempts(db: Database, migrator: SchemaMigrator) -> None:
    """v6: an outbox attempt is recorded before its send (`sending_since`), and attempts cut
    off by a crash are counted (`interrupted`), so a message sent twice shows it. (An outbox
    that v4 created in this same run has them already.)"""
    from playhouse.migrate import migrate

    have = {column.name for column in db.get_columns("outbox_message")}
    fields = (m.OutboxMessage.sending_since, m.OutboxMessage.interrupted)
    migrate(
        *(
            migrator.add_column("outbox_message", f.column_name, f)
            for f in fields
            if f.column_name not in have
        )
    )


def _v7_calendars(db: Database, migrator: SchemaMigrator) -> None:
    """v7: providers' calendar sources, and appointments read from them: such a booking has
    no client and may have no service (client_id and service_id lose NOT NULL; SQLite
    rebuilds the table to do it), and carries its source, key, title and away flag."""
    from playhouse.migrate import migrate

    db.create_tables([m.CalendarSource], safe=True)
    have = {column.name for column in db.get_columns("appointment")}
    fields = (
        m.Appointment.calendar_source,
        m.Appointment.calendar_key,
        m.Appointment.summary,
        m.Appointment.away,
    )
    migrate(
        *(
            migrator.add_column("appointment", f.column_name, f)
            for f in fields
            if f.column_name not in have
        ),
        migrator.drop_not_null("appointment", "client_id"),
        migrator.drop_not_null("appointment", "service_id"),
    )
    schema_of(m.Appointment).create_indexes(safe=True)


def _v8_calendar_blocks(db: Database, migrator: SchemaMigrator) -> None:
    """v8: a calendar source keeps its events' block hashes, so a re-sync parses only the
    events that changed (calendar/blocks.py); empty until the next sync reads it whole."""
    from playhouse.migrate import migrate

    if "blocks" not in {column.name for column in db.get_columns("calendar_source")}:
        migrate(migrator.add_column("calendar_source", "blocks", m.CalendarSource.blocks))


def _v9_audit_by_time(db: Database, migrator: SchemaMigrator) -> None:
    """v9: the audit trail indexed by time, for `audit list` over a period and its pages
    newest first (a scan of the whole trail before: 0.4 s at 200k rows). Idempotent."""
    schema_of(m.AuditEvent).create_indexes(safe=True)


def _v10_search_and_overlap_indexes(db: Database, migrator: SchemaMigrator) -> None:
    """v10: PostgreSQL's trigram index for text search (store/pg_indexes.py), when pg_trgm can
    be had; on both backends, a provider's appointments and openings by status and start (a
    slot's overlaps, without walking the provider's history)."""
    from waitlist_tui.domain.store import pg_indexes

    pg_indexes.install(db)
    schema_of(m.Appointment).create_indexes(safe=True)
    schema_of(m.Opening).create_indexes(safe=True)


def _v11_staff_accounts(db: Database, migrator: SchemaMigrator) -> None:
    """v11: a staff row becomes an account for the desk in a browser: role, password hash,
    disabled, and the failed-login count and lock (domain/access/accounts.py)."""
    from playhouse.migrate import migrate

    have = {column.name for column in db.get_columns("staff")}
    fields = (
        m.Staff.role,
        m.Staff.password_hash,
        m.Staff.disabled_at,
        m.Staff.failed_logins,
        m.Staff.locked_until,
        m.Staff.last_login_at,
        m.Staff.updated_at,
    )
    migrate(
        *(
            migrator.add_column("staff", f.column_name, f)
            for f in fields
            if f.column_name not in have
        )
    )


def _v12_self_join(db: Database, migrator: SchemaMigrator) -> None:
    """v12: an entry a client made on the /join page is marked self_joined; its phone's
    one-time codes live in join_code (domain/waitlist/self_join.py)."""
    from playhouse.migrate import migrate

    if "self_joined" not in {column.name for column in db.get_columns("entry")}:
        migrate(migrator.add_column("entry", "self_joined", m.Entry.self_joined))
    db.create_tables([m.JoinCode], safe=True)


def _v13_sms_receipts(db: Database, migrator: SchemaMigrator) -> None:
    """v13: an outbox row keeps what the SMS provider's status callbacks said (delivery
    status, error code, when), found by the provider's message id; a reply keeps the
    provider's id (unique), so a webhook delivered twice acts once. Idempotent."""
    from playhouse.migrate import migrate

    have = {column.name for column in db.get_columns("outbox_message")}
    fields = (
        m.OutboxMessage.delivery_status,
        m.OutboxMessage.delivery_error,
        m.OutboxMessage.delivery_at,
    )
    steps = [
        migrator.add_column("outbox_message", f.column_name, f)
        for f in fields
        if f.column_name not in have
    ]
    if "provider_message_id" not in {c.name for c in db.get_columns("inbound_message")}:
        steps.append(
            migrator.add_column(
                "inbound_message", "provider_message_id", m.InboundMessage.provider_message_id
            )
        )
    migrate(*steps)
    schema_of(m.OutboxMessage).create_indexes(safe=True)
    schema_of(m.InboundMessage).create_indexes(safe=True)


def _v14_covering_busy_indexes(db: Database, migrator: SchemaMigrator) -> None:
    """v14: a provider's appointments and openings by status and start now carry ends_at,
    so a range of busy time (availability.busy: free slots for an entry) is read from the
    index alone; at a million entries the table reads per row were most of 0.5 s.
    Replaces the v10 indexes (a prefix of the new ones). Idempotent."""
    for table in ("appointment", "opening"):
        db.execute_sql(f'DROP INDEX IF EXISTS "{table}_provider_id_status_starts_at"')
    schema_of(m.Appointment).create_indexes(safe=True)
    schema_of(m.Opening).create_indexes(safe=True)


def _v15_shared_sessions(db: Database, migrator: SchemaMigrator) -> None:
    """v15: the served desk's login sessions (hashed tokens) and its rate-limit counts move
    from one server's memory to the database (web_session, rate_hit); a /join code keeps the
    consents the page asked for, given only once the code proves the phone. Idempotent."""
    from playhouse.migrate import migrate

    db.create_tables([m.WebSession, m.RateHit], safe=True)
    have = {column.name for column in db.get_columns("join_code")}
    migrate(
        *(
            migrator.add_column("join_code", f.column_name, f)
            for f in (m.JoinCode.adds_consent_sms, m.JoinCode.adds_consent_email)
            if f.column_name not in have
        )
    )


def _v16_offer_links(db: Database, migrator: SchemaMigrator) -> None:
    """v16: the links offer messages carry (offer_link: a token's hash, its offer, when it
    was used); domain/fill/offer_links.py. Idempotent."""
    db.create_tables([m.OfferLink], safe=True)


def _v17_offer_rankings(db: Database, migrator: SchemaMigrator) -> None:
    """v17: the fairness record, what the desk saw when an opening was offered (offer_ranking,
    domain/fill/fairness.py), and the desk's skips. A new table: nothing to backfill."""
    db.create_tables([m.OfferRanking], safe=True)


def _v18_knock_on(db: Database, migrator: SchemaMigrator) -> None:
    """v18: knock-on fill (fill/knock_on.py). An entry may keep its later appointment when it
    takes an earlier slot; an opening a release made names the booking that freed it and its
    chain. And the waiting entries' partial index that `stats demand` reads. Idempotent."""
    from playhouse.migrate import migrate

    steps = []
    if "keep_later_appointment" not in {c.name for c in db.get_columns("entry")}:
        steps.append(
            migrator.add_column("entry", "keep_later_appointment", m.Entry.keep_later_appointment)
        )
    have = {c.name for c in db.get_columns("opening")}
    for f in (m.Opening.freed_by, m.Opening.chain):
        if f.column_name not in have:
            steps.append(migrator.add_column("opening", f.column_name, f))
    migrate(*steps)
    schema_of(m.Opening).create_indexes(safe=True)
    _entry_indexes(db)  # DEMAND_INDEX, ENDED_INDEX: `stats demand` (v19 widens them)


def _entry_indexes(db: Database) -> None:
    """Entry's missing indexes, less those naming a column a later step adds (that step
    creates them)."""
    have = {c.name for c in db.get_columns("entry")}
    for index in m.Entry._meta.fields_to_index():
        names = {getattr(e, "column_name", None) for e in index._expressions}
        if names - {None} <= have:
            db.execute(index.safe(True))


def _v19_demand_columns(db: Database, migrator: SchemaMigrator) -> None:
    """v19: entries carry their preferred providers and whether they were ever offered a slot
    (store/demand_columns.py, kept by triggers that _ensure installs), filled here for the
    rows already there; `stats demand`'s two indexes are made anew to cover them. Idempotent."""
    from playhouse.migrate import migrate

    from waitlist_tui.domain.store import demand_columns, rollups

    have = {c.name for c in db.get_columns("entry")}
    migrate(
        *(
            migrator.add_column("entry", f.column_name, f)
            for f in (m.Entry.provider_ids, m.Entry.ever_offered)
            if f.column_name not in have
        )
    )
    for name in (m.DEMAND_INDEX, m.ENDED_INDEX):
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    demand_columns.refill(rollups.dialect())
    _entry_indexes(db)


def _v20_sqlite_search_index(db: Database, migrator: SchemaMigrator) -> None:
    """v20: SQLite's trigram index of the clients' search text and the triggers that keep it
    (store/sqlite_search.py), built here for the clients already there. Idempotent; nothing
    on PostgreSQL (pg_trgm, v10)."""
    from waitlist_tui.domain.store import sqlite_search

    sqlite_search.install(db)


def _v21_stats_point_key(db: Database, migrator: SchemaMigrator) -> None:
    """v21: stats over a period count their values per bin through stats_point_key
    (domain/stats/from_rollups.py), which replaces stats_point_time. Idempotent."""
    db.execute_sql("DROP INDEX IF EXISTS stats_point_time")
    schema_of(m.StatsPoint).create_indexes(safe=True)


def _v22_demand_index_order(db: Database, migrator: SchemaMigrator) -> None:
    """v22: `stats demand`'s two indexes made anew in the order it groups on (models.py,
    DEMAND_INDEX and ENDED_INDEX), so SQLite groups as it reads instead of sorting.
    Idempotent."""
    for name in (m.DEMAND_INDEX, m.ENDED_INDEX):
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    _entry_indexes(db)


def _v23_active_queue_client(db: Database, migrator: SchemaMigrator) -> None:
    """v23: the active queue's index (models.ACTIVE_QUEUE_INDEX) made anew with each entry's
    client at its end, so a search walking the queue checks the client from the index.
    Idempotent."""
    db.execute_sql(f'DROP INDEX IF EXISTS "{m.ACTIVE_QUEUE_INDEX}"')
    _entry_indexes(db)


def _v24_stats_period_index(db: Database, migrator: SchemaMigrator) -> None:
    """v24: PostgreSQL's stats_point_period (store/pg_indexes.py), the period's median values
    grouped from one range of it. Nothing on SQLite. Idempotent."""
    from waitlist_tui.domain.store import pg_indexes

    pg_indexes.install_stats_period(db)


MIGRATIONS: dict[int, Callable[[Database, SchemaMigrator], None]] = {
    2: _v2_original_appointment_and_search,
    3: _v3_stats_rollups,
    4: _v4_outbox,
    5: _v5_active_queue_index,
    6: _v6_outbox_attempts,
    7: _v7_calendars,
    8: _v8_calendar_blocks,
    9: _v9_audit_by_time,
    10: _v10_search_and_overlap_indexes,
    11: _v11_staff_accounts,
    12: _v12_self_join,
    13: _v13_sms_receipts,
    14: _v14_covering_busy_indexes,
    15: _v15_shared_sessions,
    16: _v16_offer_links,
    17: _v17_offer_rankings,
    18: _v18_knock_on,
    19: _v19_demand_columns,
    20: _v20_sqlite_search_index,
    21: _v21_stats_point_key,
    22: _v22_demand_index_order,
    23: _v23_active_queue_client,
    24: _v24_stats_period_index,
}


# Version numbers with no step here: an upgrade passes over them. Empty once every number
# has its step (22 came from the demand3 branch and 23 from search3, merged the same day).
UNUSED_VERSIONS = frozenset(range(2, CURRENT_VERSION + 1)) - set(MIGRATIONS)


def read_version(db: Database) -> int | None:
    if not db.table_exists(m.SchemaInfo._meta.table_name):
        return None
    row = m.SchemaInfo.get_or_none(m.SchemaInfo.key == VERSION_KEY)
    return int(row.value) if row else None


def ensure_schema(db: Database) -> int:
    """Bring the bound database to CURRENT_VERSION; returns the version found before."""
    from waitlist_tui.domain.store.rollups import prepare_models

    prepare_models(db)
    found = read_version(db)
    if found == CURRENT_VERSION:
        return found  # the common case: no lock taken, no other desk kept waiting
    if found is not None and found < CURRENT_VERSION and isinstance(db, SqliteDatabase):
        # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old copy
        # would cascade-delete the rows that point at it. SQLite's own procedure: keys off
        # outside the transaction, check them before commit.
        db.pragma("foreign_keys", 0)
        try:
            return _ensure(db)
        finally:
            db.pragma("foreign_keys", 1)
    return _ensure(db)


def _ensure(db: Database) -> int:
    with db.atomic():
        transaction_lock(SCHEMA_LOCK, db=db)  # PostgreSQL; SQLite's write lock is held
        found = read_version(db)
        if found is None:
            from waitlist_tui.domain.store import pg_indexes, rollups, sqlite_search

            db.create_tables(m.ALL_MODELS, safe=True)
            pg_indexes.install(db)
            pg_indexes.install_stats_period(db)
            sqlite_search.install(db)
            rollups.install_triggers()
            set_meta(VERSION_KEY, str(CURRENT_VERSION))
            return 0
        if found > CURRENT_VERSION:
            raise SchemaError(
                f"this database uses schema version {found}, newer than this app's "
                f"{CURRENT_VERSION}: upgrade waitlist-tui before opening it",
                data={"found": found, "supported": CURRENT_VERSION},
            )
        from waitlist_tui.domain.store import rollups

        # The stats triggers name columns of the tables a migration may rebuild: off while
        # the steps run, on (as this version writes them) once they have.
        rollups.drop_triggers()
        from playhouse.migrate import SchemaMigrator

        migrator = SchemaMigrator.from_database(db)
        for version in range(found + 1, CURRENT_VERSION + 1):
            if version in UNUSED_VERSIONS:
                continue
            MIGRATIONS[version](db, migrator)
            set_meta(VERSION_KEY, str(version))
        rollups.install_triggers()
        if (
            found < CURRENT_VERSION
            and isinstance(db, SqliteDatabase)
            and db.execute_sql("PRAGMA foreign_key_check").fetchall()
        ):
            raise SchemaError("migration left broken references; the database was not changed")
        return found


def get_meta(key: str) -> str | None:
    row = m.SchemaInfo.get_or_none(m.SchemaInfo.key == key)
    return row.value if row else None


def set_meta(key: str, value: str) -> None:
    (
        m.SchemaInfo.insert(key=key, value=value)
        .on_conflict(conflict_target=[m.SchemaInfo.key], update={m.SchemaInfo.value: value})
        .execute()
    )
