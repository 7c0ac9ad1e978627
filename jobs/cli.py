"""The ``clientcare`` command line.

Library code raises :mod:`clientcare.connector.errors`; only this module turns
them into one-line messages with a hint and the documented exit code that
:mod:`clientcare.jobs.exit_codes` gives them (``--debug`` shows the traceback).
Options shared by several commands are reusable decorators, so each is declared once.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clientcare.connector import errors as E
from clientcare.connector.facts import marker_key
from clientcare.jobs import config as cfg
from clientcare.jobs import interrupts
from clientcare.jobs.lang import report_lang
from clientcare.jobs.exit_codes import (EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_ODOO_REFUSED, EXIT_OK,
                                        EXIT_PARTIAL, EXIT_RETRY_LATER, EXIT_TERMINATED, EXIT_USAGE,
                                        exit_code_for)
from clientcare.jobs.logs import REDACTOR, setup_logging

if TYPE_CHECKING:  # imported where used: it loads pandas
    from clientcare.jobs.ruleset import RuleSet

log = logging.getLogger("clientcare")

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 partial (some rules or writes failed); 2 usage or configuration error; "
    "3 Odoo unreachable or overloaded, retry later; 4 Odoo refused (credentials, rights, "
    "missing module); 5 another run of this profile is in progress; 130 interrupted (SIGINT, "
    "Ctrl-C); 143 stopped (SIGTERM)."
)


#: How errors are shown, set from the global options (pre-scanned from the arguments, so a
#: usage error in them is shown the same way): ``quiet``, ``log_format``, ``debug``.
OUTPUT = {"quiet": False, "log_format": "text", "debug": False}

#: Exit codes the README calls harmless under a schedule: ``-q`` prints nothing for them.
HARMLESS_EXITS = (EXIT_RETRY_LATER, EXIT_LOCKED)


def emit_error(message: str, exit_code: int, hint: str = "", traceback_text: str = "") -> None:
    """The final error line(s) on stderr: one line (one per problem of a configuration), the
    hint on the same line; JSON lines with ``--log-format json``; nothing with ``-q`` for the
    harmless exits 3 and 5; the traceback first with ``--debug``."""
    message, hint = REDACTOR.redact(message), REDACTOR.redact(hint or "")
    traceback_text = REDACTOR.redact(traceback_text or "")
    if OUTPUT["quiet"] and not OUTPUT["debug"] and exit_code in HARMLESS_EXITS:
        return
    if OUTPUT["log_format"] == "json":
        entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "level": "error",
                 "logger": "clientcare", "msg": message, "exit_code": exit_code}
        if hint:
            entry["hint"] = hint
        if OUTPUT["debug"] and traceback_text:
            entry["exc"] = traceback_text
        click.echo(json.dumps(entry), err=True)
        return
    if OUTPUT["debug"] and traceback_text:
        click.echo(traceback_text.rstrip("\n"), err=True)
    click.echo(f"Error: {message}" + (f" (hint: {hint})" if hint else ""), err=True)


def note(line: str, level: str = "warning") -> None:
    """A line for stderr that is not the final error: text, or a JSON object with
    ``--log-format json`` (so every stderr line is JSON there); always redacted."""
    line = REDACTOR.redact(line)
    if OUTPUT["log_format"] == "json":
        click.echo(json.dumps({"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                               "level": level, "logger": "clientcare", "msg": line.strip()}), err=True)
    else:
        click.echo(line, err=True)


class CliError(click.ClickException):
    """A library error as the CLI shows it: one line, a hint, its own exit code."""

    def __init__(self, exc: BaseException | str, exit_code: int | None = None, hint: str = "",
                 traceback_text: str = ""):
        if isinstance(exc, BaseException):
            hint = hint or getattr(exc, "hint", "") or ""
            exit_code = exit_code_for(exc) if exit_code is None else exit_code
            exc = str(exc)
        super().__init__(exc)
        self.hint = hint
        self.exit_code = EXIT_PARTIAL if exit_code is None else exit_code
        self.traceback_text = traceback_text

    def format_message(self) -> str:
        return REDACTOR.redact(self.message + (f" (hint: {self.hint})" if self.hint else ""))

    def show(self, file=None) -> None:
        emit_error(self.message, self.exit_code, self.hint, self.traceback_text)


def shown(value: str) -> str:
    """A value as typed, echoed in an error line: control characters and line breaks escaped
    (``\\r``, ``\\x1e``, ``\\u2028``), so the line stays one line."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in value)


def _usage_line(exc: click.UsageError) -> CliError:
    """Click's usage error (bad option value, unknown option) as one line, exit code 2: what it
    echoes of the command line is escaped (:func:`shown`)."""
    command = exc.ctx.command_path if exc.ctx is not None else "clientcare"
    return CliError(shown(exc.format_message()), EXIT_USAGE, hint=f"see `{command} --help`",
                    traceback_text=traceback.format_exc() if OUTPUT["debug"] else "")


def _prescan(args) -> None:
    args = list(args or [])
    fmt = "text"
    for i, arg in enumerate(args):
        if arg == "--log-format" and i + 1 < len(args):
            fmt = args[i + 1]
        elif arg.startswith("--log-format="):
            fmt = arg.split("=", 1)[1]
    OUTPUT.update(quiet=any(a in ("-q", "--quiet") for a in args), debug="--debug" in args,
                  log_format="json" if fmt == "json" else "text")


class ClientCareGroup(click.Group):
    """The root group: usage errors are shown like every other error (one line, exit 2); while a
    command runs, SIGINT and SIGTERM end it with one line and exit 130 / 143 (a run it holds is
    recorded as ``interrupted``); a closed standard output ends it quietly, exit 0."""

    def make_context(self, info_name, args, parent=None, **extra):
        _prescan(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, CliError):
                raise
            raise _usage_line(exc) from None
        except BrokenPipeError:  # --help into `| head -1`
            _end_quietly_if_stdout_closed()
            raise

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exc:
            if exc.code in (EXIT_INTERRUPTED, EXIT_TERMINATED) and sys.stdout is sys.__stdout__:
                _exit_now_if_a_page_is_on_the_wire(exc.code)
            raise

    def invoke(self, ctx):
        with interrupts.signals_raise():
            try:
                return super().invoke(ctx)
            except click.UsageError as exc:
                raise _usage_line(exc) from None
            except (KeyboardInterrupt, interrupts.Terminated, click.Abort) as exc:
                raise _interrupted_line(exc) from None
            except BrokenPipeError:
                _end_quietly_if_stdout_closed()
                raise


