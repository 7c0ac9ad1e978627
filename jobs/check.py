"""``clientcare check``: diagnose a profile step by step and say what to fix."""
from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timezone

import requests

from clientcare.connector import errors as E
from clientcare.connector.facts import ACTIVITY_TYPE_XMLIDS
from clientcare.connector.client import OdooClient
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import open_transport
from clientcare.jobs.exit_codes import exit_code_for
from clientcare.jobs.writeback import MAIL_POST_ACCESS, SENDER_HINT, WriteBack, rights_hint

#: What the write-back loses without the mail module (what rules lose comes from their needs).
WITHOUT_MAIL = "activities and notes cannot be written back"


@dataclass
class Step:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""
    #: The exit code this failure stands for (None: "Odoo refused", 4).
    code: int | None = None


def run_check(settings: ConnectionSettings, models_needed: dict[str, set[str]],
              optional_models: set[str] = frozenset(), post_targets: set[str] = frozenset(),
              readers: dict[str, list[str]] | None = None, *, notify_assignees: bool = False,
              working_time=None) -> list[Step]:
    """Run the checks in order; stop at the first failure later steps depend on.

    ``models_needed`` maps each Odoo model the enabled rules and write-back use
    to the operations needed on it (``read``, ``create``, ``write``);
    ``post_targets`` are the documents sync may put activities and notes on.  Every
    call sync makes is one a check step makes or probes the right for.  ``readers``: model ->
    the enabled rules that read it, to say what a missing module costs; ``working_time`` the
    profile's ``[working_time]`` (a ``WorkingTimeConfig``), said in the working-time step.
    """
    steps: list[Step] = []
    try:
        steps.append(_reachable(settings))
    except E.ClientCareError as exc:
        return steps + [Step("server reachable", "fail", str(exc), exc.hint or "check the URL",
                             exit_code_for(exc))]
    try:
        transport = open_transport(settings)
    except E.MissingDatabaseError as exc:
        return steps + [Step("database", "fail", str(exc), exc.hint)]
    except E.AuthenticationError as exc:
        return steps + [Step("database", "ok", f"{settings.db!r} answers"),
                        Step("credentials", "fail", str(exc), exc.hint)]
    except E.ClientCareError as exc:
        return steps + [Step("login", "fail", str(exc), exc.hint, exit_code_for(exc))]
    steps.append(Step("database", "ok", f"{settings.db!r} answers"))
    steps.append(Step("credentials", "ok", f"logged in as {settings.login!r} (uid {transport.uid})"))
    info = transport.version()
    steps.append(Step("server version", "ok", f"Odoo {info.get('server_version')}, transport "
                      f"{transport.name}" + (" (picked by auto)" if settings.transport == "auto" else "")))
    client = OdooClient(settings, transport=transport)
    probe = {model: _allowed(client, model, "read") for model in
             sorted(set(models_needed) | set(MODULE_MODELS.values()) | set(WORKING_TIME_MODELS))}
    steps.append(_modules(probe, readers or {}))
    steps += _access(client, {m: o for m, o in models_needed.items() if m not in WORKING_TIME_MODELS},
                     probe, optional_models)
    steps.append(_working_time(client, probe, working_time))
    if probe.get("mail.activity"):
        steps += _posting(client, {m for m in post_targets if probe.get(m) is not None})
        steps.append(_activity_types(client))
        steps.append(_sender(client, transport.uid, notify_assignees))
    steps.append(_clock(settings))
    return steps


