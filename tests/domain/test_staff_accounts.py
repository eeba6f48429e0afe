"""Staff accounts and login sessions, without a server (domain/access)."""

from __future__ import annotations

import pytest

from tests.timetravel import move_to
from waitlist_tui.domain.access import accounts, sessions
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.store.meta_tables import AuditEvent, Staff

PASSWORD = "correct horse battery"


def actions(name: str) -> list[str]:
    row = Staff.get(Staff.name == name)
    return [
        a.action
        for a in AuditEvent.select()
        .where(AuditEvent.object_type == "staff", AuditEvent.object_id == str(row.id))
        .order_by(AuditEvent.id)
    ]


def test_add_hashes_the_password_and_audits(db) -> None:
    made = accounts.add_staff("Ana Ruiz", "desk", PASSWORD, actor="admin")
    assert (made.name, made.role, made.active, made.has_password) == (
        "Ana Ruiz",
        "desk",
        True,
        True,
    )
    stored = Staff.get(Staff.name == "Ana Ruiz").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    event = AuditEvent.get(AuditEvent.action == "staff.add")
    assert event.actor == "admin" and PASSWORD not in str(event.changes)
    assert [v.name for v in accounts.list_staff()] == ["Ana Ruiz"]


@pytest.mark.parametrize(
    ("name", "role", "password", "field"),
    [
        ("", "desk", PASSWORD, "name"),
        ("x" * 121, "desk", PASSWORD, "name"),
        ("bad\x1bname", "desk", PASSWORD, "name"),
        ("ana", "admin", PASSWORD, "role"),
        ("ana", "desk", "short", "password"),
        ("ana", "desk", "x" * 1025, "password"),
    ],
)
def test_bad_input_is_refused_naming_the_field(db, name, role, password, field) -> None:
    with pytest.raises(ValidationError) as err:
        accounts.add_staff(name, role, password, actor="admin")
    assert err.value.field == field and err.value.code == 4000
    assert "short" not in err.value.message  # the password is never echoed
    assert Staff.select().count() == 0


def test_duplicate_and_unknown_names(db) -> None:
    accounts.add_staff("ana", "desk", PASSWORD, actor="admin")
    with pytest.raises(Conflict):
        accounts.add_staff("ana", "manager", PASSWORD, actor="admin")
    with pytest.raises(NotFound):
        accounts.set_password("bob", PASSWORD, actor="admin")
    with pytest.raises(NotFound):
        accounts.disable_staff("bob", actor="admin")


def test_login_with_the_right_password(db) -> None:
    accounts.add_staff("ana", "manager", PASSWORD, actor="admin")
    who = accounts.authenticate("ana", PASSWORD)
    assert (who.name, who.role) == ("ana", "manager") and who.last_login_at
    assert actions("ana") == ["staff.add", "staff.login"]


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("ana", "wrong password!"),
        ("nobody", PASSWORD),
        ("", ""),
        (None, PASSWORD),
        ("ana", "x" * 5000),
    ],
)
def test_wrong_logins_are_refused_alike(db, name, password) -> None:
    accounts.add_staff("ana", "desk", PASSWORD, actor="admin")
    with pytest.raises(accounts.LoginRefused) as err:
        accounts.authenticate(name, password)
    assert err.value.message == accounts.WRONG and err.value.code == 4030


def test_failures_lock_the_account_for_a_while(db, frozen) -> None:
    accounts.add_staff("ana", "desk", PASSWORD, actor="admin")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate("ana", "not the password")
    assert accounts.get_staff("ana").locked_until
    with pytest.raises(accounts.LoginRefused) as err:
        accounts.authenticate("ana", PASSWORD)  # locked even to the right password
    assert err.value.data == {"locked": True}
    assert actions("ana").count("staff.login_failed") == accounts.MAX_FAILURES
    move_to(frozen.add(minutes=accounts.LOCK_MINUTES + 1))
    assert accounts.get_staff("ana").locked_until is None
    assert accounts.authenticate("ana", PASSWORD).name == "ana"