def _interrupted_line(exc: BaseException) -> CliError:
    """SIGINT (Ctrl-C) or SIGTERM as one line and 130 / 143, naming the run it ended, if any (the
    run session recorded it as ``interrupted``).  Ctrl-C at a prompt (click's ``Abort``) is a
    SIGINT too; end of input at a prompt is a usage error."""
    tb = traceback.format_exc() if OUTPUT["debug"] else ""
    if isinstance(exc, click.Abort):
        if isinstance(exc.__context__, EOFError):
            return CliError("no answer: standard input ended at the prompt", EXIT_USAGE,
                            hint="give the password in the profile or the environment instead of "
                                 "--ask-password when no one is there to type it", traceback_text=tb)
        exc = KeyboardInterrupt()
    name = signal.Signals(interrupts.signal_of(exc)).name
    run_id = getattr(exc, "run_id", None)
    message = f"interrupted by {name}" + (f"; run {run_id} is recorded as interrupted" if run_id else "")
    return CliError(message, exit_code_for(exc), hint=getattr(exc, "hint", ""), traceback_text=tb)


def _exit_now_if_a_page_is_on_the_wire(code: int) -> None:
    """After an interrupt, the run is recorded, the lock released and the line printed; a page
    request still on the wire (the pull fetches the next page in a thread) would hold the
    interpreter's exit until it is answered or times out, every retry included: end at once."""
    import threading
    if any(t.name.startswith("clientcare-page") and t.is_alive() for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _stdout_closed() -> bool:
    """Whether standard output is a pipe or socket no one reads any more (``| head -1`` exited):
    a broken pipe there is the reader's choice, not a failure (a broken pipe to Odoo is one)."""
    import select
    import stat
    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, ValueError, OSError):  # not a real file (click's test runner), or closed
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _end_quietly_if_stdout_closed() -> None:
    """End with exit 0 and nothing said when the reader of standard output went away, as
    standard tools do; what is still buffered goes to /dev/null (else the interpreter reports
    a failed flush at exit)."""
    if not _stdout_closed():
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise click.exceptions.Exit(EXIT_OK)


def handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except E.ClientCareError as exc:
            raise CliError(exc, traceback_text=traceback.format_exc() if OUTPUT["debug"] else "") from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) and _stdout_closed():
                raise  # the reader of standard output went away: ClientCareGroup ends quietly
            tb = traceback.format_exc() if OUTPUT["debug"] else ""
            if exc.filename:  # a file ClientCare was told to read or write
                raise CliError(f"{exc.filename}: {_os_reason(exc)}", EXIT_USAGE, traceback_text=tb) from None
            if isinstance(exc, (ConnectionError, TimeoutError)):  # a network failure no transport mapped
                raise CliError(f"network failure: {type(exc).__name__}: {exc}", EXIT_RETRY_LATER,
                               hint=E.ConnectionFailure.hint, traceback_text=tb) from None
            raise CliError(f"internal error {type(exc).__name__}: {exc}", EXIT_PARTIAL,
                           hint="run again with --debug for the traceback and report it",
                           traceback_text=traceback.format_exc()) from None
        except Exception as exc:  # a bug of ours: one line; the traceback with --debug
            raise CliError(f"internal error {type(exc).__name__}: {exc}", EXIT_PARTIAL,
                           hint="run again with --debug for the traceback and report it",
                           traceback_text=traceback.format_exc()) from None
    return wrapper


def _os_reason(exc: OSError) -> str:
    import errno
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


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


#: The days ``--as-of`` accepts: pandas' timestamps end in 1677 and 2262, and rules count windows
#: of months and years either way from the run day, so a margin of decades stays inside them.
AS_OF_RANGE = (datetime(1900, 1, 1), datetime(2199, 12, 31))