def _reachable(settings: ConnectionSettings) -> Step:
    try:
        resp = requests.post(f"{settings.url}/web/webclient/version_info", json={
            "jsonrpc": "2.0", "method": "call", "params": {}}, timeout=settings.timeout,
            verify=settings.requests_verify)
    except requests.exceptions.SSLError as exc:
        raise E.ProtocolError(f"TLS failure talking to {settings.url}: {exc}",
                              hint="use --ca-bundle for a private CA; --insecure only for tests") from None
    except requests.RequestException as exc:
        raise E.ConnectionFailure(f"cannot reach {settings.url}: {type(exc).__name__}") from None
    if resp.status_code in (502, 503, 504):
        raise E.ServerUnavailable(f"{settings.url} answered HTTP {resp.status_code} (server unavailable)")
    if resp.status_code != 200 or "result" not in resp.text:
        raise E.NotOdooError(f"{settings.url} answered HTTP {resp.status_code}, not Odoo's API")
    tls = "TLS verified" if settings.url.startswith("https") and settings.verify_tls else (
        "TLS NOT verified (verify_tls off)" if settings.url.startswith("https") else "plain HTTP")
    status = "warn" if "NOT" in tls or tls == "plain HTTP" else "ok"
    return Step("server reachable", status, f"{settings.url} ({tls})",
                "use https so the credentials are encrypted" if status == "warn" else "")


MODULE_MODELS = {"mail": "mail.activity", "account": "account.move", "project": "project.task",
                 "rating": "rating.rating"}


def _allowed(client: OdooClient, model: str, op: str) -> bool | None:
    """The bot user's model-level right (None: the model does not exist, module missing).

    ``has_access`` from 18, ``check_access_rights`` before; both work for any user,
    unlike reading ``ir.model``, which needs administrator rights.
    """
    try:
        if client.profile.major >= 18:
            return bool(client.call(model, "has_access", [[], op]))
        return bool(client.call(model, "check_access_rights", [op], {"raise_exception": False}))
    except E.MissingModelError:
        return None


def _modules(probe: dict[str, bool | None], readers: dict[str, list[str]]) -> Step:
    missing = [m for m, model in MODULE_MODELS.items() if probe.get(model) is None]
    if not missing:
        return Step("modules", "ok", "mail, account, project and rating are installed")
    return Step("modules", "fail" if "mail" in missing else "warn",
                f"not installed: {', '.join(missing)}",
                "; ".join(f"without {m}, {_lost(m, readers)}" for m in missing))


def _lost(module: str, readers: dict[str, list[str]]) -> str:
    if module == "mail":
        return WITHOUT_MAIL
    model = MODULE_MODELS[module]
    rules = readers.get(model) or []
    return (f"the rules reading {model} are skipped or judge less: {', '.join(rules)}" if rules
            else "no enabled rule loses data")


def _access(client: OdooClient, models_needed: dict[str, set[str]], probe: dict[str, bool | None],
            optional_models: set[str]) -> list[Step]:
    steps = []
    for model, operations in sorted(models_needed.items()):
        if probe.get(model) is None:
            continue
        denied = [op for op in sorted(operations)
                  if not (probe[model] if op == "read" else _allowed(client, model, op))]
        if denied and model in optional_models:
            steps.append(Step(f"rights on {model}", "warn", f"no {', '.join(denied)} right (optional)",
                              "the rules that use it report that criterion as unknown"))
        elif denied:
            steps.append(Step(f"rights on {model}", "fail", f"no {', '.join(denied)} right",
                              f"add the ClientCare user to a group with {', '.join(denied)} on {model}"))
        else:
            steps.append(Step(f"rights on {model}", "ok", ", ".join(sorted(operations))))
    return steps


#: What working time is read from (connector/schema.py's working-time tables), in check's order.
WORKING_TIME_MODELS = ("resource.calendar", "resource.calendar.attendance", "resource.calendar.leaves")


