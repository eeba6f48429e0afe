"""Who may do what a manager does (today: read the whole audit trail on the desk).

The rule, checked here rather than by the screens:
- No active staff account exists (a clinic that never ran `waitlist-tui staff add`): the
  desk is a local terminal, and whoever sits at it is trusted as a manager. Whoever can
  open the app can read the database file anyway.
- Accounts exist: the desk's staff name (the login on the served desk, `--staff` on a local
  terminal) must be an active account whose role is manager; anyone else is refused (4030).
The account's role is read from the database at each check, so a role changed or an account
disabled takes effect at once, whatever the desk was started with."""

from __future__ import annotations

from waitlist_tui.domain.errors import Forbidden
from waitlist_tui.domain.store.meta_tables import Staff

MANAGER = "manager"


class ManagersOnly(Forbidden):
    """Something only a manager may do (4030)."""


def accounts_in_use() -> bool:
    return bool(Staff.select().where(Staff.disabled_at.is_null()).exists())


def is_manager(staff: str) -> bool:
    """Whether `staff` may do what a manager does (see the module's rule)."""
    if not accounts_in_use():
        return True
    row = Staff.get_or_none(Staff.name == staff.strip())
    return row is not None and row.disabled_at is None and row.role == MANAGER


def require_manager(staff: str, what: str) -> None:
    """Nothing, or ManagersOnly naming `what` was refused."""
    if not is_manager(staff):
        raise ManagersOnly(
            f"{what} is for managers: {staff!r} is not a manager's account; ask a manager",
            field="staff",
        )