class DateParam(click.ParamType):
    """A calendar date YYYY-MM-DD; a wrong one says what is wrong with it, one outside
    :data:`AS_OF_RANGE` too (checked here, before any work, without loading pandas)."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            day = datetime.strptime(text, "%Y-%m-%d")
        except ValueError as exc:
            import re
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                self.fail(f"{text!r} is not a date of the calendar ({exc})", param, ctx)
            self.fail(f"{text[:40]!r} is not a date written YYYY-MM-DD, e.g. 2026-11-30", param, ctx)
        low, high = AS_OF_RANGE
        if not low <= day <= high:
            self.fail(f"{text!r} is outside the days ClientCare can evaluate ({low:%Y-%m-%d} to "
                      f"{high:%Y-%m-%d})", param, ctx)
        return day


def as_of_option(fn):
    return click.option("--as-of", type=DateParam(),
                        help="Evaluate as of this date, YYYY-MM-DD (default: today).")(fn)


def _lang_value(ctx, param, value):
    """``--lang``: a language Babel knows (an Odoo code such as ``fr_FR``), checked when the
    command line is parsed; an unknown one is a usage error (exit 2)."""
    if value is None:
        return None
    from clientcare.rules import i18n
    text = value.strip()
    if not text or not i18n.valid(text):
        raise click.BadParameter(f"{_shown(text)} is not a language ClientCare knows (a code such as fr_FR, "
                                 f"de_DE, pt_BR or en)", ctx, param)
    return text


def lang_option(fn):
    return click.option("--lang", callback=_lang_value,
                        help="Language of the output for people, e.g. fr_FR (default: the profile's lang, "
                             "else the environment's locale, else English); JSON and CSV stay as they are.")(fn)


def load_profile_from(ctx: click.Context, require_connection: bool = True, with_rules: bool = True,
                      **flags) -> tuple[cfg.Profile, RuleSet | None]:
    """The profile and its RuleSet, resolved once for the command; every problem of both
    reported together.  ``with_rules=False`` (``runs``, ``config show``, ``history`` from the
    state file: commands that run no rule) leaves the rules unloaded, and pandas with them, to
    start in a tenth of the time; their settings are then not checked (the rule set is None)."""
    overrides = {k: flags.get(k) for k in ("url", "db", "login", "transport", "timeout", "ca_bundle",
                                           "state_path")}
    if flags.get("insecure"):
        overrides["verify_tls"] = False
    if flags.get("ask_password"):
        overrides["password"] = click.prompt("Odoo password or API key", hide_input=True, err=True)
    if with_rules:
        from clientcare.jobs.ruleset import load_with_rules
        profile, rules = load_with_rules(ctx.obj["profile"], ctx.obj["config"], overrides,
                                         require_connection=require_connection)
    else:
        profile, rules = cfg.load_profile(ctx.obj["profile"], ctx.obj["config"], overrides,
                                          require_connection=require_connection), None
    REDACTOR.add(profile.password or "", profile.api_key or "")
    if profile.verify_tls is False and require_connection:  # said once, whatever its source
        source = "--insecure" if flags.get("insecure") else \
            f"verify_tls = false from {profile.sources.get('verify_tls', 'the profile')}"
        log.warning("TLS verification is off (%s): credentials can be intercepted", source)
        from clientcare.connector import transports
        transports.INSECURE_WARNED.add(profile.connection().url)
    return profile, rules


# -- the group --------------------------------------------------------------------
@click.group(cls=ClientCareGroup, epilog=EXIT_CODES_HELP)
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
    ctx.obj.update(config=config_path, profile=profile, debug=debug, log_format=log_format, quiet=quiet)
    OUTPUT.update(quiet=quiet, debug=debug, log_format=log_format)
    setup_logging(log_format, verbose + (2 if debug else 0), quiet)
    ctx.obj["progress"] = _terminal_progress if (sys.stderr.isatty() and not quiet) else None
    _PROGRESS_SHOWN.clear()


def _progress(ctx: click.Context):
    """The pull progress callback a command gives the Odoo client it opens: a line on a
    terminal, None (silent) when stderr is a file or a pipe (cron) or with ``-q``."""
    return ctx.obj.get("progress")


def _terminal_progress(model: str, records: int) -> None:
    """One self-overwriting line on a terminal (``clientcare pull`` of a large database)."""
    sys.stderr.write(f"\r\033[K  pulling {model}: {records} records")
    sys.stderr.flush()
    if not _PROGRESS_SHOWN:
        _PROGRESS_SHOWN.append(True)
        click.get_current_context().find_root().call_on_close(_clear_progress)


_PROGRESS_SHOWN: list = []


def _clear_progress() -> None:
    sys.stderr.write("\r\033[K")
    sys.stderr.flush()


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
    profile, _ = load_profile_from(ctx, require_connection=False, with_rules=False, **flags)
    shown = profile.shown()
    if as_json:
        click.echo(json.dumps({"profile": profile.name, "settings": shown, "rules": dict(profile.rules),
                               "routing": dict(profile.routing), "working_time": dict(profile.working_time)},
                          indent=2, default=str))
        return
    click.echo(f"profile {profile.name} ({profile.config_path})")
    for key, item in shown.items():
        value = "(not set)" if item["value"] in (None, "") else toml_value(item["value"])
        click.echo(f"  {key:16} {value:40} [{item['source']}]")


@main.command()
@connection_options
@click.pass_context
@handle_errors
def check(ctx, **flags):
    """Diagnose a profile: reachability, TLS, database, login, version, modules, rights, clock."""
    from clientcare.jobs.check import run_check
    from clientcare.jobs.sync import models_needed

    profile, rules = load_profile_from(ctx, **flags)
    steps = run_check(profile.connection(), *models_needed(profile, rules),
                      notify_assignees=profile.notify_assignees, working_time=rules.working_time)
    marks = {"ok": click.style("ok  ", fg="green"), "warn": click.style("warn", fg="yellow"),
             "fail": click.style("FAIL", fg="red")}
    for step in steps:  # a step's detail may quote what the server echoed: redacted
        click.echo(f"{marks[step.status]} {step.name}: {REDACTOR.redact(step.detail)}")
        if step.fix:
            click.echo(f"     fix: {REDACTOR.redact(step.fix)}")
    failed = [s for s in steps if s.status == "fail"]
    if failed:  # the failing step's own code: 3 unreachable, 2 not Odoo / configuration, else 4
        codes = [s.code for s in failed if s.code is not None]
        ctx.exit(codes[0] if codes else EXIT_ODOO_REFUSED)


@main.command()
@connection_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to save the snapshot in (Parquet + meta.json).")
@click.option("--full", is_flag=True, help="Ignore cursors and pull everything.")
@click.pass_context
@handle_errors
def pull(ctx, out_dir, full, **flags):
    """Pull clients, projects, tasks and invoices into a snapshot directory (for offline audits)."""
    profile, rules = load_profile_from(ctx, **flags)
    from clientcare.connector.state import path_problem
    problem = path_problem(Path(out_dir), directory=True)
    if problem:  # checked before the pull, not after it
        raise E.UsageError(f"--out {out_dir}: {problem}")
    snapshot, client = _live_pull(profile, rules, "pull --full" if full else "pull", full=full,
                                  progress=_progress(ctx))
    snapshot.save(out_dir)
    counts = ", ".join(f"{n} {k}" for k, n in snapshot.summary().items())
    if _PROGRESS_SHOWN:
        _clear_progress()
    click.echo(f"saved snapshot of {profile.connection().db} to {out_dir}: {counts} "
               f"({client.transport.call_count} RPC calls)")


def _rule_names(ctx, param, value):
    if value is None:
        return None
    names = [r.strip() for r in value.split(",") if r.strip()]
    if not names:
        raise click.BadParameter(f"{value!r} names no rule (give names separated by commas; "
                                 f"`clientcare rules list` lists them)", ctx, param)
    return names


def rules_option(fn):
    return click.option("--rules", "rule_names", callback=_rule_names,
                        help="Comma-separated rule names to run (default: all enabled).")(fn)


def _selected_rules(profile, rules, rule_names):
    """``rules`` narrowed to --rules (all of them without it).  A rule named there that does not
    exist, or is disabled in the profile (it would silently give no findings), is a usage error."""
    if not rule_names:
        return rules
    from clientcare.jobs.ruleset import load_registry
    known = load_registry().known_names()
    unknown = [n for n in rule_names if n not in known]
    if unknown:
        raise E.UsageError(f"--rules {shown(','.join(unknown))}: no such rule (installed: {', '.join(sorted(known))})")
    selected = rules.only(rule_names)
    off = [n for n in rule_names if n not in selected.configs]
    if off:
        raise E.UsageError(f"--rules {','.join(off)}: disabled in profile {profile.name!r} "
                           f"(rules.{off[0]}.enabled = false); enable it there to run it")
    return selected


#: Odoo's ids are PostgreSQL integers: 1 to 2**31 - 1 (a larger one cannot even travel by XML-RPC).
MAX_ODOO_ID = 2**31 - 1


def _is_id(text: str) -> bool:
    """ASCII digits only: ``"²"`` and ``"٣"`` are digits to ``str.isdigit`` but no id."""
    return text.isascii() and text.isdigit()


def _shown(text: str, most: int = 60) -> str:
    """A value the user gave, quoted on one line (control characters escaped), cut if long."""
    return repr(text if len(text) <= most else text[:most] + "…")


def _client_value(ctx, param, value):
    """``--client`` and ``explain``'s CLIENT, checked for form when the command line is parsed,
    before any work: trimmed; empty, a NUL (no name holds one) or an id outside Odoo's range is
    refused.  Whether a name matches is known from the data: offline at once, live with one
    small read right after the login (:func:`_client_in_odoo`)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise click.BadParameter("empty: give a client id, or part of a client's name", ctx, param)
    if "\0" in text:
        raise click.BadParameter(f"{_shown(text)} holds a NUL character, which no name holds", ctx, param)
    if _is_id(text) and not 1 <= int(text) <= MAX_ODOO_ID:
        raise click.BadParameter(f"{_shown(text)} is not an Odoo id (1 to {MAX_ODOO_ID})", ctx, param)
    return text


