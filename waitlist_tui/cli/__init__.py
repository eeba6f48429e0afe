"""The `waitlist-tui` command: NOUN VERB subcommands over the domain services, the TUI by default.

Scripts rely on this contract (DESIGN.md section 6): `--json` prints the
{"code", "message", "data"} envelope, domain errors exit non-zero.
"""

from __future__ import annotations

import click

from waitlist_tui.cli.app_commands import demo_command, open_tui
from waitlist_tui.cli.catalog import (
    clients_group,
    clinic_group,
    providers_group,
    services_group,
    setup_command,
)
from waitlist_tui.cli.entries import entries_group
from waitlist_tui.cli.events_cmd import events_group
from waitlist_tui.cli.exchange import export_command, import_command
from waitlist_tui.cli.fill import COMMANDS as FILL_COMMANDS
from waitlist_tui.cli.keys_cmd import keys_command
from waitlist_tui.cli.maintenance_cmd import maintenance_group
from waitlist_tui.cli.messages_cmd import COMMANDS as MESSAGE_COMMANDS
from waitlist_tui.cli.runtime import WaitlistGroup, root_options
from waitlist_tui.cli.stats_cmd import stats_command


@click.group(
    cls=WaitlistGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@root_options
@click.pass_context
def main(ctx: click.Context, **_: object) -> None:
    """A keyboard-first waitlist desk. With no command, opens the app."""
    if ctx.invoked_subcommand is None:
        open_tui(ctx.obj)


for command in (
    setup_command,
    demo_command,
    clinic_group,
    services_group,
    providers_group,
    clients_group,
    entries_group,
    events_group,
    export_command,
    import_command,
    stats_command,
    maintenance_group,
    keys_command,
    *FILL_COMMANDS,
    *MESSAGE_COMMANDS,
):
    main.add_command(command)
