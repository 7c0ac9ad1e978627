"""Benchmark (not a test): all built-in rules over a generated large snapshot.

    python benchmarks/rules_bench.py [--invoices 1000000] [--clients 100000] [--tasks 200000]

Prints the time of each rule, routing, the total, and the peak resident memory
of the process (``resource.getrusage``; generation included).  Goal on a
2-core machine: all four rules in under 5 s and 2 GiB.  The frames are built
column by column with the dtypes the connector's ``to_frame`` produces (checked
against it), because going through 1M Python dicts would time the generator,
not the rules.
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from datetime import date

import numpy as np
import pandas as pd

from clientcare.connector.schema import to_frame
from clientcare.connector.snapshot import Snapshot
from clientcare.rules import load_rules, run_rules

AS_OF = date(2026, 11, 22)
TODAY = np.datetime64(AS_OF, "D")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def m2o(frame: dict, name: str, ids: np.ndarray, labels: np.ndarray | None, missing=None):
    """A many2one the way to_frame types it: ``<f>`` Int64 and ``<f>_name`` string."""
    mask = missing if missing is not None else np.zeros(len(ids), dtype=bool)
    frame[name] = pd.array(np.where(mask, 0, ids), dtype="Int64")
    frame[name][mask] = pd.NA
    text = labels if labels is not None else np.char.add(f"{name} ", ids.astype(str)).astype(object)
    frame[f"{name}_name"] = pd.array(np.where(mask, None, text), dtype="string")


def days(offsets: np.ndarray) -> pd.Series:
    return pd.Series((TODAY + offsets.astype("timedelta64[D]")).astype("datetime64[ns]"))


def stamps(offsets: np.ndarray) -> pd.Series:
    return days(offsets).dt.tz_localize("UTC") + pd.Timedelta(hours=9)


def strings(values) -> pd.arrays.ArrowStringArray:
    return pd.array(values, dtype="string")


def generate(n_invoices: int, n_clients: int, n_tasks: int, seed: int = 7) -> Snapshot:
    rng = np.random.default_rng(seed)
    n_users = 60
    user_ids = np.arange(2, 2 + n_users)
    users = {"id": user_ids.astype("int64"), "name": strings([f"User {u}" for u in user_ids]),
             "login": strings([f"user{u}" for u in user_ids])}
    m2o(users, "partner_id", user_ids + 1_000_000, None)
    users["active"] = rng.random(n_users) > 0.1
    m2o(users, "company_id", np.ones(n_users, dtype=int), np.full(n_users, "YourCompany", dtype=object))
    users["tz"] = strings(rng.choice(["Europe/Brussels", "America/New_York", None], n_users).astype(object))
    users["lang"] = strings(rng.choice(["en_US", "fr_FR", "de_DE"], n_users, p=[.8, .1, .1]).astype(object))
    users["create_date"] = stamps(np.full(n_users, -900))
    users["write_date"] = stamps(np.full(n_users, -900))

    # clients (companies) and one contact per two clients
    client_ids = np.arange(10, 10 + n_clients)
    n_contacts = n_clients // 2
    contact_ids = np.arange(10 + n_clients, 10 + n_clients + n_contacts)
    contact_parent = rng.choice(client_ids, n_contacts)
    pids = np.concatenate([client_ids, contact_ids])
    client_names = np.array([f"Client {c}" for c in client_ids], dtype=object)
    name_of = dict(zip(client_ids.tolist(), client_names.tolist()))
    commercial = np.concatenate([client_ids, contact_parent])
    n_p = len(pids)
    partners = {"id": pids.astype("int64"),
                "name": strings(np.concatenate([client_names, [f"Contact {c}" for c in contact_ids]]))}
    m2o(partners, "commercial_partner_id", commercial,
        np.array([name_of[c] for c in commercial.tolist()], dtype=object))
    m2o(partners, "parent_id", np.concatenate([np.zeros(n_clients, int), contact_parent]), None,
        missing=np.arange(n_p) < n_clients)
    partners["is_company"] = np.arange(n_p) < n_clients
    partners["customer_rank"] = pd.array(np.where(np.arange(n_p) < n_clients, 1, 0), dtype="Int64")
    m2o(partners, "user_id", rng.choice(user_ids, n_p), None,
        missing=(rng.random(n_p) < 0.1) | (np.arange(n_p) >= n_clients))
    m2o(partners, "country_id", rng.integers(1, 50, n_p), None)
    m2o(partners, "industry_id", rng.integers(1, 20, n_p), None, missing=rng.random(n_p) < 0.3)
    partners["category_id"] = pd.Series([[int(t)] if t else [] for t in rng.integers(0, 6, n_p)], dtype=object)
    m2o(partners, "company_id", np.ones(n_p, int), None, missing=np.ones(n_p, bool))
    partners["active"] = np.ones(n_p, bool)
    partners["email"] = strings(np.full(n_p, "x@example.com", dtype=object))
    partners["phone"] = strings(np.full(n_p, None, dtype=object))
    partners["lang"] = strings(np.full(n_p, "en_US", dtype=object))
    partners["create_date"] = stamps(-rng.integers(30, 1500, n_p))
    partners["write_date"] = partners["create_date"]

    companies = {"id": np.array([1], dtype="int64"), "name": strings(["YourCompany"])}
    m2o(companies, "currency_id", np.array([1]), np.array(["USD"], dtype=object))
    m2o(companies, "partner_id", np.array([1]), np.array(["YourCompany"], dtype=object))
    m2o(companies, "resource_calendar_id", np.array([1]), None, missing=np.array([True]))
    companies["write_date"] = stamps(np.array([-900]))

    # projects for 60 % of the clients, ~10 tasks each
    n_projects = max(1, n_tasks // 10)
    proj_ids = np.arange(1, n_projects + 1)
    proj_client = rng.choice(client_ids[: int(n_clients * 0.6)], n_projects)
    start = -rng.integers(10, 700, n_projects)
    length = rng.integers(20, 300, n_projects)
    projects = {"id": proj_ids.astype("int64"), "name": strings([f"Project {p}" for p in proj_ids])}
    m2o(projects, "partner_id", proj_client, np.array([name_of[c] for c in proj_client.tolist()], dtype=object),
        missing=rng.random(n_projects) < 0.05)
    m2o(projects, "user_id", rng.choice(user_ids, n_projects), None)
    projects["date_start"] = days(start)
    projects["date"] = days(start + length)
    projects["active"] = rng.random(n_projects) > 0.05
    m2o(projects, "company_id", np.ones(n_projects, int), None)
    projects["create_date"] = stamps(start - 5)
    projects["write_date"] = stamps(np.minimum(start + length, 0))
    projects["last_update_status"] = strings(rng.choice(["on_track", "at_risk", "off_track", "done", "to_define"],
                                                        n_projects, p=[.5, .15, .05, .2, .1]).astype(object))

    task_ids = np.arange(1, n_tasks + 1)
    t_proj = rng.choice(proj_ids, n_tasks)
    t_start = start[t_proj - 1]
    t_created = t_start + rng.integers(0, 1, n_tasks) + (rng.random(n_tasks) * length[t_proj - 1]).astype(int)
    t_created = np.minimum(t_created, -1)
    tasks = {"id": task_ids.astype("int64"), "name": strings([f"Task {t}" for t in task_ids])}
    m2o(tasks, "project_id", t_proj, None)
    m2o(tasks, "partner_id", proj_client[t_proj - 1], None, missing=rng.random(n_tasks) < 0.3)
    n_users_per = rng.integers(0, 3, n_tasks)
    tasks["user_ids"] = pd.Series([list(rng.choice(user_ids, k)) if k else [] for k in n_users_per.tolist()],
                                  dtype=object)
    tasks["date_deadline"] = stamps(t_created + rng.integers(5, 90, n_tasks)).where(rng.random(n_tasks) < 0.7)
    state = rng.choice(["01_in_progress", "02_changes_requested", "03_approved", "04_waiting_normal", "1_done",
                        "1_canceled"], n_tasks, p=[.35, .05, .05, .05, .45, .05]).astype(object)
    m2o(tasks, "stage_id", rng.integers(1, 6, n_tasks), None)
    tasks["active"] = rng.random(n_tasks) > 0.02
    m2o(tasks, "company_id", np.ones(n_tasks, int), None)
    m2o(tasks, "parent_id", np.zeros(n_tasks, int), None, missing=np.ones(n_tasks, bool))
    tasks["date_last_stage_update"] = stamps(np.minimum(t_created + rng.integers(0, 60, n_tasks), 0))
    tasks["date_end"] = pd.Series(pd.NaT, index=range(n_tasks), dtype="datetime64[ns, UTC]")
    tasks["create_date"] = stamps(t_created)
    tasks["write_date"] = stamps(np.minimum(t_created + rng.integers(0, 120, n_tasks), 0))
    tasks["state"] = strings(state)

    # invoices: 95 % invoices, 5 % credit notes; 10 % in EUR
    n = n_invoices
    mids = np.arange(1, n + 1)
    is_refund = rng.random(n) < 0.05
    inv_client = rng.choice(client_ids, n)
    inv_date = -rng.integers(0, 1100, n)
    due = inv_date + rng.choice([0, 15, 30, 45], n)
    eur = rng.random(n) < 0.1
    total = np.round(rng.gamma(2.0, 800.0, n), 2)
    pstate = rng.choice(["paid", "not_paid", "partial", "in_payment", "blocked", "reversed"], n,
                        p=[.78, .12, .04, .03, .02, .01]).astype(object)
    recent = due > -120
    pstate = np.where(~recent & np.isin(pstate, ["not_paid", "partial"]) & (rng.random(n) < 0.8), "paid", pstate)
    residual = np.where(pstate == "paid", 0.0, np.where(pstate == "partial", np.round(total * 0.4, 2), total))
    rate = np.where(eur, 1.1, 1.0)
    sign = np.where(is_refund, -1, 1)
    moves = {"id": mids.astype("int64"),
             "name": strings(np.char.add(np.where(is_refund, "RINV/", "INV/"), mids.astype(str)).astype(object)),
             "move_type": strings(np.where(is_refund, "out_refund", "out_invoice").astype(object)),
             "state": strings(np.where(rng.random(n) < 0.02, "draft", "posted").astype(object))}
    client_labels = np.array([name_of[c] for c in inv_client.tolist()], dtype=object)
    m2o(moves, "partner_id", inv_client, client_labels)
    m2o(moves, "commercial_partner_id", inv_client, client_labels)
    m2o(moves, "invoice_user_id", rng.choice(user_ids, n), None, missing=rng.random(n) < 0.2)
    moves["invoice_date"] = days(inv_date)
    moves["invoice_date_due"] = days(due)
    moves["amount_total"] = total
    moves["amount_residual"] = residual
    moves["amount_total_signed"] = np.round(sign * total * rate, 2)
    moves["amount_residual_signed"] = np.round(sign * residual * rate, 2)
    m2o(moves, "currency_id", np.where(eur, 2, 1), np.where(eur, "EUR", "USD").astype(object))
    m2o(moves, "company_id", np.ones(n, int), np.full(n, "YourCompany", dtype=object))
    m2o(moves, "company_currency_id", np.ones(n, int), np.full(n, "USD", dtype=object))
    moves["payment_state"] = strings(pstate)
    moves["invoice_origin"] = strings(np.full(n, None, dtype=object))
    moves["create_date"] = stamps(inv_date)
    moves["write_date"] = stamps(inv_date)
    paid = np.isin(pstate, ["paid", "in_payment"])
    delay = np.where(rng.random(n) < 0.3, rng.integers(1, 60, n), -rng.integers(0, 10, n))
    payments = pd.DataFrame({"move_id": mids[paid].astype("int64"),
                             "paid_date": days(np.minimum(due[paid] + delay[paid], 0)).to_numpy(),
                             "source": strings(np.full(int(paid.sum()), "payment", dtype=object))})

    # optional tables: contacts, open activities, ratings
    n_msg = n_clients * 3
    msg_model = rng.choice(["res.partner", "project.task", "account.move"], n_msg, p=[.5, .3, .2]).astype(object)
    msg_res = np.where(msg_model == "res.partner", rng.choice(pids, n_msg),
                       np.where(msg_model == "project.task", rng.choice(task_ids, n_msg), rng.choice(mids, n_msg)))
    messages = {"id": np.arange(1, n_msg + 1, dtype="int64"), "date": stamps(-rng.integers(0, 400, n_msg)),
                "model": strings(msg_model), "res_id": pd.array(msg_res, dtype="Int64"),
                "message_type": strings(rng.choice(["comment", "email", "notification"], n_msg).astype(object))}
    m2o(messages, "author_id", rng.choice(pids, n_msg), None)
    m2o(messages, "mail_activity_type_id", np.full(n_msg, 2), None, missing=rng.random(n_msg) < 0.9)
    m2o(messages, "subtype_id", np.ones(n_msg, int), None)
    messages["create_date"] = messages["date"]
    messages["write_date"] = messages["date"]
    n_act = n_clients // 5
    activities = {"id": np.arange(1, n_act + 1, dtype="int64"),
                  "res_model": strings(np.full(n_act, "res.partner", dtype=object)),
                  "res_id": pd.array(rng.choice(pids, n_act), dtype="Int64")}
    m2o(activities, "activity_type_id", np.full(n_act, 4), None)
    m2o(activities, "user_id", rng.choice(user_ids, n_act), None)
    activities["date_deadline"] = days(rng.integers(-10, 30, n_act))
    activities["summary"] = strings(np.full(n_act, "planned", dtype=object))
    activities["create_date"] = stamps(np.full(n_act, -5))
    activities["write_date"] = activities["create_date"]
    n_rat = n_clients // 5
    ratings = {"id": np.arange(1, n_rat + 1, dtype="int64"),
               "res_model": strings(np.full(n_rat, "project.task", dtype=object)),
               "res_id": pd.array(rng.choice(task_ids, n_rat), dtype="Int64")}
    m2o(ratings, "partner_id", rng.choice(pids, n_rat), None)
    ratings["rating"] = rng.choice([1.0, 3.0, 5.0], n_rat)
    ratings["rating_text"] = strings(np.full(n_rat, "top", dtype=object))
    ratings["parent_res_model"] = strings(np.full(n_rat, "project.project", dtype=object))
    ratings["parent_res_id"] = pd.array(np.ones(n_rat, int), dtype="Int64")
    ratings["create_date"] = stamps(-rng.integers(0, 500, n_rat))
    ratings["write_date"] = ratings["create_date"]

    tables = {name: pd.DataFrame(cols) for name, cols in (
        ("partners", partners), ("users", users), ("companies", companies), ("projects", projects),
        ("tasks", tasks), ("moves", moves), ("messages", messages), ("activities", activities),
        ("ratings", ratings))}
    tables["payments"] = payments
    meta = {"server_version": "19.0", "server_major": 19, "pulled_at": f"{AS_OF}T06:00:00+00:00",
            "has_payment_state_blocked": True}
    return Snapshot(tables, meta)


def check_dtypes(snapshot: Snapshot) -> None:
    """The generated frames must look like real pulls: compare with to_frame's typing."""
    from clientcare.rules.snapshot_builder import COMMON, TASKS_17
    types = dict(COMMON, tasks=TASKS_17)
    for name, frame in snapshot.tables.items():
        if name not in types:
            continue
        want = to_frame([], types[name]).dtypes
        got = frame.dtypes.reindex(want.index)
        bad = {c: (str(got[c]), str(want[c])) for c in want.index
               if str(got[c]) != str(want[c]) and not (str(want[c]) == "object" and str(got[c]) == "object")}
        assert not bad, f"{name}: dtypes differ from to_frame: {bad}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    t0 = time.perf_counter()
    snap = generate(args.invoices, args.clients, args.tasks)
    check_dtypes(snap)
    gen = time.perf_counter() - t0
    print(f"generated {', '.join(f'{len(v):,} {k}' for k, v in snap.tables.items())} "
          f"in {gen:.1f} s; RSS peak so far {rss_mib():,.0f} MiB")
    registry = load_rules()
    config = {"follow_up": {"fix_projects": list(range(1, 200))}}
    profiler = None
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    for view in ("contacts", "invoices", "clients", "tasks"):  # the connector's derived views
        getattr(snap, view)
    views = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_rules(snap, AS_OF, config, {"default_user_id": 2}, registry=registry)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        import pstats
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    assert not result.errors, result.errors
    for rule, seconds in result.seconds.items():
        print(f"  {rule:16} {seconds:6.2f} s  {result.counts().get(rule, 0):>8,} findings")
    print(f"snapshot views (connector: invoices, clients, tasks): {views:.2f} s, once per snapshot")
    rules_alone = sum(v for k, v in result.seconds.items() if k != "routing")
    print(f"run_rules beyond the rules (set-up, output checks, one table, routing, folding): "
          f"{total - rules_alone:.2f} s, "
          f"of which routing and folding {result.seconds['routing']:.2f} s")
    print(f"all four rules + routing: {total:.2f} s ({cpu:.2f} s CPU) for {len(result.findings):,} findings; "
          f"with the views {views + total:.2f} s (goal < 5 s); peak RSS {rss_mib():,.0f} MiB (goal < 2048 MiB)")
    print(f"load average while running: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