def _client_id(ctx, param, value):
    """``sync --client``: an id only (checked here, before the configuration is even read)."""
    text = _client_value(ctx, param, value)
    if text is not None and not _is_id(text):
        raise click.BadParameter(f"{_shown(text)}: sync takes a client id (`clientcare explain NAME` "
                                 f"shows a client's id)", ctx, param)
    return text


def _client_in_odoo(client, value: str | None) -> None:
    """A live ``--client NAME`` that names no commercial partner in Odoo is refused right after
    the login, before the pull and the rules (one ``res.partner`` search of at most one id)
    instead of after them.  Only "nothing matches" is decided here: the snapshot's clients are
    narrower (customer activity), so an ambiguous name or a partner that is no client is still
    told after the pull, by :func:`_match_client`.  An id, or a name with a control character
    XML-RPC cannot carry, is left to that same check: no request is added for them."""
    if not value or _is_id(value) or any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        return
    if not client.commercial_partners_named(value, limit=1):
        raise E.UsageError(f"no client matches {_shown(value)} (a client id, or part of a client's name; "
                           f"no company or contact in Odoo is named so)")


def _strip(ctx, param, value):
    return value.strip() if isinstance(value, str) else value


def strict_option(fn):
    return click.option("--strict", is_flag=True,
                        help="A rule that failed to load is an error (exit 2) instead of a partial run.")(fn)


def client_option(fn):
    return click.option("--client", "client_filter", callback=_client_value, help="Only this client (id or name).")(fn)


def _resolve_client(snapshot, value: str | None) -> set[int] | None:
    """A client of the snapshot by id, or by a case-insensitive name (exact first, then unique
    substring)."""
    if not value:
        return None
    return _match_client(zip(snapshot.clients["id"].tolist(), snapshot.clients["name"].tolist()), value)


def _match_client(clients, value: str) -> set[int]:
    """:func:`_resolve_client` over plain ``(id, name)`` pairs (``history`` has no snapshot)."""
    clients = list(clients)
    if _is_id(value):
        ids = {int(cid) for cid, _ in clients if cid == int(value)}
    else:
        lower = value.lower()
        names = [(cid, name.lower()) for cid, name in clients if isinstance(name, str)]
        ids = {int(cid) for cid, name in names if name == lower} or \
            {int(cid) for cid, name in names if lower in name}
    if not ids:
        raise E.UsageError(f"no client matches {_shown(value)} (a client id, or part of a client's name)")
    if len(ids) > 1 and not _is_id(value):
        matches = [name for cid, name in clients if cid in ids]
        raise E.UsageError(f"{_shown(value)} matches several clients: {', '.join(map(str, matches[:10]))}; "
                           f"use the id")
    return ids


def _snapshot_for(ctx, profile, rules, snapshot_dir, demo, command: str):
    """The snapshot ``rules`` read: --demo, --snapshot DIR, or a live pull (``command`` in the
    run history)."""
    from clientcare.connector.snapshot import Snapshot

    if demo:
        from clientcare.connector.demo import demo_snapshot
        return demo_snapshot()
    if snapshot_dir:
        return _checked_snapshot(Snapshot.load(snapshot_dir), snapshot_dir, rules)
    return _live_pull(profile, rules, command, progress=_progress(ctx))[0]


def _live_pull(profile, rules, command: str, full: bool = False, progress=None):
    """A live pull (:func:`_pulled`) and nothing else: the snapshot and the client (for its call
    counts)."""
    with _pulled(profile, rules, command, full=full, progress=progress) as (run, _, snapshot):
        return snapshot, run.client


@contextlib.contextmanager
def _pulled(profile, rules, command: str, full: bool = False, progress=None, client_filter: str | None = None):
    """A pull in a run session: it advances the cursors and rewrites the working snapshot, so it
    holds the profile lock (a second run exits 5) and leaves a ``runs`` row.  Yields the session
    (its client), the run summary and the snapshot; what the caller does inside is part of the run.
    ``client_filter`` (``--client``) is looked up right after the login (:func:`_client_in_odoo`)."""
    from clientcare.jobs.run_history import new_run_id
    from clientcare.jobs.run_session import RunSummary, run_session
    from clientcare.jobs.sync import open_client, pull_snapshot

    summary = RunSummary(new_run_id(), command.split()[0], profile.name)
    with run_session(profile, summary, command, raise_errors=True) as run:
        run.client = open_client(profile, run.state, progress)
        _client_in_odoo(run.client, client_filter)
        snapshot = pull_snapshot(run.client, rules, full=full)
        summary.pulled = snapshot.summary()
        yield run, summary, snapshot


#: Tables every snapshot has (pulled whatever the rules): without them nothing can be judged.
BASE_TABLES = ("partners", "users", "companies")


def _checked_snapshot(snapshot, snapshot_dir, rules):
    """A saved snapshot lacking a base table is refused (exit 2); one lacking a table some
    enabled rule needs (pulled while that rule was off) has it marked unavailable, so that rule
    is skipped with one line saying why (exit 1) instead of failing with a KeyError."""
    missing = [t for t in BASE_TABLES if t not in snapshot.tables]
    if missing:
        raise E.UsageError(f"snapshot {snapshot_dir} has no {', '.join(missing)} table: not a ClientCare "
                           f"snapshot; pull it again with `clientcare pull --out {snapshot_dir}`")
    unavailable = dict(snapshot.meta.get("unavailable_tables") or {})
    for table in rules.required_tables:
        if table not in snapshot.tables and table not in unavailable:
            unavailable[table] = "not in the snapshot"
    snapshot.meta["unavailable_tables"] = unavailable
    return snapshot


def _default_as_of(snapshot, as_of, demo):
    from clientcare.connector.demo import demo_as_of
    from clientcare.jobs.sync import run_day

    if demo and not as_of:
        return demo_as_of(snapshot)
    return run_day(as_of.date() if as_of else None)


@main.command()
@connection_options
@rules_option
@client_option
@as_of_option
@output_options
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json", "html"]), default="text",
              show_default=True, help="Output format.")
@click.option("--snapshot", "snapshot_dir", type=click.Path(exists=True, file_okay=False),
              help="Audit a saved snapshot (from `clientcare pull`) instead of the live server.")
