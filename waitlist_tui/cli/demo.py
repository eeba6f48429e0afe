"""Commands that open the app: the default (no command) and `demo`."""

from __future__ import annotations

import click

from waitlist_tui.cli.output import Ctx
from waitlist_tui.cli.runtime import json_option, open_db
from waitlist_tui.config import demo_db_url


def open_tui(ctx: Ctx) -> None:
    open_db(ctx)
    from waitlist_tui.tui.queue_data import prefetch

    first_page = prefetch()  # read while Textual and the screens are imported
    from waitlist_tui.config import Settings
    from waitlist_tui.tui.app import make_app

    settings = Settings(db_url=ctx.db_url or "", staff=ctx.staff, role=ctx.role)
    make_app(settings, first_page=first_page).run()


@click.command("demo")
@click.option(
    "--entries",
    "count",
    type=int,
    default=600,
    show_default=True,
    help="How many waitlist entries to generate.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--reset", is_flag=True, help="Rebuild even if today's demo exists.")
@click.option("--no-tui", is_flag=True, help="Build the data and exit.")
@json_option
@click.pass_obj
def demo_command(ctx: Ctx, count: int, seed: int, reset: bool, no_tui: bool) -> None:
    """Build the demo clinic (its own database unless --db is given) and open the app.

    Today's demo is kept between runs so what you typed stays; it is rebuilt on a new day,
    with --reset, or when --entries/--seed are given."""
    from waitlist_tui.demo import build as demo  # only this command needs the generator

    target = ctx.db_url if ctx.db_explicit else demo_db_url()
    ctx.db_url = target
    open_db(ctx)
    params = click.get_current_context().get_parameter_source
    asked = any(params(p) == click.core.ParameterSource.COMMANDLINE for p in ("count", "seed"))
    fresh = demo.holds_todays_demo(target, refuse_other=ctx.db_explicit and not reset)
    if reset or asked or not fresh:
        counts = demo.build(entries=count, seed=seed, actor=ctx.staff)
        from waitlist_tui.demo.stories import add_stories

        result = {
            "db": target,
            "built": True,
            "rows": counts,
            "stories": add_stories(ctx.staff),  # a knock-on chain, a gap `stats demand` names
        }
        demo.mark_finished()  # a build killed before here is built again by the next `demo`
    else:
        result = {"db": target, "built": False, "rows": None}
    if no_tui or ctx.json:
        ctx.out(
            result,
            lambda d: click.echo(
                f"demo {'built' if d['built'] else 'kept'} in {d['db']}"
                + (
                    f": {d['rows']['entry']} entries, {d['rows']['client']} clients"
                    if d["built"]
                    else ""
                )
            ),
        )
        return
    open_tui(ctx)
