"""Shared CLI plumbing: root options, the database opened on first use, error handling."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from waitlist_tui.cli.output import Ctx, fail
from waitlist_tui.config import Settings, default_db_url, demo_db_url
from waitlist_tui.domain.errors import DomainError, ValidationError
from waitlist_tui.domain.session import close_database, open_database

F = TypeVar("F", bound=Callable[..., Any])


def root_options(func: F) -> F:
    @click.option(
        "--db",
        "db_url",
        metavar="URL",
        help="Database: a SQLite path or postgresql://user@host/db (env WAITLIST_DB).",
    )
    @click.option("--staff", metavar="NAME", help="Who is at the desk (env WAITLIST_STAFF).")
    @click.option(
        "--staff-role",
        type=click.Choice(["desk", "manager"]),
        help="The desk's role (the served desk passes the login's): desk hides manager keys.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the JSON envelope.")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        db_url: str | None,
        staff: str | None,
        staff_role: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        settings = Settings.resolve(db_url, staff)
        import os

        explicit = bool(db_url or os.environ.get("WAITLIST_DB"))
        ctx.obj = Ctx(
            db_url=settings.db_url,
            staff=settings.staff,
            json=as_json,
            db_explicit=explicit,
            role=staff_role,
        )
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


STAFF_MAX = 120  # created_by / updated_by columns


def staff_name(name: str) -> str:
    """Who is at the desk is written on every row: a name of 1-120 characters without
    control characters (a 200-character --staff failed mid-write on PostgreSQL)."""
    from waitlist_tui.domain.textinput import text_value

    checked = text_value(name, "staff", max_len=STAFF_MAX)
    if not checked:
        raise ValidationError("staff must not be empty (--staff or WAITLIST_STAFF)", field="staff")
    return checked


def json_option(func: F) -> F:
    """`--json` after the command as well as before it."""

    @click.option("--json", "as_json", is_flag=True, help="Print the JSON envelope.")
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        if as_json:
            obj = click.get_current_context().find_object(Ctx)
            assert obj is not None  # the root's options made it before any command runs
            obj.json = True
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def open_db(ctx: Ctx, url: str | None = None, demo_fallback: bool = True) -> None:
    """Open (and migrate) the database once, on the first command that needs it.

    Without --db or WAITLIST_DB, a desk whose own database holds no clinic yet works on the
    demo when one was built: `waitlist-tui demo` then the README's commands answer from it
    (they said "no clinic is set up" before). `setup` never falls back: it creates the desk's
    own clinic."""
    target = url or ctx.db_url
    if ctx.opened == target:
        return
    staff_name(ctx.staff)  # checked before anything can be written in its name
    open_database(target)
    ctx.opened = target
    warn_if_exposed(target)
    if demo_fallback and url is None and not ctx.db_explicit and target == default_db_url():
        from waitlist_tui.domain.catalog.clinics import has_clinic

        demo = demo_db_url()
        if Path(demo).exists() and not has_clinic():
            close_database()
            open_database(demo)
            ctx.db_url = ctx.opened = demo
            click.echo(f"using the demo ({demo}): no clinic is set up in {target} yet", err=True)


def warn_if_exposed(url: str) -> None:
    """A database (or its folder) that others on the machine can read: said on stderr."""
    from waitlist_tui.domain.session import exposed_files

    for item in exposed_files(url):
        click.echo(
            f"warning: {item['path']} is {item['mode']}: other users can read the waitlist; "
            "`waitlist-tui maintenance fix-permissions` makes it private",
            err=True,
        )


ROOT_VALUE_OPTIONS = ("--db", "--staff")


def hoist_root_options(args: list[str]) -> list[str]:
    """The root's value options moved to the front, wherever they were typed (up to `--`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            rest.extend(args[i:])
            break
        name = word.split("=", 1)[0]
        if name in ROOT_VALUE_OPTIONS and word != name:
            front.append(word)  # --db=URL
        elif word in ROOT_VALUE_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(word)
        i += 1
    return front + rest


class WaitlistGroup(click.Group):
    """Turns DomainError into the error envelope / stderr line and exit code 1.

    Subcommands named in `lazy` ("name": "module:attribute") are imported when used, as
    click's documentation shows: opening the app imports none of them, which saved ~45 ms of
    a ~400 ms start."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """`--db` and `--staff` after the command as well as before it (`demo --db URL` was
        refused): the root's own options are moved in front of the command's words."""
        if ctx.parent is None:
            args = hoist_root_options(args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise RuntimeError(f"{self.lazy[cmd_name]} is not the {cmd_name!r} command")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as err:
            obj = ctx.find_object(Ctx)
            fail(err, bool(obj and obj.json))