@click.option("--demo", is_flag=True, help="Audit the demo snapshot shipped with ClientCare (no server).")
@strict_option
@lang_option
@click.pass_context
@handle_errors
def audit(ctx, rule_names, client_filter, as_of, output, fmt, snapshot_dir, demo, strict, lang, **flags):
    """Read-only: pull (or load) data, run the rules, and report the findings. Writes nothing to Odoo
    (a live audit stores the client health history in the state file)."""
    from clientcare.jobs import report
    from clientcare.jobs.demo_history import demo_history

    offline = demo or snapshot_dir
    if demo and snapshot_dir:
        raise E.UsageError("--demo and --snapshot DIR both name the data to audit: give one")
    profile, rules = load_profile_from(ctx, require_connection=not offline, **flags)
    _check_output(output)
    selected = _selected_rules(profile, rules, rule_names)
    if strict:
        selected.require_loaded()
    if offline:  # stores nothing; the report of --demo shows a history built from the demo snapshot
        snapshot = _snapshot_for(ctx, profile, selected, snapshot_dir, demo, "audit")
        day = _default_as_of(snapshot, as_of, demo)
        result = selected.evaluate(snapshot, day, history=None)
        stored = demo_history(profile, rules, snapshot, day, last=False) if demo and fmt == "html" else None
    else:
        snapshot, day, result, stored = _live_audit(profile, selected, as_of, _progress(ctx), client_filter)
    findings, not_raised = result.findings, result.not_raised
    ids = _resolve_client(snapshot, client_filter)
    if ids:
        findings = findings.take(findings.isin("client_id", ids))
        not_raised = [n for n in not_raised if n.client_id in ids]
    meta = dict(snapshot.meta, as_of=day.isoformat())
    # the write-back's ramp as a first sync would make it (no ledger: nothing received yet today)
    ramp = {"cap": profile.max_new_per_person_per_day, "working_time": result.working_time}
    lang = report_lang(lang, profile.lang)
    if fmt == "html":
        text = report.render_html(findings, snapshot, day, meta, not_raised, ids, dict(rules.charts),
                                  report.health_section(stored, findings, day, lang=lang), **ramp, lang=lang,
                                  server=None if demo else meta.get("url"))
    elif fmt == "json":
        text = report.json_chunks(findings, meta, not_raised, result.not_judged,
                                  report.people_dicts(findings, snapshot, day, **ramp))
    elif fmt == "csv":  # findings only: one row each (the not-raised list is in the other formats)
        text = report.render_csv(report.findings_frame(findings, snapshot, day, **ramp))
    else:
        text = report.render_text(report.findings_frame(findings, snapshot, day, **ramp),
                                  report.not_raised_frame(not_raised, snapshot), day, lang)
    _emit(text, output)
    for err in result.errors:
        note(f"rule {err['rule']} {_failed_or_skipped(err)}: {err['error']}")
    if result.errors:
        ctx.exit(EXIT_PARTIAL)


def _live_audit(profile, rules, as_of, progress=None, client_filter=None):
    """Pull, evaluate, and extend the client health history in one run (:func:`_pulled`, command
    ``audit``, under whose id the history rows are stored).  The snapshot, the run day, the
    rules' result and the history as it was before the run."""
    from collections import Counter

    from clientcare.jobs import health_history as history, previous_findings
    from clientcare.jobs.sync import broken_dates

    with _pulled(profile, rules, "audit", progress=progress, client_filter=client_filter) as (run, summary, snapshot):
        day = _default_as_of(snapshot, as_of, False)
        stored = history.load_for_run(run.state, run.client.scope, rules)
        previous = previous_findings.load(run.state, run.client.scope)
        result = rules.evaluate(snapshot, day, history=stored,
                                broken_dates=broken_dates(run.state, run.client.scope, previous))
        history.record(run.state, run.client.scope, summary.run_id, day, result.findings, profile.history_days)
        summary.as_of = day.isoformat()
        summary.findings = dict(sorted(Counter(result.findings.column("rule").tolist()).items()))
        summary.rule_errors = result.errors
        if result.errors:
            summary.status, summary.exit_code = "partial", EXIT_PARTIAL
    return snapshot, day, result, stored


def _live_explain(ctx, profile, rules, client, as_of):
    """Pull and plan as ``sync --dry-run`` does (the whole database, so the creation cap and every
    decision are the same), then keep the client's keys.  The snapshot, the run day, the client
    ids, the rules' result and the plan's items by key (their open activities included)."""
    from clientcare.jobs.sync import plan_sync

    with _pulled(profile, rules, "explain", progress=_progress(ctx), client_filter=client) as (run, summary, snapshot):
        day = _default_as_of(snapshot, as_of, False)
        ids = _resolve_client(snapshot, client)
        planned = plan_sync(run, profile, rules, snapshot, day, summary.run_id)
        summary.as_of = day.isoformat()
    found = planned.result.findings
    theirs = {marker_key(key) for key in found.take(found.isin("client_id", ids)).keys().tolist()}
    theirs |= {marker_key(f["key"]) for fs in planned.previous.values() for f in fs if f.get("client_id") in ids}
    decisions = {it.key: it for it in planned.plan.items if it.key in theirs
                 or it.res_model == "res.partner" and it.res_id in ids}
    return snapshot, day, ids, planned.result, decisions


def decision_text(item):
    """What sync will do with one key, as ``sync --dry-run`` says it (a message)."""
    from clientcare.rules.i18n import _
    if item is None:
        return _("nothing (no activity planned)")
    verb = {"create": _("create the activity"), "update": _("update the activity"),
            "close": _("close the activity"), "leave": _("leave it"), "note": _("post the note"),
            "skip": _("skip it"), "merge": _("merge it into {key}", key=item.into),
            "queue": _("create the activity later")}.get(item.op, item.op)
    # TRANSLATORS: what sync will do ("update the activity"), then why
    return _("{verb} — {reason}", verb=verb, reason=item.reason) if item.reason else verb


def _raw_or_rendered(f, row: dict, column: str, lang: str):
    """An evidence value as ``explain`` lists it: as it is, but a message in ``lang`` and an
    amount with its currency (the finding's view says which column holds it)."""
    from clientcare.rules.i18n import common_view, money, render
    value = row.get(column)
    currency = (getattr(f, "view", None) or common_view()).currency_of(column)
    if currency and isinstance(value, (int, float)) and not isinstance(value, bool) and row.get(currency):
        code = row[currency]
        return render(money(value, code[1] if isinstance(code, (list, tuple)) else code), lang)
    if hasattr(value, "render") and isinstance(value, str):
        return render(value, lang)
    return value


def _failed_or_skipped(err: dict) -> str:
    return "skipped" if err.get("stage") == "skipped" else "failed"