def test_a_success_resets_the_failure_count(db) -> None:
    accounts.add_staff("ana", "desk", PASSWORD, actor="admin")
    for _ in range(accounts.MAX_FAILURES - 1):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate("ana", "not the password")
    accounts.authenticate("ana", PASSWORD)
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate("ana", "not the password")
    assert accounts.get_staff("ana").locked_until is None


def test_new_password_lifts_the_lock_and_disable_refuses(db) -> None:
    accounts.add_staff("ana", "desk", PASSWORD, actor="admin")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate("ana", "not the password")
    accounts.set_password("ana", "a brand new secret", actor="admin")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate("ana", PASSWORD)
    assert accounts.authenticate("ana", "a brand new secret").name == "ana"
    assert accounts.disable_staff("ana", actor="admin").active is False
    assert not accounts.is_active("ana")
    with pytest.raises(accounts.LoginRefused) as err:
        accounts.authenticate("ana", "a brand new secret")
    assert err.value.message == accounts.WRONG
    assert accounts.enable_staff("ana", actor="admin").active
    assert actions("ana")[-3:] == ["staff.disable", "staff.login_failed", "staff.enable"]


def test_sessions_expire_after_inactivity(db, frozen) -> None:
    book = sessions.SessionBook(idle_minutes=30)
    one = book.start("ana", "desk")
    assert one.token != one.csrf and len(one.token) >= 40
    move_to(frozen.add(minutes=29))
    assert book.get(one.token).staff == "ana"  # a request restarts the idle clock
    move_to(frozen.add(minutes=58))
    assert book.get(one.token, touch=False).role == "desk"
    move_to(frozen.add(minutes=60))
    assert book.get(one.token) is None and len(book) == 0


def test_sessions_end_and_check_csrf(db, frozen) -> None:
    book = sessions.SessionBook()
    one, two = book.start("ana", "desk"), book.start("ana", "desk")
    assert one.csrf_ok(one.csrf) and not one.csrf_ok(two.csrf) and not one.csrf_ok(None)
    assert book.get(one.token).csrf == one.csrf  # derived from the token, stored nowhere
    assert book.get("made-up") is None and book.get(None) is None
    assert book.end(one.token) and book.get(one.token) is None
    assert book.end_staff("ana") == 1 and book.get(two.token) is None


def test_sessions_live_in_the_database_hashed(db, frozen) -> None:
    """Two books (two server processes, or one restarted) on one database share the
    sessions; the table holds neither the token nor its CSRF token."""
    from waitlist_tui.domain.store.models import WebSession

    first, second = sessions.SessionBook(), sessions.SessionBook()
    one = first.start("ana", "manager")
    seen = second.get(one.token)
    assert seen is not None and (seen.staff, seen.role, seen.csrf) == ("ana", "manager", one.csrf)
    stored = [str(v) for row in WebSession.select().tuples() for v in row]
    assert one.token not in stored and one.csrf not in stored
    assert sessions.token_hash(one.token) in stored
    assert second.end(one.token) and first.get(one.token) is None


def test_rate_limits_are_shared_and_forget_after_their_window(db, frozen) -> None:
    from waitlist_tui.domain.access.limits import RateLimit
    from waitlist_tui.domain.store.models import RateHit

    one, other = RateLimit("join", 2, 600.0), RateLimit("join", 2, 600.0)
    assert one.allow("203.0.113.9") and other.allow("203.0.113.9")
    assert not one.allow("203.0.113.9") and not other.allow("203.0.113.9")
    assert one.allow("198.51.100.1")  # another address has its own count
    assert RateLimit("login", 2, 600.0).allow("203.0.113.9")  # another limit too
    assert "203.0.113.9" not in str(list(RateHit.select().tuples()))  # kept hashed
    move_to(frozen.add(minutes=11))
    assert one.allow("203.0.113.9")
