"""`waitlist-tui serve`: the desk in a browser, behind a staff login (waitlist_tui/web)."""

from __future__ import annotations

import click

from waitlist_tui.cli.output import Ctx
from waitlist_tui.cli.runtime import open_db


def tls_warning(host: str, tls: bool) -> str | None:
    """What to say when the desk would travel in clear beyond this machine."""
    from waitlist_tui.web.settings import is_loopback

    if tls or is_loopback(host):
        return None
    return (
        f"WARNING: serving on {host} without TLS: staff passwords, session cookies and every "
        "client's details cross the network in clear. Give --cert and --key, or put a "
        "reverse proxy that terminates HTTPS in front and pass --behind-https-proxy."
    )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option(
    "--behind-https-proxy",
    is_flag=True,
    help="A reverse proxy in front terminates HTTPS: cookies are marked Secure.",
)
@click.option(
    "--idle-minutes",
    type=click.FloatRange(1, 24 * 60),
    default=30,
    show_default=True,
    help="A login ends after this long without a key pressed.",
)
@click.option("--max-desks", type=click.IntRange(1, 500), default=16, show_default=True)
@click.option(
    "--public-url",
    envvar="WAITLIST_PUBLIC_URL",
    default="",
    help="The URL the world reaches this server at (e.g. https://desk.example.org): "
    "Twilio's webhooks are signed for it. Env: WAITLIST_PUBLIC_URL.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    metavar="ADDR",
    multiple=True,
    help="A reverse proxy's address or network (repeatable): X-Forwarded-For is read only "
    "from it, for the per-address limits. Without it the header is ignored.",
)
@click.pass_obj
def serve_command(
    ctx: Ctx,
    host: str,
    port: int,
    cert: str | None,
    key: str | None,
    behind_https_proxy: bool,
    idle_minutes: float,
    max_desks: int,
    public_url: str,
    trusted_proxies: tuple[str, ...],
) -> None:
    """Serve the desk to browsers: staff log in (`waitlist-tui staff add`), then each gets
    the same app as the terminal, recorded in the audit trail under their name."""
    if bool(cert) != bool(key):
        raise click.UsageError("--cert and --key go together")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise click.UsageError("--public-url must be an http(s) URL")
    import ipaddress

    for proxy in trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise click.UsageError(f"--trusted-proxy {proxy!r} is not an address") from None
    open_db(ctx)
    import ssl

    from aiohttp import web

    from waitlist_tui.domain.access import accounts
    from waitlist_tui.web.app import make_app
    from waitlist_tui.web.settings import WebSettings

    context = None
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    tls = context is not None or behind_https_proxy
    warning = tls_warning(host, tls)
    if warning:
        click.secho(warning, fg="yellow", err=True)
    if not any(v.active and v.has_password for v in accounts.list_staff()):
        click.echo(
            "no staff account can log in yet: waitlist-tui staff add NAME --role manager", err=True
        )
    settings = WebSettings(
        db_url=ctx.db_url,
        tls=tls,
        idle_minutes=idle_minutes,
        max_desks=max_desks,
        public_url=public_url.rstrip("/"),
        trusted_proxies=trusted_proxies,
    )
    scheme = "https" if context else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving the desk on {scheme}://{shown}:{port}/ (Ctrl+C stops it)", err=True)
    web.run_app(
        make_app(settings),
        host=host,
        port=port,
        ssl_context=context,
        print=None,
        access_log=None,
    )