def _check_output(output: str | None) -> None:
    """An --output name that cannot take a report is refused before any work (exit 2):
    :mod:`clientcare.jobs.output_file` says which names can."""
    if output:
        from clientcare.jobs import output_file
        problem = output_file.problem(output)
        if problem:
            raise E.UsageError(f"--output {output}: {problem}")


def _emit(text, output: str | None) -> None:
    """Write a report: a string, or its pieces as they are made (a large JSON audit is never one
    string).  A file is written whole or not at all, never over or through what is not ClientCare's
    (:func:`clientcare.jobs.output_file.write`)."""
    chunks = [text] if isinstance(text, str) else text
    if _PROGRESS_SHOWN:
        _clear_progress()
    if output:
        from clientcare.jobs import output_file
        output_file.write(output, chunks)
        if not OUTPUT["quiet"]:
            note(f"wrote {output}", "info")
    else:
        for chunk in chunks:
            click.echo(chunk, nl=False)


@main.command()
@click.argument("client", callback=_client_value)
@connection_options
@as_of_option
@click.option("--snapshot", "snapshot_dir", type=click.Path(exists=True, file_okay=False),
              help="Explain from a saved snapshot instead of the live server.")
@click.option("--demo", is_flag=True, help="Use the demo snapshot shipped with ClientCare.")
@lang_option
@click.pass_context
@handle_errors
def explain(ctx, client, as_of, snapshot_dir, demo, lang, **flags):
    """Every finding for one client (id or name), its evidence, and what sync will do about it
    (live: the plan a sync would make now, from Odoo's activities and what people did there)."""
    from clientcare.jobs import report
    from clientcare.rules.i18n import _, ngettext, render

    offline = demo or snapshot_dir
    if demo and snapshot_dir:
        raise E.UsageError("--demo and --snapshot DIR both name the data to explain: give one")
    profile, rules = load_profile_from(ctx, require_connection=not offline, **flags)
    if offline:
        snapshot = _snapshot_for(ctx, profile, rules, snapshot_dir, demo, "explain")
        day = _default_as_of(snapshot, as_of, demo)
        ids = _resolve_client(snapshot, client)
        result, decisions = rules.evaluate(snapshot, day), None
    else:
        snapshot, day, ids, result, decisions = _live_explain(ctx, profile, rules, client, as_of)
    findings = result.findings.take(result.findings.isin("client_id", ids))
    if decisions is None:  # the write-back's ramp over the whole database, as a first sync makes it
        from clientcare.jobs.ramp import deadline
        ramp = report.audit_ramp(result.findings, day, profile.max_new_per_person_per_day, result.working_time)
    name = snapshot.clients.loc[snapshot.clients["id"].isin(ids), "name"].iloc[0]
    lang = report_lang(lang, profile.lang)

    def say(text, indent: str = "") -> None:
        click.echo(indent + render(text, lang))
    say(ngettext("{client} (id {ids}), as of {day}: {n} finding(s)", "{client} (id {ids}), as of {day}: {n} finding(s)",
                 len(findings), client=name, ids=", ".join(map(str, sorted(ids))), day=day))
    if decisions is None:
        say(_("(from a snapshot: what sync would do leaves out Odoo's open activities and what people "
              "did with them; explain on the live server says what sync will do)"))
    for f in findings:
        click.echo(f"\n[{report.word(report.SEVERITY_WORDS, f.severity, lang)}] {f.rule}: {render(f.summary, lang)}")
        say(_("key: {key}", key=f.key), "  ")
        # TRANSLATORS: the Odoo user who owns a finding, and the routing step that chose them
        say(_("owner: user {user} (routed by {step})", user=str(f.responsible_user_id), step=f.routed_by), "  ")
        if f.action and decisions is not None:
            say(_("sync will: {decision}", decision=decision_text(decisions.pop(marker_key(f.key), None))), "  ")
        elif f.action:
            a = f.action
            since = _(" (the situation since {day})", day=a.due_date) if a.due_date and a.due_date < day else ""
            created = ramp.days.get(marker_key(f.key), day)
            later = (_(", queued: created on {day} (max_new_per_person_per_day is {cap})", day=created, cap=ramp.cap)
                     if created > day else "")
            due = deadline(a, created, result.working_time.for_user(f.responsible_user_id or None))
            # TRANSLATORS: {type} is Odoo's activity type (todo, email, call); {since} and {later} are
            # " (the situation since DAY)" and ", queued: created on DAY (…)", or empty
            what = (_("{type} activity due {due}{since}{later}", type=a.activity_type, due=due, since=since,
                      later=later) if a.kind == "activity" else _("a note in the chatter"))
            # TRANSLATORS: {record} is the Odoo record (model,id) the activity or note goes on
            record = f"{f.subject_model},{f.subject_id}"
            say(_("sync would: ensure {what} on {record}: {summary}", what=what, record=record,
                  summary=f.action.summary), "  ")
        else:
            say(_("sync would: nothing (reported only)"), "  ")
        if f.resolved_when:
            say(_("resolved when: {condition}", condition=f.resolved_when), "  ")
        cols = f.evidence_columns or (list(f.evidence[0]) if f.evidence else [])
        for row in f.evidence[:20]:  # raw values, as the JSON has them (a message or an amount in ``lang``)
            click.echo("    - " + ", ".join(f"{c}={_raw_or_rendered(f, row, c, lang)}" for c in cols))
    for key, item in sorted((decisions or {}).items()):  # open activities of the client no finding holds
        say(_("activity {id} ({key}): {summary}", id=str(item.odoo_id), key=key, summary=item.summary), "\n")
        say(_("sync will: {decision}", decision=decision_text(item)), "  ")
    not_raised = report.not_raised_frame([n for n in result.not_raised if n.client_id in ids], snapshot)
    if len(not_raised):
        say(_("Not raised, because:"), "\n")
        for r in not_raised.itertuples():
            click.echo(f"  {r.rule}: {r.record}: {render(r.reason, lang)}")
    for n in result.not_judged:
        say(_("not judged this run: {pattern} ({reason})", pattern=n.pattern, reason=n.reason), "\n")
    for err in result.errors:
        note(f"rule {err['rule']} {_failed_or_skipped(err)}: {err['error']}")
    if result.errors:
        ctx.exit(EXIT_PARTIAL)


@main.group("rules")
def rules_group():
    """The rules ClientCare has loaded."""


@rules_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def rules_list(ctx, as_json):
    """Installed rules: name, version, origin package, description; load failures, each once
    (then the exit code is 1)."""
    from clientcare.jobs import rule_catalog

    infos, failures = rule_catalog.describe_rules()
    if as_json:
        click.echo(json.dumps({"rules": infos, "failures": failures}, indent=2, default=str))
        ctx.exit(EXIT_PARTIAL if failures else EXIT_OK)
    for info in infos:
        click.echo(f"{info['name']:<16} {info['version']:<8} {info['package']:<24} {info['description']}")
    for fail in failures:
        note(f"FAILED {fail['name']}: {fail['error']}")
    if failures:
        ctx.exit(EXIT_PARTIAL)


