"""`waitlist-tui keys`: every key binding by id, as the desk's config file would rebind it."""

from __future__ import annotations

import click

from waitlist_tui.cli.output import Ctx, fail, table
from waitlist_tui.cli.runtime import json_option
from waitlist_tui.domain.errors import ValidationError


@click.command("keys")
@json_option
@click.pass_obj
def keys_command(ctx: Ctx) -> None:
    """The app's keys by binding id, with what the config file changes; checks the file."""
    from waitlist_tui.tui import userconfig
    from waitlist_tui.tui.keycatalog import catalog

    config = userconfig.load()
    entries = catalog()
    rows = [
        {
            "screen": e.screen,
            "id": e.id,
            "keys": config.keys.get(e.id, e.keys),
            "default_keys": e.keys,
            "description": e.description,
        }
        for e in entries
    ]
    known = {e.id for e in entries}
    problems = list(config.problems) + [
        f"keys.{name}: no binding has this id (see the list)"
        for name in userconfig.unknown_ids(config, known)
    ]

    def text(data: dict) -> None:
        table(
            ["Screen", "Keys", "Binding id", "Does"],
            [
                [
                    r["screen"],
                    r["keys"] + (" *" if r["keys"] != r["default_keys"] else ""),
                    r["id"],
                    r["description"],
                ]
                for r in data["bindings"]
            ],
            title=f"Keys (* changed in {data['config']})",
        )

    ctx.out({"config": str(userconfig.config_path()), "bindings": rows}, text)
    if problems:
        fail(
            ValidationError("; ".join(problems), field="keys", data={"problems": problems}),
            ctx.json,
        )
