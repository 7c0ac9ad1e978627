"""The ``clientcare`` command line.

Library code raises :mod:`clientcare.connector.errors`; only this module turns
them into one-line messages with a hint and a documented exit code
(``--debug`` shows the traceback).  Options shared by several commands are
reusable decorators, so each is declared once.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
from datetime import date

import click

from clientcare.connector import errors as E
from clientcare.jobs import config as cfg
from clientcare.jobs.logs import REDACTOR, setup_logging

log = logging.getLogger("clientcare")

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 partial (some rules or writes failed); 2 usage or configuration error; "
    "3 Odoo unreachable or overloaded, retry later; 4 Odoo refused (credentials, rights, "
    "missing module); 5 another run of this profile is in progress."
)


class CliError(click.ClickException):
    """A library error as the CLI shows it: one line, a hint, its own exit code."""

    def __init__(self, exc: BaseException):
        text = str(exc)
        hint = getattr(exc, "hint", "")
        super().__init__(text + (f"\n  hint: {hint}" if hint else ""))
        self.exit_code = E.exit_code_for(exc)


def handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except E.ClientCareError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise CliError(exc) from None
    return wrapper


# -- reusable options -------------------------------------------------------------
def connection_options(fn):
    """Flags that override the profile's connection settings (highest precedence)."""
    options = [
        click.option("--url", help="Odoo base URL (overrides the profile)."),
        click.option("--db", help="Database name."),
        click.option("--login", help="Login of the ClientCare user."),
        click.option("--transport", type=click.Choice(["auto", "xmlrpc", "jsonrpc", "json2"]),
                     help="RPC transport; auto picks the fastest the server allows."),
        click.option("--timeout", type=float, help="Seconds per request."),
        click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
                     help="Extra CA bundle for a private certificate authority."),
        click.option("--insecure", is_flag=True, default=False,
                     help="Do not verify TLS certificates (dangerous; tests only)."),
        click.option("--ask-password", is_flag=True, default=False,
                     help="Prompt for the password instead of reading it from config or env."),
        click.option("--state", "state_path", type=click.Path(dir_okay=False),
                     help="State file (cursors, ledger, run history)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def output_options(fn):
    fn = click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                      help="Write to this file instead of standard output.")(fn)
    return fn


def as_of_option(fn):
    return click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
                        help="Evaluate as of this date (default: today).")(fn)


def load_profile_from(ctx: click.Context, require_connection: bool = True, **flags) -> cfg.Profile:
    overrides = {k: flags.get(k) for k in ("url", "db", "login", "transport", "timeout", "ca_bundle",
                                           "state_path")}
    if flags.get("insecure"):
        overrides["verify_tls"] = False
        click.echo("WARNING: TLS verification is off (--insecure): credentials can be intercepted.",
                   err=True)
    if flags.get("ask_password"):
        overrides["password"] = click.prompt("Odoo password or API key", hide_input=True, err=True)
    profile = cfg.load_profile(ctx.obj["profile"], ctx.obj["config"], overrides,
                               require_connection=require_connection)
    REDACTOR.add(str(profile.values.get("password") or ""), str(profile.values.get("api_key") or ""))
    return profile


def as_of_date(value) -> date:
    return value.date() if value else date.today()


# -- the group --------------------------------------------------------------------
@click.group(epilog=EXIT_CODES_HELP)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CLIENTCARE_CONFIG",
              help="Config file (default: the user config dir's clientcare/config.toml).")
@click.option("--profile", "-p", envvar="CLIENTCARE_PROFILE", help="Profile name in the config file.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log format on stderr; json for log shippers.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="clientcare")
@click.pass_context
def main(ctx, config_path, profile, log_format, verbose, quiet, debug):
    """ClientCare: client-care rules for Odoo, written back as activities and notes."""
    ctx.ensure_object(dict)
    ctx.obj.update(config=config_path, profile=profile, debug=debug, log_format=log_format)
    setup_logging(log_format, verbose + (2 if debug else 0), quiet)


@main.group("config")
def config_group():
    """Inspect the resolved configuration."""


@config_group.command("show")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def config_show(ctx, as_json, **flags):
    """Show the resolved profile, where each value came from, secrets masked."""
    profile = load_profile_from(ctx, require_connection=False, **flags)
    shown = profile.shown()
    if as_json:
        click.echo(json.dumps({"profile": profile.name, "settings": shown, "rules": profile.rules,
                               "routing": profile.routing}, indent=2, default=str))
        return
    click.echo(f"profile {profile.name} ({profile.config_path})")
    for key, item in shown.items():
        click.echo(f"  {key:16} {str(item['value']):40} [{item['source']}]")


@main.command()
@connection_options
@click.pass_context
@handle_errors
def check(ctx, **flags):
    """Diagnose a profile: reachability, TLS, database, login, version, modules, rights, clock."""
    from clientcare.jobs.check import run_check
    from clientcare.jobs.runner import models_needed

    profile = load_profile_from(ctx, **flags)
    steps = run_check(profile.connection(), models_needed(profile))
    marks = {"ok": click.style("ok  ", fg="green"), "warn": click.style("warn", fg="yellow"),
             "fail": click.style("FAIL", fg="red")}
    for step in steps:
        click.echo(f"{marks[step.status]} {step.name}: {step.detail}")
        if step.fix:
            click.echo(f"     fix: {step.fix}")
    failed = [s for s in steps if s.status == "fail"]
    if failed:
        code = E.EXIT_ODOO_REFUSED
        if any(s.name == "server reachable" for s in failed):
            code = E.EXIT_RETRY_LATER
        ctx.exit(code)


@main.command()
@connection_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to save the snapshot in (Parquet + meta.json).")
@click.option("--full", is_flag=True, help="Ignore cursors and pull everything.")
@click.pass_context
@handle_errors
def pull(ctx, out_dir, full, **flags):
    """Pull clients, projects, tasks and invoices into a snapshot directory (for offline audits)."""
    from clientcare.jobs.runner import open_client, pull_snapshot

    profile = load_profile_from(ctx, **flags)
    client = open_client(profile)
    snapshot = pull_snapshot(client, profile, full=full)
    snapshot.save(out_dir)
    counts = ", ".join(f"{n} {k}" for k, n in snapshot.summary().items())
    click.echo(f"saved snapshot of {profile.connection().db} to {out_dir}: {counts} "
               f"({client.transport.call_count} RPC calls)")


def run() -> None:  # pragma: no cover - console entry point
    main(obj={})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(obj={}))