@rules_group.command("tables")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def rules_tables(as_json):
    """Every table and view a rule can read, with each column's pandas dtype and Odoo type."""
    from clientcare.jobs import rule_catalog

    tables = rule_catalog.describe_tables()
    if as_json:
        click.echo(json.dumps(tables, indent=2))
        return
    for t in tables:
        click.echo(f"{t['name']} ({t['kind']}: {t['source']})")
        for c in t["columns"]:
            click.echo(f"  {c['name']:<32} {c['dtype']:<20} {c['odoo_type']}")


@rules_group.command("show")
@click.argument("name")
@handle_errors
def rules_show(name):
    """One rule: its config schema with defaults, its talking points and their placeholders, and
    the data it needs."""
    from clientcare.jobs import rule_catalog
    from clientcare.jobs.ruleset import load_registry

    info = rule_catalog.describe_rule(name)
    rule = load_registry().get(name)
    helps = _field_docs(rule.Config)
    click.echo(f"{info['name']} {info['version']} ({info['package']})\n  {info['description']}\n")
    click.echo(f"config ([profiles.NAME.rules.{info['name']}]; key, type, default as TOML, meaning):")
    for row in info["config"]:
        click.echo(f"  {row['key']:<28} {row['type']:<36} {toml_value(row['default'])}")
        if helps.get(row["key"]):
            click.echo(f"  {'':<28} {helps[row['key']]}")
    scripts = rule.scripts
    if scripts:
        click.echo(f"\ntalking points per kind ([profiles.NAME.scripts.{info['name']}] KIND = [\"point\", ...]):")
    for kind, script in scripts.items():
        click.echo(f"  {kind}:")
        for point in script.points:
            click.echo(f"    - {point}")
        click.echo("    placeholders: " + "; ".join(f"{{{k}}} {v}" for k, v in script.placeholders().items()))
    click.echo("\nneeds (snapshot tables, their Odoo model, and fields beyond the standard ones):")
    from clientcare.connector.schema import TABLES
    for table, fields in info["needs"].items():
        model = getattr(TABLES.get(table), "model", "")
        extra = ", ".join(fields) if fields else "the standard fields only"
        click.echo(f"  {table}" + (f" ({model})" if model else "") + f": {extra}")
    for table, spec in info["tables"].items():
        click.echo(f"\ndeclares {table}: {spec['model']} where {spec['domain']}: {', '.join(spec['fields'])}")


def toml_value(value) -> str:
    """A default as one would write it in the TOML profile (``none``: not set)."""
    import dataclasses as dc
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items() if v is not None) + "}"
    if dc.is_dataclass(value):
        return "{" + ", ".join(f"{f.name} = {toml_value(getattr(value, f.name))}"
                               for f in dc.fields(value) if f.init and getattr(value, f.name) is not None) + "}"
    return json.dumps(str(value))


def _field_docs(cls) -> dict[str, str]:
    """The ``#:`` comment above each field of a rule's Config (its meaning), from the source."""
    import inspect
    import re
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    docs, pending = {}, []
    for line in lines:
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        m = re.match(r"([A-Za-z_]\w*)\s*:", text)
        if m and pending:
            docs[m.group(1)] = " ".join(pending)
        pending = []
    return docs


@main.command()
@click.argument("run_id", required=False)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs to list (1 or more).")
@click.pass_context
@handle_errors
def runs(ctx, run_id, as_json, limit, **flags):
    """Run history, or one run's summary."""
    from clientcare.jobs.run_history import RunHistory
    from clientcare.jobs.run_session import open_store

    profile, _ = load_profile_from(ctx, require_connection=False, with_rules=False, **flags)
    history = RunHistory(open_store(profile.state_path, read_only=True))  # only reads: a read-only file will do
    if run_id:
        run = history.get(run_id)
        if run is None:
            raise E.UsageError(f"no run {run_id!r} in {profile.state_path} (`clientcare runs` lists them)")
        click.echo(json.dumps(run, indent=2, default=str))
        return
    rows = history.list(limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no runs yet")
    for r in rows:
        click.echo(f"{r['run_id']}  {r['command']:<14} {r['status']:<8} exit {r['exit_code']}  "
                   f"{r['started_at']}")


@main.command("history")
@click.argument("client", callback=_client_value)
@connection_options
@output_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="Output format.")
@click.option("--demo", is_flag=True, help="A history built from the demo snapshot (no server; nothing stored).")
@lang_option
@click.pass_context
@handle_errors
def history_command(ctx, client, output, fmt, demo, lang, **flags):
    """One client's health over time (id or name): fit score, band and what changed, as syncs
    and live audits stored it."""
    from clientcare.jobs import health_history as history
    from clientcare.jobs.run_session import open_store

    profile, rules = load_profile_from(ctx, require_connection=False, with_rules=demo, **flags)
    _check_output(output)
    scope = "demo" if demo else f"{profile.url}|{profile.db}"
    if demo:
        from clientcare.connector.demo import demo_as_of, demo_snapshot
        from clientcare.jobs.demo_history import demo_history
        snapshot = demo_snapshot()
        frame = demo_history(profile, rules, snapshot, demo_as_of(snapshot))
        rows = [history.Stretch(*row) for row in frame.itertuples(index=False)]
    elif profile.state_path.exists():  # read with sqlite3 alone: no pandas for a look at the history
        with contextlib.closing(open_store(profile.state_path, read_only=True)) as state:
            rows = history.stretches(state, scope)
    else:
        rows = []
    if not rows:
        raise E.UsageError(f"no client health stored for {scope} in {profile.state_path}: a sync or a live "
                           f"audit stores it (try `clientcare history --demo CLIENT`)")
    latest = {int(r.client_id): r for r in rows}  # oldest first per client: the last one wins
    (cid,) = _match_client([(i, r.name) for i, r in latest.items()], client)
    points = history.trend_of(r for r in rows if r.client_id == cid)
    name = latest[cid].name
    if fmt == "json":
        text = json.dumps({"client_id": cid, "name": name, "history": points}, indent=2) + "\n"
    elif fmt == "csv":
        import csv
        import io
        buf = io.StringIO()
        criteria = sorted({c for p in points for c in p["criteria"]})
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["since", "score", "band", "changes", "run_id", *criteria])
        writer.writerows([p["since"], p["score"], p["band"], "; ".join(p["changes"]), p["run_id"],
                          *(p["criteria"].get(c, "") for c in criteria)] for p in points)
        text = buf.getvalue()
    else:
        text = history_text(name, cid, points, report_lang(lang, profile.lang))
    _emit(text, output)


