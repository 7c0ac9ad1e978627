"""``clientcare check``: diagnose a profile step by step and say what to fix."""
from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timezone

import requests

from clientcare.connector import errors as E
from clientcare.connector.pull import OdooClient
from clientcare.connector.settings import ConnectionSettings
from clientcare.connector.transports import open_transport

#: Odoo modules ClientCare's data comes from, and what is lost without each.
MODULES = {
    "mail": "activities and notes cannot be written back",
    "account": "invoice rules (late_payment, pays-on-time) are skipped",
    "project": "project and task rules (unmet_deadlines, follow-ups) are skipped",
    "rating": "the 'likely satisfied' criterion stays unknown",
}


@dataclass
class Step:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def run_check(settings: ConnectionSettings, models_needed: dict[str, set[str]]) -> list[Step]:
    """Run the checks in order; stop at the first failure later steps depend on.

    ``models_needed`` maps each Odoo model the enabled rules and write-back use
    to the operations needed on it (``read``, ``create``, ``write``).
    """
    steps: list[Step] = []
    try:
        steps.append(_reachable(settings))
    except E.ClientCareError as exc:
        return steps + [Step("server reachable", "fail", str(exc), exc.hint or "check the URL")]
    try:
        transport = open_transport(settings)
    except E.MissingDatabaseError as exc:
        return steps + [Step("database", "fail", str(exc), exc.hint)]
    except E.AuthenticationError as exc:
        return steps + [Step("database", "ok", f"{settings.db!r} answers"),
                        Step("credentials", "fail", str(exc), exc.hint)]
    except E.ClientCareError as exc:
        return steps + [Step("login", "fail", str(exc), exc.hint)]
    steps.append(Step("database", "ok", f"{settings.db!r} answers"))
    steps.append(Step("credentials", "ok", f"logged in as {settings.login!r} (uid {transport.uid})"))
    info = transport.version()
    steps.append(Step("server version", "ok", f"Odoo {info.get('server_version')}, transport "
                      f"{transport.name}" + (" (picked by auto)" if settings.transport == "auto" else "")))
    client = OdooClient(settings, transport=transport)
    steps.append(_modules(client))
    steps += _access(client, models_needed)
    steps.append(_clock(settings))
    return steps


def _reachable(settings: ConnectionSettings) -> Step:
    try:
        resp = requests.post(f"{settings.url}/web/webclient/version_info", json={
            "jsonrpc": "2.0", "method": "call", "params": {}}, timeout=settings.timeout,
            verify=(settings.ca_bundle or True) if settings.verify_tls else False)
    except requests.exceptions.SSLError as exc:
        raise E.ProtocolError(f"TLS failure talking to {settings.url}: {exc}",
                              hint="use --ca-bundle for a private CA; --insecure only for tests") from None
    except requests.RequestException as exc:
        raise E.ConnectionFailure(f"cannot reach {settings.url}: {type(exc).__name__}") from None
    if resp.status_code != 200 or "result" not in resp.text:
        raise E.ProtocolError(f"{settings.url} answered HTTP {resp.status_code}, not Odoo's API",
                              hint="the URL should be the one you open Odoo with, without /web")
    tls = "TLS verified" if settings.url.startswith("https") and settings.verify_tls else (
        "TLS NOT verified (--insecure)" if settings.url.startswith("https") else "plain HTTP")
    status = "warn" if "NOT" in tls or tls == "plain HTTP" else "ok"
    return Step("server reachable", status, f"{settings.url} ({tls})",
                "use https so the credentials are encrypted" if status == "warn" else "")


def _modules(client: OdooClient) -> Step:
    rows = client.call("ir.model", "search_read", [], {
        "domain": [("model", "in", ["mail.activity", "account.move", "project.task", "rating.rating"])],
        "fields": ["model"]})
    present = {r["model"] for r in rows}
    by_module = {"mail": "mail.activity", "account": "account.move", "project": "project.task",
                 "rating": "rating.rating"}
    missing = [m for m, model in by_module.items() if model not in present]
    if not missing:
        return Step("modules", "ok", "mail, account, project and rating are installed")
    return Step("modules", "fail" if "mail" in missing else "warn",
                f"not installed: {', '.join(missing)}",
                "; ".join(f"without {m}, {MODULES[m]}" for m in missing))


def _access(client: OdooClient, models_needed: dict[str, set[str]]) -> list[Step]:
    """Model-level rights of the bot user: ``has_access`` from 18, ``check_access_rights`` before."""
    steps = []
    present = {r["model"] for r in client.call("ir.model", "search_read", [], {
        "domain": [("model", "in", sorted(models_needed))], "fields": ["model"]})}
    for model, operations in sorted(models_needed.items()):
        if model not in present:
            continue
        denied = []
        for op in sorted(operations):
            if client.profile.major >= 18:
                ok = client.call(model, "has_access", [[], op])
            else:
                ok = client.call(model, "check_access_rights", [op], {"raise_exception": False})
            if not ok:
                denied.append(op)
        if denied:
            steps.append(Step(f"rights on {model}", "fail", f"no {', '.join(denied)} right",
                              f"add the ClientCare user to a group with {', '.join(denied)} on {model}"))
        else:
            steps.append(Step(f"rights on {model}", "ok", ", ".join(sorted(operations))))
    return steps


def _clock(settings: ConnectionSettings) -> Step:
    try:
        resp = requests.head(f"{settings.url}/web/login", timeout=settings.timeout,
                             verify=(settings.ca_bundle or True) if settings.verify_tls else False)
        server = email.utils.parsedate_to_datetime(resp.headers["Date"])
    except (requests.RequestException, KeyError, TypeError, ValueError):
        return Step("clock", "warn", "the server sent no Date header; clock difference unknown")
    skew = (datetime.now(timezone.utc) - server).total_seconds()
    if abs(skew) > 120:
        return Step("clock", "warn", f"this machine is {skew:+.0f} s off the server",
                    "sync the clocks (NTP): incremental pulls rely on server write dates")
    return Step("clock", "ok", f"{skew:+.0f} s difference with the server")