def _working_time(client: OdooClient, probe: dict[str, bool | None], override) -> Step:
    """Where deadlines' working days and hours come from: Odoo's calendars when the bot can read
    them, else the profile's ``[working_time]`` (a warning: the pull still works without them)."""
    keys = [k for k in ("working_days", "working_hours", "timezone", "holidays")
            if override is not None and getattr(override, k) is not None]
    profile = f"; the profile sets {', '.join(keys)}" if keys else ""
    unreadable = [m for m in WORKING_TIME_MODELS if not probe.get(m)]
    if unreadable:
        why = ("the resource module is not installed" if probe.get(unreadable[0]) is None
               else f"no read right on {', '.join(unreadable)}")
        return Step("working time", "warn", f"cannot read {unreadable[0]} ({why}): the profile's working_time "
                    f"values apply" + (profile or " (none set: Monday to Friday 09:00-17:00 UTC)"),
                    "give the ClientCare user the Internal User group (it reads calendars) or set "
                    "[working_time] in the profile")
    companies = client.call("res.company", "search_read", [[]], {"fields": ["resource_calendar_id"]})
    with_calendar = sum(1 for c in companies if c.get("resource_calendar_id"))
    holidays = client.call("resource.calendar.leaves", "search_count", [[("resource_id", "=", False)]])
    zones = client.call("res.users", "search_count", [[("share", "=", False), ("tz", "!=", False)]])
    return Step("working time", "ok", f"Odoo calendars of {with_calendar} compan{'y' if with_calendar == 1 else 'ies'}, "
                f"{holidays} public holiday(s), {zones} user time zone(s){profile}")


def _posting(client: OdooClient, targets: set[str]) -> list[Step]:
    """Creating an activity, posting a note and marking an activity done all need the
    document's mail-post right, not only rights on ``mail.activity``."""
    steps = []
    for model in sorted(targets):
        op = MAIL_POST_ACCESS.get(model, "write")
        if _allowed(client, model, op):
            steps.append(Step(f"activities on {model}", "ok", f"{op} right on {model}"))
        else:
            steps.append(Step(f"activities on {model}", "fail",
                              f"no {op} right on {model}: Odoo refuses activities and notes on it",
                              rights_hint(model)))
    return steps


def _activity_types(client: OdooClient) -> Step:
    """The activity types and the note subtype, looked up exactly as sync does."""
    writer = WriteBack(client, None, "check")
    found = writer.lookups()
    missing = [name for name in ACTIVITY_TYPE_XMLIDS if name not in found]
    if missing:
        return Step("activity types", "warn", f"not found: {', '.join(missing)}",
                    f"restore {', '.join(ACTIVITY_TYPE_XMLIDS[m] for m in missing)} or expect Odoo's "
                    f"default type on those activities")
    return Step("activity types", "ok", ", ".join(f"{k} {v}" for k, v in found.items()))


def _sender(client: OdooClient, uid: int, notify_assignees: bool) -> Step:
    """Odoo posts "activity done" messages and assignment mails as the bot: measured live,
    without an email address on the bot user Odoo 16 refuses to mark activities done, and
    16-18 refuse to create activities that notify their assignee (19 sends them anyway)."""
    email = client.call("res.users", "read", [[uid]], {"fields": ["email"]})[0].get("email")
    if email:
        return Step("sender address", "ok", f"the ClientCare user writes as {email}")
    fix = SENDER_HINT
    if notify_assignees and client.profile.major <= 18:
        return Step("sender address", "fail", "the ClientCare user has no email address and "
                    "notify_assignees is on: Odoo 16-18 refuse activities whose assignee they must email", fix)
    if client.profile.major <= 16:
        return Step("sender address", "fail", "the ClientCare user has no email address: Odoo 16 "
                    "refuses to mark activities done (it posts the 'done' message as the user)", fix)
    return Step("sender address", "ok", "no email address (none needed: ClientCare sends no mail "
                "unless notify_assignees is on)")


def _clock(settings: ConnectionSettings) -> Step:
    try:
        resp = requests.head(f"{settings.url}/web/login", timeout=settings.timeout,
                             verify=settings.requests_verify)
        server = email.utils.parsedate_to_datetime(resp.headers["Date"])
    except (requests.RequestException, KeyError, TypeError, ValueError):
        return Step("clock", "warn", "the server sent no Date header; clock difference unknown")
    skew = (datetime.now(timezone.utc) - server).total_seconds()
    if abs(skew) > 120:
        return Step("clock", "warn", f"this machine is {skew:+.0f} s off the server",
                    "sync the clocks (NTP): incremental pulls rely on server write dates")
    return Step("clock", "ok", f"{skew:+.0f} s difference with the server")