def history_text(name: str, cid: int, points: list[dict], lang: str) -> str:
    """``history``'s text: a heading, then one line per stored stretch (day, score, band, what
    changed), in ``lang`` (the JSON and CSV keep the raw values)."""
    from clientcare.rules.words import band_word
    from clientcare.rules import i18n
    m = i18n
    heading = m.ngettext("{client} (id {id}): fit score over {n} stored stretch(es)",
                         "{client} (id {id}): fit score over {n} stored stretch(es)", len(points),
                         client=name, id=str(cid))
    lines = [m.render(heading, lang)]
    for p in points:
        day = p["since"]
        with contextlib.suppress(ValueError, TypeError):
            day = m.render(datetime.strptime(p["since"], "%Y-%m-%d").date(), lang)
        score = "?" if p["score"] is None else m.render(p["score"], lang)
        changes = "; ".join(m.render(c, lang) for c in p["changes"])
        lines.append(f"{day}  {score:>3}  {m.render(band_word(p['band']), lang):<7}  {changes}")
    return "".join(line + "\n" for line in lines)


@main.command()
@connection_options
@rules_option
@click.option("--client", "client_filter", callback=_client_id,
              help="Only this client (its id; `clientcare explain NAME` shows it).")
@as_of_option
@click.option("--dry-run", is_flag=True, help="Compute and print the plan; make no write call.")
@click.option("--full", is_flag=True, help="Full pull instead of incremental.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@strict_option
@click.pass_context
@handle_errors
def sync(ctx, rule_names, client_filter, as_of, dry_run, full, as_json, strict, **flags):
    """Pull (incremental), run the rules, and write activities and notes to Odoo. For cron."""
    from clientcare.jobs import sync as sync_job

    profile, rules = load_profile_from(ctx, **flags)
    selected = _selected_rules(profile, rules, rule_names)
    client_ids = {int(client_filter)} if client_filter else None
    summary = sync_job.sync(profile, selected, dry_run=dry_run, as_of=as_of.date() if as_of else None,
                            full=full, client_ids=client_ids, strict=strict, progress=_progress(ctx))
    data = summary.to_dict()
    if as_json:
        click.echo(REDACTOR.redact(json.dumps(data, indent=2, default=str)))
    elif summary.error:  # the run did not get anywhere: only the one error line
        pass
    elif dry_run or summary.applied or summary.status != "ok":
        click.echo(REDACTOR.redact(_summary_text(data)))
    if summary.error:
        raise CliError(summary.error, summary.exit_code, hint=summary.hint,
                       traceback_text=summary.traceback if OUTPUT["debug"] else "")
    ctx.exit(summary.exit_code)


def _summary_text(d: dict) -> str:
    lines = [f"run {d['run_id']} ({'dry run' if d['dry_run'] else 'applied'}): {d['status']}, "
             f"{d['rpc_calls']} RPC calls, {d['retries']} retries, {d['duration_s']} s"]
    for rule, counts in d["plan"].get("counts", {}).items():
        lines.append(f"  {rule}: " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items())))
    tags = d["plan"].get("health_tags")
    if tags and (tags["counts"] or tags["create_tags"]):
        lines.append("  health tags: " + ", ".join(f"{op} {n}" for op, n in sorted(tags["counts"].items()))
                     + "".join(f"; new tag {t!r}" for t in tags["create_tags"]))
        if d["dry_run"]:
            lines += [f"    {'tag' if s['band'] else 'untag'} res.partner,{s['client_id']}: {s['tag'] or 'ours off'}"
                      for s in tags["sample"]]
    if d["plan"].get("people"):  # the ramp: what each person gets today, and what waits
        lines.append("  new activities per person (max_new_per_person_per_day):")
        lines += [f"    {p['name']}: {p['today']} today"
                  + (f" (after {p['received_today']} already today)" if p["received_today"] else "")
                  + (f", {p['queued']} queued until {p['until']}" if p["queued"] else "") for p in d["plan"]["people"]]
    if d["plan"].get("left"):
        lines.append("  left as they are: " + ", ".join(f"{n} {why}" for why, n in d["plan"]["left"].items()))
    if d["applied"]:
        lines.append("  applied: " + ", ".join(f"{k} {v}" for k, v in sorted(d["applied"].items())))
    if d["dry_run"]:
        sample = d["plan"].get("sample", [])
        for item in sample:
            lines.append(f"    {item['op']:<7} {item['res_model']},{item['res_id']}: {item['summary']} "
                         f"(user {item['user_id']}, due {item['date_deadline']}) [{item['reason']}]")
        more = d["plan"].get("sample_total", len(sample)) - len(sample)
        if more > 0:
            lines.append(f"    ... and {more} more (see --json)")
    for err in d["rule_errors"]:
        lines.append(f"  rule {err['rule']} {_failed_or_skipped(err)}: {err['error']}")
    for err in d["write_errors"]:
        lines.append(f"  write failed on {err['res_model']},{err['res_id']}: {err['error']}")
    for w in d["warnings"]:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


@main.command()
@click.argument("run_id")
@connection_options
@click.option("--force", is_flag=True,
              help="Also remove the run's activities people worked on (owner, deadline or note changed).")
@click.pass_context
@handle_errors
def undo(ctx, run_id, force, **flags):
    """Remove what one run created: its open activities and, where permitted, its notes.  An
    activity a person worked on since is listed and kept unless --force.  The next sync raises
    again what is still found."""
    from clientcare.jobs import sync as sync_job

    profile, _ = load_profile_from(ctx, **flags)
    summary = sync_job.undo(profile, run_id, progress=_progress(ctx), force=force)
    if summary.error:
        raise CliError(summary.error, summary.exit_code, hint=summary.hint,
                       traceback_text=summary.traceback if OUTPUT["debug"] else "")
    click.echo(f"run {summary.undone}: removed {summary.applied['activities_removed']} activities and "
               f"{summary.applied['notes_removed']} notes" + (f" and took off {summary.applied['tags_removed']} health "
               f"tag(s)" if summary.applied.get("tags_removed") else "") + f" (recorded as run {summary.run_id})")
    for kept in summary.kept:
        click.echo(f"  kept {kept['model']},{kept['res_id']} activity {kept['id']} \"{kept['summary']}\": "
                   f"a person worked on it ({kept['why']}); --force removes it too")
    for err in summary.write_errors:
        note(f"  could not remove {err['res_model']},{err['res_id']}: {err['error']}")
    ctx.exit(summary.exit_code)


def run() -> None:  # pragma: no cover - console entry point
    main(obj={})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(obj={}))
