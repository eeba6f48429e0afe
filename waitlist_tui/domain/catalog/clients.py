"""Clients: find or create, with phones in E.164 (phonenumbers) and normalised emails."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from peewee import OP, SQL, Column, Expression, Select, Table, fn

from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import Problems, ValidationError
from waitlist_tui.domain.flags import parse_bool, parse_optional_bool
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.store import audit, ids, sqlite_search
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import Client, Clinic
from waitlist_tui.domain.store.prepared import PreparedFamily, param
from waitlist_tui.domain.textinput import search_text, text_value

CLIENT_FIELDS = ("first_name", "last_name", "phone", "email", "consent_sms", "consent_email")
CONSENT_FIELDS = ("consent_sms", "consent_email")


def normalize_phone(raw: str | None, region: str, field: str = "client.phone") -> str | None:
    """The number in E.164, or a 4000 naming `field`. Remembered per text and region:
    phonenumbers takes some 27 µs a number, most of an import's check of a row, and a file
    names the same person's phone on several rows; an import also parses the next rows'
    numbers in a worker process (remember_phones). A refusal is not remembered: it is
    raised afresh, in its own words (issue 18)."""
    if type(raw) is str:
        known = _PHONES.get((raw, region))
        if known is not None:
            return known
        number = _normalize_phone(raw, region, field)
        if number is not None:
            remember_phones(region, {raw: number})
        return number
    return _normalize_phone(raw, region, field)


_PHONES: dict[tuple[str, str], str] = {}
PHONES_KEPT = 100_000


def remember_phones(region: str, numbers: dict[str, str]) -> None:
    """Numbers known good in E.164 (by normalize_phone, here or in a worker process); the
    memo starts again when it holds PHONES_KEPT (a million-row file stays bounded)."""
    if len(_PHONES) + len(numbers) > PHONES_KEPT:
        _PHONES.clear()
    _PHONES.update(((raw, region), number) for raw, number in numbers.items())


def parse_phones(raws: list[str], region: str) -> dict[str, str]:
    """{text: E.164} of the texts that are good numbers (a worker process's part of an
    import's check: importing.PhoneAhead); the others are left to normalize_phone."""
    found = {}
    for raw in raws:
        try:
            number = _normalize_phone(raw, region, "client.phone")
        except ValidationError:
            continue
        if number is not None:
            found[raw] = number
    return found


def _normalize_phone(raw: str | None, region: str, field: str) -> str | None:
    import phonenumbers  # imported on first use: it would add to every start of the app

    raw = text_value(raw, field, max_len=40)
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            f"{field} '{raw}' is not a phone number ({exc})", field=field
        ) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{field} '{raw}' is not a valid phone number for region {region}", field=field
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A local part email_validator keeps as it is: ASCII atoms joined by single dots (RFC 5322's
# dot-atom), at most 64 characters.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str | None:
    """The domain as email_validator normalizes it in an address, or None when it refuses it
    (then the whole address goes through it for its message). Remembered: most addresses of
    a file share a few domains, and the domain is most of email_validator's time (issue 18)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email("a@" + domain, check_deliverability=False).normalized[2:]
    except EmailNotValidError:
        return None


def normalize_email(raw: str | None, field: str = "client.email") -> str | None:
    """The address as email_validator normalizes it; a plain ASCII local part at a domain
    already seen is put together without asking it again (the same result: the differential
    test in tests/domain/test_email_fast_path.py holds them together)."""
    from email_validator import EmailNotValidError, validate_email

    raw = text_value(raw, field, max_len=254)
    if not raw:
        return None
    local, at, domain = raw.rpartition("@")
    if at and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        known = _normalized_domain(domain)
        if known is not None:
            return f"{local}@{known}"
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(
            f"{field} '{raw}' is not a valid email address: {exc}", field=field
        ) from exc


def display_phone(e164: str | None) -> str:
    import phonenumbers

    if not e164:
        return ""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


@dataclass(frozen=True)
class ClientInput:
    """A client as a payload gave it; a consent left None was not stated, and a new client
    then takes the clinic's default (consent.py)."""

    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    consent_sms: bool | None = None
    consent_email: bool | None = None


def _name(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"client.{key} is required", field=f"client.{key}")
    return " ".join(text_value(value, f"client.{key}", max_len=100).split())


def parse_client(data: Any, region: str) -> ClientInput:
    if not isinstance(data, dict):
        raise ValidationError(
            "client must be an object with first_name, last_name, phone, email", field="client"
        )
    unknown = set(data) - set(CLIENT_FIELDS) - {"id"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"client.{name} is not a client field", field=f"client.{name}")
    first, last = _name(data, "first_name"), _name(data, "last_name")
    phone = normalize_phone(data.get("phone"), region)
    email = normalize_email(data.get("email"))
    if not phone and not email:
        raise ValidationError(
            "client needs a phone or an email so the desk can reach them", field="client.phone"
        )
    return ClientInput(
        first,
        last,
        phone,
        email,
        parse_optional_bool(data.get("consent_sms"), "client.consent_sms"),
        parse_optional_bool(data.get("consent_email"), "client.consent_email"),
    )


def consents_for_new(clinic: Clinic, data: ClientInput) -> dict[str, bool]:
    """A new client's consents: as stated, else the clinic's default; with "ask" an unstated
    one is refused (4000 naming it)."""
    default = consent.of(clinic).default
    result = {}
    problems = Problems()  # both unanswered: both said at once
    for key in CONSENT_FIELDS:
        stated = getattr(data, key)
        if stated is None and default == consent.ASK:
            problems.errors.append(
                ValidationError(
                    f"client.{key} is required: this clinic asks every new client (yes or no)",
                    field=f"client.{key}",
                )
            )
        result[key] = stated if stated is not None else default == consent.YES
    problems.raise_any()
    return result


def _withdraw_stated(client: Client, data: ClientInput, actor: str) -> Client:
    """A payload naming an existing client may withdraw a consent, never give one back: a
    re-imported old file must not undo a STOP (the desk does that with `clients update`)."""
    withdrawn = {k: False for k in CONSENT_FIELDS if getattr(data, k) is False}
    return set_consent(client, withdrawn, actor) if withdrawn else client


def set_consent(client: Client, values: dict[str, bool], actor: str, why: str = "") -> Client:
    """Write the consents that change, with an audit row, in the caller's transaction."""
    changed = {k: v for k, v in values.items() if getattr(client, k) != v}
    if not changed:
        return client
    now = clock.now()
    Client.update_by(actor, now, **changed, version=Client.version + 1).where(
        Client.id == client.id
    ).execute()
    detail: dict[str, Any] = {k: [getattr(client, k), v] for k, v in changed.items()}
    if why:
        detail["why"] = [None, why]
    audit.record(actor, "client.consent", "client", client.id, detail)
    return Client.get_by_id(client.id)


_SAME_PERSON = PreparedFamily(  # by phone, by email: asked for every entry added with a client
    lambda key: (
        Client.select()
        .where(
            (Client.clinic == param("clinic"))
            & (fn.LOWER(Client.first_name) == param("first"))
            & (fn.LOWER(Client.last_name) == param("last"))
            & (getattr(Client, key) == param("value"))
        )
        .limit(1)
    )
)


def find_or_create(
    clinic: Clinic, data: ClientInput, actor: str, client_id: uuid.UUID | None = None
) -> tuple[Client, bool]:
    """The same person (name and phone, or name and email) is never entered twice; a shared
    family phone with another name is a different client. A consent the payload withdraws is
    withdrawn from the existing client too. A new client takes `client_id` when given (an
    import keeps the exported ids)."""
    for key, value in (("phone", data.phone), ("email", data.email)):
        if value:
            found = next(
                iter(
                    _SAME_PERSON(key).rows(
                        clinic=clinic,
                        first=data.first_name.lower(),
                        last=data.last_name.lower(),
                        value=value,
                    )
                ),
                None,
            )
            if found:
                with database.atomic():
                    return _withdraw_stated(found, data, actor), False
    return _create(clinic, data, actor, client_id), True


def attach_or_create(clinic: Clinic, data: ClientInput, actor: str) -> tuple[Client, bool]:
    """The /join page's client. The page is public: whoever types a client's name and email
    must not reach their record. So an existing client is used only when the name and the
    phone match (and the entry stays pending until a code sent to that phone proves it);
    anything else is a new client. An existing client is never changed here: not their
    email, not their consents (self_join adds a consent the page asked for, never withdraws
    one, once the code is confirmed)."""
    if data.phone:
        same = (
            Client.select()
            .where(
                (Client.clinic == clinic)
                & (fn.LOWER(Client.first_name) == data.first_name.lower())
                & (fn.LOWER(Client.last_name) == data.last_name.lower())
                & (Client.phone == data.phone)
            )
            .first()
        )
        if same is not None:
            return same, False
    return _create(clinic, data, actor), True


def _create(
    clinic: Clinic, data: ClientInput, actor: str, client_id: uuid.UUID | None = None
) -> Client:
    """A new client with its consents (as stated, else the clinic's default) and its row."""
    consents = consents_for_new(clinic, data)
    now = clock.now()
    with database.atomic():
        client = Client.create_by(
            actor,
            now,
            **({"id": client_id} if client_id else {}),
            clinic=clinic,
            first_name=data.first_name,
            last_name=data.last_name,
            phone=data.phone,
            email=data.email,
            **consents,
            search=search_text(data.first_name, data.last_name, data.email, data.phone),
        )
        audit.record(
            actor,
            "client.create",
            "client",
            client.id,
            {k: [None, audit.plain(getattr(client, k))] for k in CLIENT_FIELDS},
        )
    return client


def update_consent(client_id: uuid.UUID | str, payload: Any, actor: str) -> Client:
    """The desk records what a client said: `consent_sms` and/or `consent_email`, each a flag
    read strictly. Giving SMS consent back after a STOP is the desk's word for the client's."""
    if not isinstance(payload, dict) or not payload:
        raise ValidationError(
            "give consent_sms and/or consent_email (true or false)", field="consent_sms"
        )
    unknown = sorted(set(payload) - set(CONSENT_FIELDS))
    if unknown:
        raise ValidationError(
            f"{unknown[0]} cannot be changed here (consent_sms, consent_email)", field=unknown[0]
        )
    values = {k: parse_bool(v, f"client.{k}") for k, v in payload.items()}
    with database.atomic():
        client = ids.resolve(Client, client_id, "client", field="client_id")
        return set_consent(client, values, actor, "recorded by the desk")


def client_dict(client: Client) -> dict[str, Any]:
    return {
        "id": str(client.id),
        "first_name": client.first_name,
        "last_name": client.last_name,
        "phone": client.phone,
        "email": client.email,
        "consent_sms": client.consent_sms,
        "consent_email": client.consent_email,
    }


def search_terms(text: str) -> list[str]:
    """Each word must match; a phone typed with spaces or dashes matches its digits."""
    terms = []
    for word in text.lower().split():
        digits = re.sub(r"[\s\-().+]", "", word)
        terms.append(digits if digits.isdigit() else word)
    return [t for t in terms if t]


def search_condition(text: str, column: Any = None) -> Expression | None:
    """Every term inside the client's search text. That text and the terms are both lower-cased
    here, in Python, so the match needs no case folding: PostgreSQL gets a plain LIKE (peewee's
    `contains` is ILIKE there, which lower-cases every row, and a LIKE reads the pg_trgm index
    on client.search, schema v8, with less rechecking); SQLite's LIKE (peewee's ILIKE) is what
    it was."""
    like = OP.LIKE if is_postgres() else OP.ILIKE  # peewee writes OP.LIKE as GLOB on SQLite
    cond = None
    for term in search_terms(text):
        # peewee escapes the LIKE wildcards; `column`: the search text of a subquery's rows
        contains = (Client.search if column is None else column).contains(term)
        part = Expression(contains.lhs, like, contains.rhs)
        cond = part if cond is None else cond & part
    return cond


@dataclass(frozen=True)
class Matching:
    """The clinic's clients whose search text holds every term (`ids`), whether a trigram
    index picks them out (then a capped count through them stops soon), and on SQLite the
    rowids that index picks (`rowids`: a superset of the clients matching, since LIKE keeps
    the last word; None where the index narrows nothing)."""

    ids: Select
    indexed: bool
    rowids: Select | None = None


def matching_clients(clinic: Clinic, text: str) -> Matching | None:
    """The clients matching `text`; None for no term. On SQLite the index
    (store/sqlite_search.py) drives: only the clients it picks are read and checked by LIKE
    (the whole table before, 300 ms at a million entries), and a LIMIT stops the index's walk
    too. PostgreSQL's LIKE reads its pg_trgm index for a term of three or more characters."""
    cond = search_condition(text)
    if cond is None:
        return None
    query = Client.select(Client.id)
    terms = search_terms(text)
    if is_postgres():
        indexed = max(len(term) for term in terms) >= sqlite_search.TRIGRAM
        return Matching(query.where((Client.clinic == clinic) & cond), indexed)
    match = sqlite_search.match_expression(database.obj, terms)
    if match is None:
        return Matching(query.where((Client.clinic == clinic) & cond), False)
    index = Table(sqlite_search.FTS_TABLE)
    matched = Expression(Column(index, sqlite_search.FTS_TABLE), "MATCH", match)
    query = query.join(index, on=(Column(index, "rowid") == Column(Client, "rowid"))).where(matched)
    rowids = index.select(Column(index, "rowid")).where(matched)
    return Matching(query.where((Client.clinic == clinic) & cond), True, rowids)


def few_matches(matching: Matching, most: int) -> bool:
    """Whether at most `most` clients match, as far as the index tells cheaply: on SQLite
    the trigram index's rowids counted up to most + 1 (a LIMIT stops its walk: ~0.5 ms for
    5,000); on PostgreSQL the planner's estimate (pg_trgm keeps no counts, and counting the
    rows read them all), which only picks the quicker plan: the rows are the same."""
    if matching.rowids is not None:
        seen = matching.rowids.limit(most + 1)
        found = database.execute(Select(columns=[fn.COUNT(SQL("*"))], from_list=[seen])).fetchone()
        return bool(found) and int(found[0]) <= most
    if not is_postgres():
        return False
    sql, params = database.get_sql_context().sql(matching.ids).query()
    plan = database.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"]) <= most


def list_clients(
    clinic: Clinic, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Client], int]:
    query = Client.select().where(Client.clinic == clinic)
    picked = matching_clients(clinic, search or "")
    if picked is not None:  # through the trigram index: not a LIKE over every client
        query = query.where(Client.id.in_(picked.ids))
    total = query.count()
    rows = list(
        query.order_by(Client.last_name, Client.first_name, Client.id).limit(limit).offset(offset)
    )
    return rows, total
