"""Listing entries: the filters, the sort orders and one page with its total count.

A list never reads the whole table: the page is `limit` rows from an index in the sort's
order, and the count is exact for the CLI or capped for the screens (a dense search stops
counting once it knows there is more than a screen can show).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from peewee import JOIN, OP, SQL, Column, Expression, Select, Tuple, fn

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clients import (
    Matching,
    few_matches,
    matching_clients,
    search_condition,
    search_terms,
)
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import Client, Clinic, Entry, Provider, Service
from waitlist_tui.domain.store.provider_pref import takes_provider
from waitlist_tui.domain.waitlist.reading import live_offers, page_views
from waitlist_tui.domain.waitlist.refs import by_code_or_id
from waitlist_tui.domain.waitlist.views import EntryView

MAX_PAGE = 500
SEARCH_IDS_MAX = 2000  # more matching clients than this: let SQL join instead of a literal list
# Up to this many matching clients (an index picks them out), a page walks the queue against
# the set of them (_page_ids); more, and a page fills within a few entries of checking each.
SEARCH_SET_MAX = 10_000
DENSE_TERM_LEN = 2  # search words all shorter than this match most clients: walk the entries
# A capped count of a search that no index narrows (one letter) reads a bounded number of rows
# and past them says "of N+". PostgreSQL walks at most WALK_MAX entries in an index's order,
# each with its client ("garcia" matched 1.4% of a million-entry demo's clients: reaching
# "1,000+" walked 70,000 entries, 1-4 s). SQLite reads at most WALK_CLIENTS_MAX clients in
# table order and counts the matching ones' entries through the entry index up to the cap:
# "g" reaches "1,000+" within some 2,000 clients (4-8 ms at a million entries, where the
# entry walk took 60 ms for "of 939+"); PostgreSQL hashed every active entry for that join.
WALK_MAX = 5_000
WALK_CLIENTS_MAX = 20_000
# A page of a search in the set's range (_walked_page) walks at most this many entries of the
# active queue before it leaves the page to SQLite's own plan (~2 us an entry at a million).
PAGE_WALK_MAX = 20_000


@dataclass(frozen=True)
class EntryQuery:
    """What a list asks for: filters, a sort and a page (the CLI's options, the queue's bar)."""

    statuses: tuple[str, ...] = vocab.ACTIVE_STATUSES
    service: str | None = None
    provider: str | None = None
    client_id: str | None = None
    search: str | None = None
    on_date: dt.date | None = None
    sort: str = "priority"  # priority | wait | start | newest
    limit: int = 50
    offset: int = 0
    count_cap: int | None = None  # count at most this many (the screens); None: exact (CLI)


SORTS = {
    "priority": (Entry.priority, Entry.created_at, Entry.id),
    "wait": (Entry.created_at, Entry.id),
    "start": (Entry.date_range_start, Entry.priority, Entry.created_at, Entry.id),
    "newest": (Entry.created_at.desc(), Entry.id.desc()),
}


@dataclass
class Page:
    """One page of views, the total that matched, and the live offers of its offered rows."""

    items: list[EntryView]
    total: int
    limit: int
    offset: int
    extra: dict[str, Any] = field(default_factory=dict)
    # entry id -> when its live (sent) offer expires, for the offered entries of the page
    offer_expires: dict[uuid.UUID, dt.datetime] = field(default_factory=dict)
    # entry id -> the slot of that offer: (start, provider code), for the detail pane
    offer_slots: dict[uuid.UUID, tuple[dt.datetime, str]] = field(default_factory=dict)
    total_capped: bool = False  # more than `total` match: the query's count_cap was reached

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


def expand_statuses(values: Any) -> tuple[str, ...]:
    """Our lowercase statuses or the API names (ACTIVE = waiting + offered); 'all' for every one."""
    result: list[str] = []
    for value in values or ():
        text = str(value).strip()
        if text.lower() == "all":
            return vocab.ENTRY_STATUSES
        if text.upper() in vocab.API_STATUS:
            result.extend(vocab.API_STATUS[text.upper()])
        elif text.lower() in vocab.ENTRY_STATUSES:
            result.append(text.lower())
        else:
            raise ValidationError(
                f"status {value!r} is not one of "
                f"{', '.join(vocab.ENTRY_STATUSES)} (or ACTIVE, FULFILLED)",
                field="status",
            )
    return tuple(dict.fromkeys(result))


def _id_list(values: list[Any]) -> SQL:
    """`('…', '…')`: ids read back from the database written into the SQL as literals. As
    parameters, peewee handled each one several times per query: with a few hundred matching
    clients that was a third of a search. Only hex digits and dashes get through."""
    texts = [str(value) for value in values]
    if not all(_ID_TEXT.fullmatch(text) for text in texts):
        raise ValueError("an id read from the database is not a uuid")
    return SQL("(" + ", ".join(f"'{text}'" for text in texts) + ")")


_ID_TEXT = re.compile(r"[0-9a-fA-F-]{32,36}")
# The active statuses as written-out SQL: SQLite takes a partial index only for a WHERE that
# names its values, not for bound parameters (the statuses are our own constants).
_ACTIVE_LITERAL = SQL("(" + ", ".join(f"'{status}'" for status in vocab.ACTIVE_STATUSES) + ")")


def list_entries(q: EntryQuery, clinic: Clinic | None = None) -> Page:
    """One page and the total count; never the whole table."""
    clinic = clinic or get_clinic()
    if not 1 <= q.limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1-{MAX_PAGE}", field="limit")
    if q.offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    if q.sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    conds = [Entry.clinic == clinic]
    if q.statuses:
        conds.append(
            Entry.status.in_(list(q.statuses))
            if len(q.statuses) > 1
            else Entry.status == q.statuses[0]
        )
    if q.service:
        conds.append(
            Entry.service == by_code_or_id(Service, clinic, q.service, "service", "service")
        )
    if q.provider:
        provider = by_code_or_id(Provider, clinic, q.provider, "provider", "provider")
        conds.append(takes_provider(provider))
    if q.client_id:
        client = ids.resolve(
            Client,
            q.client_id,
            "client",
            field="client_id",
            query=Client.select().where(Client.clinic == clinic),
        )
        conds.append(Entry.client == client)
    if q.on_date:
        conds.append((Entry.date_range_start <= q.on_date) & (Entry.date_range_end >= q.on_date))
    entry_conds = list(conds)  # without the text: what a capped walk reads entries by
    text_cond = search_condition(q.search or "")
    matching = None  # the matching clients, when the text is long enough to pick some out
    walk = False  # the text is checked on each entry's client, walking entries in page order
    indexed = False  # a trigram index picks the matching clients out
    in_set: Matching | None = None  # the page walks the queue against this set of clients
    if text_cond is not None:
        found: list[Any] | None = None
        picked = None
        if max(len(term) for term in search_terms(q.search or "")) >= DENSE_TERM_LEN:
            # Scan the (smaller) client table once, then reach entries through their client
            # index. The match list is read once and reused by the count and the page.
            picked = matching_clients(clinic, q.search or "")
            assert picked is not None  # the text has a term: text_cond is not None
            matching, indexed = picked.ids, picked.indexed
            found = [row[0] for row in database.execute(matching.limit(SEARCH_IDS_MAX + 1))]
        walk = found is None or len(found) > SEARCH_IDS_MAX
        if walk:
            # Most clients match ("g", "555"): a page fills within a few rows of the queue's
            # own order, and the count stops at the cap when the caller gives one.
            conds.append(text_cond)
            if picked is not None and picked.indexed and few_matches(picked, SEARCH_SET_MAX):
                in_set = picked  # some thousands ("garcia" at a million): see _page_ids
        else:  # an empty list renders as a false condition (PostgreSQL refuses `IN ()`)
            conds.append(Entry.client.in_(_id_list(found) if found else []))
    if q.service or q.client_id:
        conds.pop(0)  # the service or client was resolved in this clinic: it implies the clinic
        entry_conds.pop(0)
    where = _all_of(conds)
    cap = None
    if q.count_cap is not None and (walk or q.provider):
        # Only these counts read row by row (the others come from an index, exact and fast);
        # the cap is past the page asked for, so paging on keeps counting further.
        cap = q.offset + max(q.count_cap, q.limit)
    walked = None
    if in_set is not None:
        walked = _walked_page(clinic, q, in_set, text_cond)
    if walked is not None:
        views = page_views(Entry.id.in_(_id_list(walked)), SORTS[q.sort], q.limit, 0)
    elif in_set is not None:
        first = _page_ids(entry_conds, q, in_set, text_cond)
        views = page_views(Entry.id.in_(first), SORTS[q.sort], q.limit, 0)
    else:
        views = page_views(where, SORTS[q.sort], q.limit, q.offset)
    if walk and cap is not None and indexed and matching is not None:
        # The index hands over the matching clients one by one: a capped count through each
        # one's entries (the entry index) stops at the cap, where walking the queue read
        # 5,000 entries and each one's client for a floor ("of 66+" for "garcia" at a million
        # entries, 60-100 ms a keystroke).
        # the matching clients are the clinic's, and so are their entries: without the
        # entry's own clinic the count reads only the entry index (client, status), not
        # each entry's row (~1,000 rows for "of 1,000+": 12 ms -> 8 ms at a million)
        own = entry_conds if q.service or q.client_id else entry_conds[1:]
        total, capped = _count_through(matching, _all_of(own) if own else None, cap)
    elif walk and cap is not None and text_cond is not None:
        if is_postgres():
            total, capped = _walk_count(
                _all_of(entry_conds), q.search or "", cap, q.offset + len(views)
            )
        else:
            total, capped = _walk_clients_count(
                clinic, _all_of(entry_conds), q.search or "", cap, q.offset + len(views)
            )
    elif walk and cap is None and matching is not None:
        # An exact count of thousands of matching clients' entries: each client's entries
        # through the entry index, not every entry's client (a million-entry demo's "garcia",
        # 6,900 clients: 12 s walking the entries).
        total, capped = _count(_all_of(entry_conds) & Entry.client.in_(matching), False, None)
    else:
        total, capped = _count(where, walk, cap)
    offered = [v.id for v in views if v.status == vocab.OFFERED]
    live = live_offers(offered)
    return Page(
        views,
        total,
        q.limit,
        q.offset,
        offer_expires={k: expires for k, (expires, _, _) in live.items()},
        offer_slots={k: (start, provider) for k, (_, start, provider) in live.items()},
        total_capped=capped,
    )


def _page_ids(entry_conds: list[Any], q: EntryQuery, in_set: Matching, text_cond: Any) -> Select:
    """The page's entry ids, walking the queue's order with each entry's client looked up in
    the set of matching clients, from the active queue's index alone (it holds the client,
    v23); the page's rows are read after, by id. Checking each walked entry's client row
    instead read some 3,700 entries and as many clients for a page of "garcia" at a million
    entries (1.35% of the clients), 60-100 ms. SQLite: the set is the trigram index's rowids
    (an entry's client rowid comes from the client id index; LIKE then reads only the rows
    of the clients in it), and the active statuses are written out, or SQLite would not take
    the partial index. PostgreSQL: `IS TRUE` keeps the IN a hashed subplan (a bare IN would
    become a join that reads every active entry to sort them)."""
    order = SORTS[q.sort]
    if in_set.rowids is not None:
        written = Entry.status.in_(_ACTIVE_LITERAL) if q.statuses == vocab.ACTIVE_STATUSES else None
        conds = [
            written if written is not None and _is_status(cond) else cond for cond in entry_conds
        ]
        rows = (
            Entry.select(Entry.id)
            .join(Client)
            .where(_all_of(conds) & Column(Client, "rowid").in_(in_set.rowids) & text_cond)
        )
    else:
        in_clients = Expression(Entry.client.in_(in_set.ids), OP.IS, SQL("TRUE"))
        rows = Entry.select(Entry.id).where(_all_of(entry_conds) & in_clients)
    return rows.order_by(*order).limit(q.limit).offset(q.offset)


def _walked_page(
    clinic: Clinic, q: EntryQuery, in_set: Matching, text_cond: Any
) -> list[Any] | None:
    """SQLite, the queue as it opens (active entries by priority, no other filter): the page's
    entry ids, walking the active queue's index (CROSS JOIN: SQLite keeps the entries outside)
    and checking each entry's client through the client id index against the trigram
    index's rowids, LIKE read only on the clients in them; the walk ends at the
    PAGE_WALK_MAX-th entry of the queue (a row-value bound on the index). Left to itself,
    SQLite read every matching client's entries and sorted them ("garcia" at a million
    entries: 6,900 clients, 35-50 ms; the walk reads 3,600 entries, ~10 ms). None when
    this does not apply, or when the walk ended before the page filled (its matches lie
    further down the queue: _page_ids then reads the page as before), so the rows are the
    same either way."""
    if in_set.rowids is None or q.sort != "priority" or q.statuses != vocab.ACTIVE_STATUSES:
        return None
    if q.service or q.provider or q.client_id or q.on_date:
        return None
    order = SORTS["priority"]
    queue = (Entry.clinic == clinic) & Entry.status.in_(_ACTIVE_LITERAL)
    edge = database.execute(
        Entry.select(*order).where(queue).order_by(*order).limit(1).offset(PAGE_WALK_MAX)
    ).fetchone()
    bound = queue if edge is None else queue & (Tuple(*order) < Tuple(*edge))
    rows = (
        Entry.select(Entry.id)
        .join(Client, JOIN.CROSS)
        .where(
            bound
            & (Entry.client == Client.id)
            & Column(Client, "rowid").in_(in_set.rowids)
            & text_cond
        )
        .order_by(*order)
        .limit(q.limit)
        .offset(q.offset)
    )
    found = [row[0] for row in database.execute(rows)]
    return found if edge is None or len(found) == q.limit else None


def _is_status(cond: Any) -> bool:
    return isinstance(cond, Expression) and cond.lhs is Entry.status


def _all_of(conds: list[Any]) -> Any:
    where = conds[0]
    for cond in conds[1:]:
        where &= cond
    return where


def _walk_count(entry_where: Any, text: str, cap: int, floor: int) -> tuple[int, bool]:
    """PostgreSQL's capped count of a dense search: the text checked on the clients of the
    first WALK_MAX entries in the queue's order (the active queue's index holds each one's
    client, v23), each client read by its key. Past them, `floor` (the rows paged so far)
    or the matches seen, whichever is more, and True: more may match. (A join let the planner
    hash the walked entries and read the whole client table for the text: 270 ms for "g" at
    a million entries; and the entries it walked were whichever came first in the table, so
    the floor changed from one read to the next.)"""
    walked = (
        Entry.select(Entry.client)
        .where(entry_where)
        .order_by(*SORTS["priority"])
        .limit(WALK_MAX)
        .alias("walked")
    )
    # the walked entry's client's text, a look-up by key for each (a function of it, so
    # that the text condition can be written on it)
    own_text = fn.COALESCE(Client.select(Client.search).where(Client.id == walked.c.client_id), "")
    matched = (
        Select(from_list=[walked], columns=[SQL("1")])
        .where(search_condition(text, own_text))
        .limit(cap + 1)
    )
    seen = Entry.select(fn.COUNT(SQL("*"))).from_(matched.alias("capped"))
    beyond = Entry.select(SQL("1")).where(entry_where).limit(1).offset(WALK_MAX)
    found, more = database.execute(Select(columns=[seen, fn.EXISTS(beyond)])).fetchone()
    if found > cap:
        return cap, True
    if more:
        return max(found, floor), True
    return found, False


def _walk_clients_count(
    clinic: Clinic, entry_where: Any, text: str, cap: int, floor: int
) -> tuple[int, bool]:
    """SQLite's capped count of a dense search: the text checked on at most WALK_CLIENTS_MAX
    clients (in the table's order), each matching one's entries counted through the entry
    index (CROSS JOIN: SQLite keeps that order), stopped at cap + 1. Past the walk, `floor`
    or the matches seen, whichever is more, and True: more may match."""
    walked = (
        Client.select(Client.id, Client.search)
        .where(Client.clinic == clinic)
        .limit(WALK_CLIENTS_MAX)
        .alias("walked")
    )
    matched = (
        Entry.select(SQL("1"))
        .from_(walked)
        .join(Entry, JOIN.CROSS)
        .where(
            search_condition(text, walked.c.search) & (Entry.client == walked.c.id) & entry_where
        )
        .limit(cap + 1)
    )
    seen = Entry.select(fn.COUNT(SQL("*"))).from_(matched.alias("capped"))
    beyond = (
        Client.select(SQL("1")).where(Client.clinic == clinic).limit(1).offset(WALK_CLIENTS_MAX)
    )
    found, more = database.execute(Select(columns=[seen, fn.EXISTS(beyond)])).fetchone()
    if found > cap:
        return cap, True
    if more:
        return max(found, floor), True
    return found, False


def _count_through(matching: Select, entry_where: Any | None, cap: int) -> tuple[int, bool]:
    """A capped count of the matching clients' entries, read client by client in the index's
    order (CROSS JOIN: SQLite keeps the tables in that order) and stopped at cap + 1: an
    `IN (matching)` would list every matching client first (250,000 of them for "an")."""
    clients = matching.alias("matched")
    rows = (
        Entry.select(SQL("1"))
        .from_(clients)
        .join(Entry, JOIN.CROSS)
        .where(
            Entry.client == clients.c.id
            if entry_where is None
            else (Entry.client == clients.c.id) & entry_where
        )
        .limit(cap + 1)
    )
    seen = Entry.select(fn.COUNT(SQL("*"))).from_(rows.alias("capped")).scalar() or 0
    return (cap, True) if seen > cap else (seen, False)


def _count(where: Any, with_client: bool, cap: int | None) -> tuple[int, bool]:
    """The total, or `cap` and True once more than `cap` rows match (a capped count reads at
    most cap + 1 rows: a dense search stays fast)."""
    if cap is None:
        query = Entry.select(fn.COUNT(SQL("*")))  # COUNT(id) would read every row
        if with_client:
            query = query.join(Client)
        return query.where(where).scalar() or 0, False
    rows = Entry.select(SQL("1"))
    if with_client:
        rows = rows.join(Client)
    limited = rows.where(where).limit(cap + 1)
    seen = Entry.select(fn.COUNT(SQL("*"))).from_(limited.alias("capped")).scalar() or 0
    return (cap, True) if seen > cap else (seen, False)
