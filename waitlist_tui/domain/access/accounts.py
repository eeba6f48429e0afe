"""Staff accounts: add, list, change a password, disable, enable, and the login check.

Every write is one transaction with its audit row (actor: who typed the command, or the
account itself for a login). A login that fails counts against the account; after
MAX_FAILURES in a row it is locked for LOCK_MINUTES, even to the right password. Messages
never say whether a name exists, except that a locked account says it is locked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pendulum

from waitlist_tui.domain import clock
from waitlist_tui.domain.access import passwords
from waitlist_tui.domain.errors import Conflict, Forbidden, NotFound, ValidationError
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.meta_tables import Staff
from waitlist_tui.domain.textinput import text_value

ROLES = ("desk", "manager")
NAME_MAX = 120  # the audit trail's actor column
MAX_FAILURES = 5
LOCK_MINUTES = 15


class LoginRefused(Forbidden):
    """Wrong name or password, a disabled account, or a locked one (4030)."""


@dataclass(frozen=True)
class StaffView:
    id: str
    name: str
    role: str
    active: bool
    has_password: bool
    locked_until: str | None
    last_login_at: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(value: dt.datetime | None) -> str | None:
    return pendulum.instance(value).to_iso8601_string() if value else None


def _aware(value: dt.datetime | None) -> pendulum.DateTime | None:
    return pendulum.instance(value, tz="UTC") if value else None


def view(row: Staff) -> StaffView:
    locked = _aware(row.locked_until)
    return StaffView(
        id=str(row.id),
        name=row.name,
        role=row.role,
        active=row.disabled_at is None,
        has_password=bool(row.password_hash),
        locked_until=_iso(locked) if locked and locked > clock.now() else None,
        last_login_at=_iso(row.last_login_at),
        created_at=_iso(row.created_at) or "",
    )


def check_name(name: object) -> str:
    checked = text_value(name, "name", max_len=NAME_MAX)
    if not checked:
        raise ValidationError("name must not be empty", field="name")
    return checked


def check_role(role: object) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    return str(role)


def _get(name: str) -> Staff:
    row = Staff.get_or_none(Staff.name == check_name(name))
    if row is None:
        raise NotFound(f"no staff account named {name!r}", field="name")
    return row


def add_staff(name: str, role: str, password: str, actor: str) -> StaffView:
    """A new account; its name is what the audit trail records for its changes."""
    name, role = check_name(name), check_role(role)
    hashed = passwords.hash_password(password)
    now = clock.now()
    with database.atomic():
        if Staff.get_or_none(Staff.name == name) is not None:
            raise Conflict(f"a staff account named {name!r} exists", field="name")
        row = Staff.create_by(actor, now, name=name, role=role, password_hash=hashed)
        audit.record(actor, "staff.add", "staff", row.id, {"name": name, "role": role})
    return view(row)


def list_staff() -> list[StaffView]:
    return [view(row) for row in Staff.select().order_by(Staff.name)]


def get_staff(name: str) -> StaffView:
    return view(_get(name))


def set_password(name: str, password: str, actor: str) -> StaffView:
    """A new password; it also lifts a lock and clears the failure count."""
    hashed = passwords.hash_password(password)
    with database.atomic():
        row = _get(name)
        Staff.update_by(
            actor, clock.now(), password_hash=hashed, failed_logins=0, locked_until=None
        ).where(Staff.id == row.id).execute()
        audit.record(actor, "staff.password", "staff", row.id, {"name": row.name})
    return view(Staff.get_by_id(row.id))


def _set_active(name: str, active: bool, actor: str) -> StaffView:
    with database.atomic():
        row = _get(name)
        if (row.disabled_at is None) == active:
            return view(row)
        now = clock.now()
        Staff.update_by(actor, now, disabled_at=None if active else now).where(
            Staff.id == row.id
        ).execute()
        action = "staff.enable" if active else "staff.disable"
        audit.record(actor, action, "staff", row.id, {"name": row.name})
    return view(Staff.get_by_id(row.id))


def disable_staff(name: str, actor: str) -> StaffView:
    """The account can no longer log in; its open sessions end at their next request."""
    return _set_active(name, False, actor)


def enable_staff(name: str, actor: str) -> StaffView:
    return _set_active(name, True, actor)


def is_active(name: str) -> bool:
    row = Staff.get_or_none(Staff.name == name)
    return row is not None and row.disabled_at is None


WRONG = "wrong name or password"


def authenticate(name: object, password: object) -> StaffView:
    """The account whose name and password these are, or LoginRefused. A failure is
    counted (with its audit row); the MAX_FAILURES-th in a row locks the account."""
    if not isinstance(name, str) or not isinstance(password, str):
        raise LoginRefused(WRONG)
    try:
        name = check_name(name)
    except ValidationError:
        passwords.verify(None, "")
        raise LoginRefused(WRONG) from None
    row = Staff.get_or_none(Staff.name == name)
    now = clock.now()
    locked = _aware(row.locked_until) if row else None
    if row is not None and locked is not None and locked > now:
        raise LoginRefused(
            "too many failed logins: this account is locked for a while; try again later",
            data={"locked": True},
        )
    good = passwords.verify(row.password_hash if row else None, password)
    if row is None:
        raise LoginRefused(WRONG)
    if not good or row.disabled_at is not None:
        _count_failure(row, now)
        raise LoginRefused(WRONG)
    with database.atomic():
        changes: dict[str, Any] = {"last_login_at": now}
        if row.failed_logins:
            changes["failed_logins"] = 0
        if row.locked_until is not None:
            changes["locked_until"] = None
        if row.password_hash and passwords.needs_rehash(row.password_hash):
            changes["password_hash"] = passwords.hash_password(password)
        Staff.update(**changes).where(Staff.id == row.id).execute()
        audit.record(row.name, "staff.login", "staff", row.id, {})
    return view(Staff.get_by_id(row.id))


def _count_failure(row: Staff, now: pendulum.DateTime) -> None:
    """One more failure, counted in the database (two server threads add up); the lock
    starts at the MAX_FAILURES-th."""
    with database.atomic():
        Staff.update(failed_logins=Staff.failed_logins + 1).where(Staff.id == row.id).execute()
        failures = Staff.get_by_id(row.id).failed_logins
        changes: dict[str, Any] = {"failures": failures}
        if failures >= MAX_FAILURES:
            until = now.add(minutes=LOCK_MINUTES)
            Staff.update(failed_logins=0, locked_until=until).where(Staff.id == row.id).execute()
            changes["locked_until"] = until.to_iso8601_string()
        audit.record(row.name, "staff.login_failed", "staff", row.id, changes)


def record_logout(name: str) -> None:
    row = Staff.get_or_none(Staff.name == name)
    if row is None:
        return
    with database.atomic():
        audit.record(name, "staff.logout", "staff", row.id, {})
