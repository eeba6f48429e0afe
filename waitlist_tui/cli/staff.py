"""`waitlist-tui staff ...`: the accounts that log in to the desk served in a browser.

A password is asked twice with a hidden prompt, or read from stdin's first line with
--password-stdin (scripts); it is never printed, logged or passed on the command line."""

from __future__ import annotations

import sys
from typing import Any

import click

from waitlist_tui.cli.output import Ctx, table
from waitlist_tui.cli.runtime import json_option, open_db


@click.group("staff")
def staff_group() -> None:
    """Staff accounts for `waitlist-tui serve` (the local terminal keeps --staff)."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    value: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password", err=True
    )
    return value


def _one(d: dict[str, Any]) -> None:
    state = "active" if d["active"] else "disabled"
    if d["locked_until"]:
        state += f", locked until {d['locked_until']}"
    click.echo(f"{d['name']} ({d['role']}): {state}")


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin's first line."
)


@staff_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["desk", "manager"]), default="desk", show_default=True)
@password_stdin
@json_option
@click.pass_obj
def add_command(ctx: Ctx, name: str, role: str, password_stdin: bool) -> None:
    """Add an account NAME (the name the audit trail records for its changes)."""
    from waitlist_tui.domain.access import accounts

    open_db(ctx)
    accounts.check_name(name)
    ctx.out(accounts.add_staff(name, role, _password(password_stdin), ctx.staff).to_dict(), _one)


@staff_group.command("list")
@json_option
@click.pass_obj
def list_command(ctx: Ctx) -> None:
    """The accounts, with their role and whether they are disabled or locked."""
    from waitlist_tui.domain.access import accounts

    open_db(ctx)
    rows = [v.to_dict() for v in accounts.list_staff()]

    def text(items: list[dict[str, Any]]) -> None:
        if not items:
            click.echo("no staff accounts yet: waitlist-tui staff add NAME --role desk")
            return
        table(
            ("name", "role", "state", "last login"),
            [
                (
                    d["name"],
                    d["role"],
                    ("active" if d["active"] else "disabled")
                    + (f", locked until {d['locked_until']}" if d["locked_until"] else ""),
                    d["last_login_at"] or "never",
                )
                for d in items
            ],
        )

    ctx.out(rows, text)


@staff_group.command("password")
@click.argument("name")
@password_stdin
@json_option
@click.pass_obj
def password_command(ctx: Ctx, name: str, password_stdin: bool) -> None:
    """Set NAME's password (also lifts a failed-login lock)."""
    from waitlist_tui.domain.access import accounts

    open_db(ctx)
    accounts.get_staff(name)  # a wrong name is said before the password is asked
    view = accounts.set_password(name, _password(password_stdin), ctx.staff)
    ctx.out(view.to_dict(), _one)


@staff_group.command("disable")
@click.argument("name")
@json_option
@click.pass_obj
def disable_command(ctx: Ctx, name: str) -> None:
    """NAME can no longer log in; an open browser session ends at its next request."""
    from waitlist_tui.domain.access import accounts

    open_db(ctx)
    ctx.out(accounts.disable_staff(name, ctx.staff).to_dict(), _one)


@staff_group.command("enable")
@click.argument("name")
@json_option
@click.pass_obj
def enable_command(ctx: Ctx, name: str) -> None:
    """NAME may log in again."""
    from waitlist_tui.domain.access import accounts

    open_db(ctx)
    ctx.out(accounts.enable_staff(name, ctx.staff).to_dict(), _one)
