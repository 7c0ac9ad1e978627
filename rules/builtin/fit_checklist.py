"""fit_checklist: the ideal-client checklist, per client, with a 0–100 score.

Six criteria, each pass / warn / fail / unknown with the figures behind it:
fits our work (ideal profile), no late changes, reasonable expectations, pays
on time, cooperates, likely satisfied.  "Unknown" means the data to judge is
missing (no profile configured, no projects, ratings not readable...) and
leaves the criterion out of the score instead of counting it as a fail.

Every client gets an informational ``checklist`` finding (no action) whose
``data`` holds its score, band and criteria.  Given the previous run's
findings (``ctx.previous``, kept by the engine for every rule) the rule
also proposes a note on the client when its score band changed, and an
activity for the salesperson when a criterion newly fails or the score falls
under ``attention_below``; that activity stays proposed while the cause lasts.
Without a previous run there is no change to report: only the checklist.
Given the stored history (``ctx.history``), a client whose score fell by
``decline_points`` from its best within ``decline_window_days``, or whose band
dropped, gets a ``decline`` activity for its salesperson, open until it recovers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import compress

import numpy as np
import pandas as pd

from clientcare.connector import facts
from clientcare.rules import i18n, words
from clientcare.rules import ReportChart, Script, frames as F
from clientcare.rules.config import RuleConfig
from clientcare.rules.context import RuleContext
from clientcare.rules.finding import Action, Finding, NotJudged, Resolved, RuleOutput
from clientcare.rules.finding_table import FindingTable, const, object_column
from clientcare.rules.i18n import N_, EvidenceView, Num, _, listing, ngettext, pgettext

name = "fit_checklist"
version = "1.0"
description = "Ideal-client checklist per client: six criteria with evidence and a 0-100 score"
needs = {"partners": [], "projects": [], "tasks": []}
charts = (ReportChart(N_("Fit score by client (0–100)"), level="checklist", value="score", band="band",
                      scale_max=100.0, missing=N_("without a score (too few criteria known)"), noun="clients"),)
states_client_health = True
optional_needs = {"moves": [], "payments": [], "ratings": [], "deadline_changes": [], "deadline_messages": []}
scripts = {"attention": Script((N_("Check in with {client}: {summary}."),
                                N_("Ask how the work together feels on their side, and listen before proposing."),
                                N_("Note what you agree to change in Odoo."))),
           "decline": Script((N_("Call {client}: their fit score fell from {score_before} to {score_now} since "
                                 "{since}."),
                              N_("Ask how the work together feels on their side before naming what changed "
                                 "({summary})."),
                              N_("Agree one concrete step to put it right, with a date, and note it in Odoo.")),
                             {"score_before": "data.decline_from", "score_now": "data.score",
                              "since": "data.decline_since"})}

CRITERIA = ("fits_our_work", "no_late_changes", "reasonable_expectations", "pays_on_time", "cooperates",
            "likely_satisfied")
#: The criteria as people read them.
LABELS = words.CRITERION_WORDS
#: The score bands in words (as the summaries name them).
BANDS = words.BAND_WORDS
#: The dimensions of the ideal profile.
DIMENSIONS = {"industry": N_("industry"), "country": N_("country"), "tags": N_("tags"), "revenue": N_("revenue")}
#: How the evidence reads: its headings and each criterion's status in words.
VIEW = EvidenceView(labels={"criterion": pgettext("evidence column", "criterion"),
                            "status": pgettext("evidence column", "status"),
                            "value": pgettext("evidence column", "value"),
                            "detail": pgettext("evidence column", "detail")},
                    values={"status": words.STATUS_WORDS})
COLUMNS = ["criterion", "status", "value", "detail"]
#: The detail carries figures that move with the date alone (the average delay of invoices
#: still overdue): it does not decide whether an activity is rewritten.
DAILY = ("detail",)


@dataclass(frozen=True)
class Config(RuleConfig):
    #: Weight of each criterion in the score (missing ones weigh 1; 0 leaves one out).
    weights: dict[str, float] = field(default_factory=dict)
    #: Period the criteria look back over.
    window_days: int = 365
    # fits our work: each configured dimension must match (ids or names; tags by id)
    ideal_industries: tuple[int | str, ...] = ()
    ideal_tags: tuple[int, ...] = ()
    ideal_countries: tuple[int | str, ...] = ()
    ideal_min_revenue: float | None = None
    ideal_max_revenue: float | None = None
    # no late changes: tasks added after this share of the project's timeline, or after its end
    late_addition_share: float = 0.8
    late_changes_warn: int = 1
    late_changes_fail: int = 3
    # reasonable expectations: share of projects at risk / off track / late
    expectations_warn_share: float = 0.25
    expectations_fail_share: float = 0.5
    # pays on time
    pays_late_warn_share: float = 0.25
    pays_late_fail_share: float = 0.5
    pays_avg_days_warn: float = 7.0
    pays_avg_days_fail: float = 30.0
    overdue_warn_days: int = 15
    overdue_fail_days: int = 60
    #: Payment dates the client agreed (a payment activity's deadline a person moved) that passed
    #: unpaid within the window: this many fail the criterion (0: not counted).
    broken_payment_dates_fail: int = 2
    # cooperates: tasks waiting on the client for more than waiting_days
    waiting_states: tuple[str, ...] = ("02_changes_requested", "04_waiting_normal")
    waiting_kanban_states: tuple[str, ...] = ("blocked",)
    waiting_stage_names: tuple[str, ...] = ()
    waiting_days: int = 14
    waiting_fail_count: int = 3
    # likely satisfied: average rating (1-5) over the window
    satisfied_warn_below: float = 4.0
    satisfied_fail_below: float = 2.5
    # score bands and the activity threshold; fewer known criteria than this: no score
    min_known_criteria: int = 3
    band_good: float = facts.HEALTH_BAND_FLOORS["good"]
    band_fair: float = facts.HEALTH_BAND_FLOORS["fair"]
    attention_below: float = 50.0
    #: A decline: the score fell by this many points from its best within the window, or the band dropped.
    decline_points: float = 20.0
    decline_window_days: int = 30

    def check(self) -> list[str]:
        out = []
        unknown = sorted(set(self.weights) - set(CRITERIA))
        if unknown:
            out.append(f"weights: unknown criteria {unknown}; criteria: {', '.join(CRITERIA)}")
        if any(w < 0 for w in self.weights.values()):
            out.append("weights must be >= 0")
        if not 0 < self.late_addition_share <= 1:
            out.append("late_addition_share must be in (0, 1]")
        pairs = [("late_changes_warn", "late_changes_fail"), ("expectations_warn_share", "expectations_fail_share"),
                 ("pays_late_warn_share", "pays_late_fail_share"), ("pays_avg_days_warn", "pays_avg_days_fail"),
                 ("overdue_warn_days", "overdue_fail_days"), ("satisfied_fail_below", "satisfied_warn_below"),
                 ("band_fair", "band_good")]
        out += [f"{a} must not exceed {b}" for a, b in pairs if getattr(self, a) > getattr(self, b)]
        if self.window_days < 1:
            out.append("window_days must be >= 1")
        if self.decline_points <= 0 or self.decline_window_days < 1:
            out.append("decline_points must be > 0 and decline_window_days >= 1")
        if not 1 <= self.min_known_criteria <= len(CRITERIA):
            out.append(f"min_known_criteria must be between 1 and {len(CRITERIA)}")
        if (self.ideal_min_revenue is not None and self.ideal_max_revenue is not None
                and self.ideal_min_revenue > self.ideal_max_revenue):
            out.append("ideal_min_revenue must not exceed ideal_max_revenue")
        return out

    def weight(self, criterion: str) -> float:
        return float(self.weights.get(criterion, 1.0))


def evaluate(ctx: RuleContext[Config]) -> RuleOutput:
    snapshot, as_of, config = ctx.snapshot, ctx.as_of, ctx.config
    clients = snapshot.clients[["id", "name"]].rename(columns={"id": "client_id"}).set_index("client_id")
    out = RuleOutput()
    if ctx.first_run:
        out.not_judged += [NotJudged(name, f"{name}:*:{level}", _("no previous run to compare with"))
                           for level in ("attention", "band*")]
    if not len(clients):
        return out
    figures = _Context(snapshot, as_of, config, clients.index, ctx.broken_dates)
    parts = {c: getattr(figures, c)().reindex(clients.index) for c in CRITERIA}
    status = pd.DataFrame({c: parts[c]["status"].fillna("unknown").to_numpy(dtype=object) for c in CRITERIA},
                          index=clients.index)
    score, known, counted = _score(status, config)
    band = facts.health_bands(score, {"good": config.band_good, "fair": config.band_fair})
    # evidence: one row per criterion for every client, built column-wise; an unknown
    # criterion's detail says why it is unknown
    rows = [{"criterion": LABELS[c], "status": status[c], "value": parts[c]["value"],
             "detail": _unknown_said(parts[c]["detail"], status[c], figures.unknown_reason.get(c))}
            for c in CRITERIA]
    evidence = F.stacked_rows(COLUMNS, len(clients), rows)
    found, undecided = _findings(ctx.previous, as_of, config, clients, status, score, band, evidence, known,
                                 counted)
    out.not_judged += [NotJudged(name, f"{name}:res.partner:{cid}:attention",
                                 _("what raised its attention activity is unknown this run")) for cid in undecided]
    declines, undecided = _declines(ctx, clients["name"], status, score, band, parts,
                                    dict(zip(clients.index.tolist(), evidence)))
    out.not_judged += [NotJudged(name, f"{name}:res.partner:{cid}:decline", why) for cid, why in undecided]
    if declines:
        found = FindingTable.concat([found, FindingTable.from_findings(declines)])
        # One activity per client: a decline names what newly fails, so no attention activity repeats
        # it; one already open stays as it is while the decline is open.
        declined = sorted({f.client_id for f in declines})
        found = found.take(~((found.column("level") == "attention") & np.isin(found.column("client_id"), declined)))
        out.not_judged += [NotJudged(name, f"{name}:res.partner:{cid}:attention",
                                     _("its decline activity says what changed")) for cid in declined]
    out.findings = found
    out.resolved += _recovered(ctx, found.keys(), clients.index, status, score, band)
    return out


def _now_is(criterion: str, status: str):
    """A criterion's status now, in a closing text."""
    label = LABELS.get(criterion, criterion)
    if status == "pass":
        return _("'{criterion}' now passes", criterion=label)
    if status == "warn":
        return _("'{criterion}' now warns", criterion=label)
    if status == "fail":
        return _("'{criterion}' now fails", criterion=label)
    return _("'{criterion}' now is unknown", criterion=label) if status == "unknown" else \
        _("'{criterion}' now {status}", criterion=label, status=status)


def _band(band):
    return BANDS.get(band, band)


def _day(text):
    """A stored ISO day as a date (rendered per language); anything else as it is."""
    try:
        return date.fromisoformat(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _recovered(ctx, keys, clients: pd.Index, status: pd.DataFrame, score: pd.Series,
               band: pd.Series) -> list[Resolved]:
    """How last run's attention and decline activities that are gone (``keys``: this run's
    findings') went away: the criteria that raised them and the score now."""
    out = []
    for prev in F.gone_activity_findings(ctx.previous, keys):
        cid, data = prev["subject_id"], prev.get("data") or {}
        if cid not in clients:
            out.append(Resolved(name, prev["key"], _("no longer a client")))
            continue
        sc, bd = score.get(cid), band.get(cid)
        now = (_("fit score {score} ({band})", score=int(sc), band=_band(bd)) if sc == sc and sc is not None
               else _("fit score unknown"))
        if prev.get("level") == "decline":
            how = _("{now}, back within {points} points of {score} (since {since})", now=now,
                    points=Num(ctx.config.decline_points, "g"), score=data.get("decline_from"),
                    since=_day(data.get("decline_since")))
        else:
            again = [_now_is(c, status.at[cid, c]) for c in data.get("attention_criteria") or []
                     if c in status.columns]
            how = _joined(again + [_("{now}, at least {threshold}", now=now,
                                     threshold=Num(ctx.config.attention_below, "g"))
                                   if data.get("attention_low") else now])
        out.append(Resolved(name, prev["key"], how))
    return out


STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _declines(ctx, names, status, score, band, parts, evidence) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Clients whose score fell by ``decline_points`` from its best in the window (the
    stretches begun in it, and the one current at its start) or whose band dropped.  A decline
    raised before keeps its reference until the client recovers; one whose score is now unknown,
    or whose history cannot be read, is not judged (never closed from absence)."""
    cfg = ctx.config
    raised = {f["subject_id"]: f["data"] for f in ctx.previous if f.get("level") == "decline"}
    if ctx.history is None:
        return [], [(cid, _("no stored history to compare with")) for cid in raised]
    h = ctx.history
    cutoff = (ctx.as_of - timedelta(days=cfg.decline_window_days)).isoformat()
    at_start = h.loc[h["since"] < cutoff].groupby("client_id").tail(1).index
    window = h.loc[((h["since"] >= cutoff) | h.index.isin(at_start)) & h["score"].notna()]
    best = window.sort_values(["score", "since"], kind="stable").groupby("client_id").tail(1)
    refs = pd.DataFrame({"decline_from": best["score"].to_numpy(), "decline_band": best["band"].to_numpy(),
                         "decline_since": best["since"].to_numpy(), "decline_criteria": best["criteria_json"].to_numpy()},
                        index=best["client_id"].to_numpy())
    kept = [cid for cid in raised if cid in score.index]  # an open decline keeps its reference
    refs = pd.concat([refs.drop(index=kept, errors="ignore"), pd.DataFrame.from_dict(
        {cid: {k: raised[cid][k] for k in refs.columns} for cid in kept}, orient="index", columns=refs.columns)])
    refs = refs.loc[refs.index.isin(score.index)]
    if not len(refs):
        return [], []
    now, now_band = score.reindex(refs.index), band.reindex(refs.index)
    ranks = pd.Series(facts.HEALTH_RANK)
    dropped = (now_band.map(ranks).fillna(-1) < refs["decline_band"].map(ranks).fillna(-1)).to_numpy()
    declining = (now.notna() & ((refs["decline_from"].astype(float) - now >= cfg.decline_points) | dropped)).to_numpy()
    undecided = [(cid, _("its fit score is unknown this run")) for cid in refs.index[now.isna().to_numpy()]
                 if cid in raised]
    rows = status.index.get_indexer(refs.index[declining])
    states = status[list(CRITERIA)].to_numpy(dtype=object)
    values = {c: parts[c]["value"].to_numpy(dtype=object) for c in CRITERIA}
    out = []
    for cid, row, ref in zip(refs.index[declining].tolist(), rows.tolist(),
                             refs.loc[declining].to_dict("records")):
        was = ref["decline_criteria"]
        was = json.loads(was) if isinstance(was, str) else was
        ref.update(decline_from=int(ref["decline_from"]), decline_criteria=was)
        now_, band_ = int(score.iat[row]), band.iat[row]
        worse = [_("{criterion} now fails ({value})", criterion=LABELS[c], value=values[c][row]) if s == "fail" else
                 _("{criterion} now warns ({value})", criterion=LABELS[c], value=values[c][row])
                 for c, s in zip(CRITERIA, states[row]) if STATUS_RANK.get(s, -1) > STATUS_RANK.get(was.get(c), -1)]
        name_ = names.iat[row]
        who = F.short(name_ if isinstance(name_, str) else f"partner {cid}")
        since = _day(ref["decline_since"])
        # TRANSLATORS: {worse}: the criteria that got worse, each with its value
        text = (_("fit score of {client} fell from {before} to {now} since {since}: {worse}", client=who,
                  before=ref["decline_from"], now=now_, since=since, worse=listing(worse)) if worse else
                _("fit score of {client} fell from {before} to {now} since {since} (band {band_before} -> {band_now})",
                  client=who, before=ref["decline_from"], now=now_, since=since,
                  band_before=_band(ref["decline_band"]), band_now=_band(band_)))
        detected = raised.get(cid, {}).get("decline_detected", ctx.as_of.isoformat())
        data = dict(ref, score=now_, band=band_, decline_detected=detected, criteria=dict(zip(CRITERIA, states[row])))
        out.append(Finding(rule=name, subject_model="res.partner", subject_id=cid, subject_name=name_,
                           client_id=cid, severity="medium", level="decline", summary=text,
                           action=Action("activity", text, "todo", date.fromisoformat(detected)), data=data,
                           evidence=evidence[cid], evidence_columns=COLUMNS, daily=DAILY,
                           resolved_when=_("the score is back within {points} points of {score} and the band is "
                                           "{band} or better", points=Num(cfg.decline_points, "g"),
                                           score=ref["decline_from"], band=_band(ref["decline_band"])), view=VIEW))
    return out, undecided


class _Context:
    """The per-client figures of each criterion (index: client id; status, value, detail)."""

    def __init__(self, snapshot, as_of: date, cfg: Config, clients: pd.Index, broken_dates=None):
        self.s, self.cfg, self.clients = snapshot, cfg, clients
        self.broken_dates = broken_dates or {}
        self.today = F.day(as_of)
        self.since = self.today - pd.Timedelta(days=cfg.window_days)
        self.as_of = as_of
        self.unknown_reason: dict[str, str] = {}

    # -- fits our work ---------------------------------------------------------------------
    def fits_our_work(self) -> pd.DataFrame:
        cfg = self.cfg
        p = self.s.partners.drop_duplicates("id").set_index("id").reindex(self.clients)
        dims: dict[str, tuple[pd.Series, pd.Series]] = {}  # name -> (match or NA, shown value)
        if cfg.ideal_industries:
            dims["industry"] = (_matches(p["industry_id"], p["industry_id_name"], cfg.ideal_industries),
                                p["industry_id_name"])
        if cfg.ideal_countries:
            dims["country"] = (_matches(p["country_id"], p["country_id_name"], cfg.ideal_countries),
                               p["country_id_name"])
        if cfg.ideal_tags:
            tags = p["category_id"].explode()
            tags = tags[tags.notna()]
            hit = tags.isin(cfg.ideal_tags).groupby(level=0).any().reindex(self.clients)
            dims["tags"] = (hit.astype("boolean"), p["category_id"].map(
                lambda ts: ", ".join(map(str, ts)) if isinstance(ts, list) and ts else pd.NA))
        if (cfg.ideal_min_revenue is not None or cfg.ideal_max_revenue is not None) and "moves" in self.s.tables:
            inv = F.invoices(self.s)
            recent = inv.loc[(inv["invoice_date"] > self.since) & (inv["invoice_date"] <= self.today)]
            # per company currency, never added across two: the minimum is reached in one of
            # them, the maximum exceeded in none
            totals = F.per_currency(recent, "client_id", "amount_total_signed")
            amounts = [[a for _, a in totals.get(c, [])] or [0.0] for c in self.clients.tolist()]
            ok = pd.Series(True, index=self.clients)
            if cfg.ideal_min_revenue is not None:
                ok &= pd.Series([max(a) >= cfg.ideal_min_revenue for a in amounts], index=self.clients)
            if cfg.ideal_max_revenue is not None:
                ok &= pd.Series([max(a) <= cfg.ideal_max_revenue for a in amounts], index=self.clients)
            dims["revenue"] = (ok.astype("boolean"), pd.Series(
                [i18n.money_list(totals[c]) if c in totals else "0" for c in self.clients.tolist()],
                index=self.clients, dtype=object))
        if not dims:
            self.unknown_reason["fits_our_work"] = _("no ideal profile configured")
            return _empty(self.clients)
        match = pd.DataFrame({k: v[0] for k, v in dims.items()})
        known = match.notna().sum(axis=1)
        hits = match.fillna(False).astype(bool).sum(axis=1)
        status = pd.Series(np.where(known == 0, "unknown", np.where(hits == known, "pass", np.where(
            hits == 0, "fail", "warn"))), index=self.clients)
        parts = [[_dimension(DIMENSIONS[k], hit, v) for hit, v in zip(m.tolist(), shown.tolist())]
                 for k, (m, shown) in dims.items()]
        detail = [_joined(x) for x in zip(*parts)]
        value = [ngettext("{hits} of {n} dimension(s) match", "{hits} of {n} dimension(s) match", n, hits=h)
                 if n > 0 else None for h, n in zip(hits.tolist(), known.tolist())]
        return _frame(status, value, detail, self.clients)

    # -- no late changes -------------------------------------------------------------------------
    def no_late_changes(self) -> pd.DataFrame:
        cfg = self.cfg
        t = F.tasks(self.s)
        projects = F.projects(self.s).set_index("id")
        t = t.loc[t["project_id"].notna() & t["client_id"].notna()
                  & (t["create_day"] > self.since) & (t["create_day"] <= self.today)]
        start = F.lookup(projects["date_start"], t["project_id"])
        end = F.lookup(projects["end_day"], t["project_id"])
        cutoff = start + (end - start) * cfg.late_addition_share
        late = (t["create_day"] > end) | ((end > start) & (t["create_day"] >= cutoff))
        late_tasks = t.loc[late.fillna(False).astype(bool)]
        counts = pd.DataFrame({"added": late_tasks.groupby("client_id").size()})
        judged = set(projects.loc[projects["end_day"].notna(), "client_id"].dropna().astype(int))
        moves = F.deadline_moves(self.s)
        if moves is not None:
            moved = moves.loc[(moves["day"] > self.since) & (moves["day"] <= self.today) & moves["client_id"].notna()]
            counts = counts.join(moved.groupby("client_id").size().rename("moved"), how="outer")
            has_tasks = F.tasks(self.s)["client_id"].dropna().astype(int)
            judged |= set(has_tasks)
            self.unknown_reason["no_late_changes"] = _("no project with an end date and no task")
        else:
            self.unknown_reason["no_late_changes"] = _("no project with an end date (deadline moves not readable)")
        counts = counts.reindex(self.clients).fillna(0).astype(int)
        if "moved" not in counts:
            counts["moved"] = 0
        total = counts["added"] + counts["moved"]
        known = self.clients.isin(list(judged))
        status = pd.Series(np.where(~known, "unknown", np.where(total >= cfg.late_changes_fail, "fail", np.where(
            total >= cfg.late_changes_warn, "warn", "pass"))), index=self.clients)
        ids = F.grouped_lists(late_tasks, "client_id", "id")
        detail = []
        for cid, added, moved in zip(self.clients.tolist(), counts["added"].tolist(), counts["moved"].tolist()):
            added = (ngettext("{n} task(s) added late {ids}", "{n} task(s) added late {ids}", added,
                              ids=_ids(ids[cid])) if ids.get(cid) else
                     ngettext("{n} task(s) added late", "{n} task(s) added late", added))
            # TRANSLATORS: {added}: "2 task(s) added late (ids 4, 7)"
            detail.append(ngettext("{added}, {n} deadline(s) moved later", "{added}, {n} deadline(s) moved later",
                                   moved, added=added) if moves is not None else
                          ngettext("{added}, {n} deadline(s) moved later (deadline moves not readable)",
                                   "{added}, {n} deadline(s) moved later (deadline moves not readable)",
                                   moved, added=added))
        value = [ngettext("{n} late change(s)", "{n} late change(s)", n) for n in total.tolist()]
        return _frame(status, value, detail, self.clients)

    # -- reasonable expectations ------------------------------------------------------------------
    def reasonable_expectations(self) -> pd.DataFrame:
        cfg = self.cfg
        p = F.projects(self.s)
        p = p.loc[p["active"] & p["client_id"].notna()]
        late = F.late_tasks(self.s, self.as_of)
        late_task_projects = late.loc[late["is_open"], "project_id"].dropna()
        status_col = p["last_update_status"] if "last_update_status" in p else pd.Series(pd.NA, index=p.index)
        problem = (status_col.isin(facts.PROJECT_TROUBLE_STATUSES).fillna(False).astype(bool)
                   | ((p["end_day"] < self.today) & ~p["is_done"]).fillna(False).astype(bool)
                   | p["id"].isin(late_task_projects))
        p = p.assign(problem=problem.astype(int))
        stats = p.groupby("client_id").agg(n=("id", "size"), bad=("problem", "sum")).reindex(self.clients)
        share = stats["bad"] / stats["n"]
        known = stats["n"].notna()
        status = pd.Series(np.where(~known, "unknown", np.where(
            share >= cfg.expectations_fail_share, "fail", np.where(share >= cfg.expectations_warn_share,
                                                                   "warn", "pass"))), index=self.clients)
        names = F.grouped_lists(p.loc[p["problem"] == 1], "client_id", "name")
        self.unknown_reason["reasonable_expectations"] = _("no projects")
        detail, value = [], []
        for cid, bad, n, pct in zip(self.clients.tolist(), _ints(stats["bad"]), _ints(stats["n"]),
                                    _ints(share * 100)):
            if n is None:
                detail.append(None)
                value.append(None)
                continue
            # TRANSLATORS: {projects}: names of the projects in trouble
            detail.append(ngettext("{bad} of {n} project(s) at risk, off track or late ({projects})",
                                   "{bad} of {n} project(s) at risk, off track or late ({projects})", n,
                                   bad=bad, projects=", ".join(names[cid][:5])) if names.get(cid) else
                          ngettext("{bad} of {n} project(s) at risk, off track or late",
                                   "{bad} of {n} project(s) at risk, off track or late", n, bad=bad))
            value.append(_("{percent} % of projects in trouble", percent=pct))
        return _frame(status, value, detail, self.clients)

    # -- pays on time ---------------------------------------------------------------------------------
    def pays_on_time(self) -> pd.DataFrame:
        """Invoices paid in the window, and every invoice overdue now counted as late with its
        delay so far: paying an overdue invoice, however late, never lowers the score."""
        cfg = self.cfg
        if "moves" not in self.s.tables:
            self.unknown_reason["pays_on_time"] = _("invoices not readable")
            return _empty(self.clients)
        paid = F.settled_invoices(self.s)
        paid = paid.loc[(paid["paid_date"] > self.since) & (paid["paid_date"] <= self.today)]
        over = F.overdue_invoices(self.s, self.as_of)
        both = pd.concat([
            pd.DataFrame({"client_id": paid["client_id"].to_numpy(), "paid": 1,
                          "late": (paid["days_late"] > 0).to_numpy(dtype="int64"),
                          "delay": paid["days_late"].clip(lower=0).to_numpy()}),
            pd.DataFrame({"client_id": over["client_id"].to_numpy(), "paid": 0, "late": 1,
                          "delay": over["days_overdue"].to_numpy(dtype="float64")})], ignore_index=True)
        hist = both.groupby("client_id").agg(n=("late", "size"), n_paid=("paid", "sum"), n_late=("late", "sum"),
                                             avg=("delay", "mean"))
        now = over.groupby("client_id").agg(worst=("days_overdue", "max"), oldest=("due", "min"))
        owed = F.per_currency(over, "client_id", "amount_company")
        stats = hist.join(now, how="left").reindex(self.clients)
        share = stats["n_late"] / stats["n"]
        worst = stats["worst"].fillna(0)
        known = stats["n"].notna()
        fail = (share >= cfg.pays_late_fail_share) | (stats["avg"] >= cfg.pays_avg_days_fail) | (
            worst >= cfg.overdue_fail_days)
        warn = (share >= cfg.pays_late_warn_share) | (stats["avg"] >= cfg.pays_avg_days_warn) | (
            worst >= cfg.overdue_warn_days)
        promised = self._broken_payment_dates()
        if cfg.broken_payment_dates_fail:
            fail = fail.fillna(False) | (promised >= cfg.broken_payment_dates_fail)
        status = pd.Series(np.where(~known, "unknown", np.where(fail.fillna(False), "fail", np.where(
            warn.fillna(False), "warn", "pass"))), index=self.clients)
        self.unknown_reason["pays_on_time"] = _("no invoice paid in {days} days and none overdue",
                                                 days=cfg.window_days)
        detail, value = [], []
        for cid, n, n_paid, n_over, n_late, avg, oldest, pct, broken in zip(
                self.clients.tolist(), _ints(stats["n"]), _ints(stats["n_paid"]), _ints(stats["n"] - stats["n_paid"]),
                _ints(stats["n_late"]), _ints(stats["avg"]), stats["oldest"].tolist(), _ints(share * 100),
                promised.tolist()):
            if n is None:
                detail.append(None)
                value.append(None)
                continue
            # TRANSLATORS: invoices paid in the window, invoices overdue now; {late} of {n} (both) late
            text = ngettext("{paid} invoice(s) paid in {days} days, {overdue} overdue now; {late} of {n} late, "
                            "{avg_days} days late on average",
                            "{paid} invoice(s) paid in {days} days, {overdue} overdue now; {late} of {n} late, "
                            "{avg_days} days late on average", n, paid=n_paid, days=cfg.window_days,
                            overdue=n_over, late=n_late, avg_days=avg)
            if not pd.isna(oldest):
                # TRANSLATORS: {amounts}: overdue now, per currency; {date}: the oldest due date
                text = _("{text}; {amounts} overdue, the oldest due {date}", text=text,
                         amounts=i18n.money_list(owed.get(cid, [])), date=oldest.date())
            if broken > 0:
                text = ngettext("{text}; {n} agreed payment date(s) passed unpaid",
                                "{text}; {n} agreed payment date(s) passed unpaid", broken, text=text)
            detail.append(text)
            value.append(_("{percent} % of invoices paid late or overdue", percent=pct))
        return _frame(status, value, detail, self.clients)

    def _broken_payment_dates(self) -> pd.Series:
        """Per client, the payment dates agreed on late-payment activities that passed unpaid in
        the window (``ctx.broken_dates``)."""
        since = self.since.date()
        counts = {c: sum(1 for b in dates if b.rule == "late_payment" and b.agreed > since)
                  for c, dates in self.broken_dates.items()}
        return pd.Series(counts, dtype="int64").reindex(self.clients, fill_value=0)

    # -- cooperates ---------------------------------------------------------------------------------
    def cooperates(self) -> pd.DataFrame:
        cfg = self.cfg
        t = F.tasks(self.s)
        t = t.loc[t["is_open"] & t["client_id"].notna()]
        waiting = pd.Series(False, index=t.index)
        if "state" in t:
            waiting |= t["state"].isin(cfg.waiting_states).fillna(False).astype(bool)
        elif "kanban_state" in t:
            waiting |= t["kanban_state"].isin(cfg.waiting_kanban_states).fillna(False).astype(bool)
        if cfg.waiting_stage_names:
            waiting |= t["stage_id_name"].str.lower().isin([s.lower() for s in cfg.waiting_stage_names]
                                                          ).fillna(False).astype(bool)
        long = waiting & (F.days_since(self.today, t["write_day"]) > cfg.waiting_days)
        stuck = t.loc[long]
        n_open = t.groupby("client_id").size().reindex(self.clients)
        n_stuck = stuck.groupby("client_id").size().reindex(self.clients).fillna(0).astype(int)
        known = n_open.notna()
        status = pd.Series(np.where(~known, "unknown", np.where(n_stuck >= cfg.waiting_fail_count, "fail", np.where(
            n_stuck > 0, "warn", "pass"))), index=self.clients)
        ids = F.grouped_lists(stuck, "client_id", "id")
        self.unknown_reason["cooperates"] = _("no open tasks")
        detail, value = [], []
        for cid, stuck_n, open_n in zip(self.clients.tolist(), n_stuck.tolist(), _ints(n_open)):
            if open_n is None:
                detail.append(None)
                value.append(None)
                continue
            detail.append(ngettext("{stuck} of {n} open task(s) waiting on the client for more than {days} days {ids}",
                                   "{stuck} of {n} open task(s) waiting on the client for more than {days} days {ids}",
                                   open_n, stuck=int(stuck_n), days=cfg.waiting_days, ids=_ids(ids[cid]))
                          if ids.get(cid) else
                          ngettext("{stuck} of {n} open task(s) waiting on the client for more than {days} days",
                                   "{stuck} of {n} open task(s) waiting on the client for more than {days} days",
                                   open_n, stuck=int(stuck_n), days=cfg.waiting_days))
            value.append(ngettext("{n} task(s) waiting on the client", "{n} task(s) waiting on the client",
                                  int(stuck_n)))
        return _frame(status, value, detail, self.clients)

    # -- likely satisfied --------------------------------------------------------------------------
    def likely_satisfied(self) -> pd.DataFrame:
        cfg = self.cfg
        r = F.ratings(self.s)
        if r is None:
            self.unknown_reason["likely_satisfied"] = _("ratings not readable")
            return _empty(self.clients)
        self.unknown_reason["likely_satisfied"] = _("no rating in {days} days", days=cfg.window_days)
        r = r.loc[(r["day"] > self.since) & (r["day"] <= self.today) & r["client_id"].notna()]
        stats = r.groupby("client_id").agg(n=("rating", "size"), avg=("rating", "mean")).reindex(self.clients)
        known = stats["n"].notna()
        status = pd.Series(np.where(~known, "unknown", np.where(
            stats["avg"] < cfg.satisfied_fail_below, "fail", np.where(stats["avg"] < cfg.satisfied_warn_below,
                                                                       "warn", "pass"))), index=self.clients)
        r = r.sort_values(["client_id", "day", "rating_id"])
        ids = F.grouped_lists(r, "client_id", "rating_id")
        scores = F.grouped_lists(r.assign(score=r["rating"].round(0).astype("int64")), "client_id", "score")
        detail, value = [], []
        for cid, n, avg in zip(self.clients.tolist(), _ints(stats["n"]), stats["avg"].round(1).tolist()):
            if n is None:
                detail.append(None)
                value.append(None)
                continue
            # TRANSLATORS: {scores}: the ratings (1-5) given; {ids}: "(rating record ids 3, 8)"
            detail.append(ngettext("{n} rating(s) in {days} days: scores {scores} {ids}",
                                   "{n} rating(s) in {days} days: scores {scores} {ids}", n,
                                   days=cfg.window_days, scores=", ".join(map(str, scores[cid][:10])),
                                   ids=_ids(ids[cid], ratings=True)))
            value.append(_("average {rating} of 5", rating=Num(avg, ".1f")))
        return _frame(status, value, detail, self.clients)


def _score(status: pd.DataFrame, cfg: Config) -> tuple[pd.Series, np.ndarray, int]:
    """The 0-100 score over the known criteria, the number known per client, and the number
    that count (weight > 0).  Under ``min_known_criteria`` known there is no score: a score
    resting on one criterion would read like a verdict on the client."""
    st = status[list(CRITERIA)].to_numpy(dtype=object)
    points = np.select([st == "pass", st == "warn", st == "fail"], [1.0, 0.5, 0.0], np.nan)
    weights = np.array([cfg.weight(c) for c in CRITERIA])
    known = (~np.isnan(points) & (weights > 0)).sum(axis=1)
    known_w = (~np.isnan(points) * weights).sum(axis=1)
    got = (np.nan_to_num(points) * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where((known_w > 0) & (known >= cfg.min_known_criteria), 100 * got / known_w, np.nan)
    # 62.5 -> 63, as people round
    return pd.Series(np.floor(score + 0.5), index=status.index), known, int((weights > 0).sum())


def _findings(previous, as_of, cfg, clients, status, score, band, evidence, known, counted
              ) -> tuple[FindingTable, list[int]]:
    """Every client's checklist, then the band changes, then the attention activities, as one
    table built column by column (``evidence``: each client's rows, in the order of ``clients``)."""
    prev = _previous(previous, clients.index)
    cols = list(CRITERIA)
    states = status[cols].to_numpy(dtype=object)
    fail_now = states == "fail"
    had = prev["known"]
    prev_fail = prev["states"] == "fail"
    newly = fail_now & ~prev_fail & had[:, None]
    prev_triggers = prev["triggers"]
    still = fail_now & prev_fail & prev["attention_on"][:, None] & prev_triggers
    triggers = newly | still
    # "falls under": the score crossed the threshold since the last run, or crossed it earlier
    # and the activity that raised is still open (the score has not recovered)
    score_now = score.to_numpy(dtype="float64")
    under = score_now < cfg.attention_below
    low = under & had & ((prev["score"] >= cfg.attention_below) | prev["attention_low"])
    attention = low | triggers.any(axis=1)
    # an open attention activity whose cause is now unknown is not resolved: not judged
    unknown_cause = (prev_triggers & (states == "unknown")).any(axis=1) | (prev["attention_low"] & np.isnan(score_now))
    undecided = clients.index[prev["attention_on"] & ~attention & unknown_cause].tolist()
    ids = clients.index.tolist()
    names = [n if isinstance(n, str) else f"partner {c}" for c, n in zip(ids, clients["name"].tolist())]
    scores = [None if s != s else int(s) for s in score_now.tolist()]
    bands = band.tolist()
    heads = [ngettext("{client}: fit score {score}, {band}, {known} of {n} criteria known",
                      "{client}: fit score {score}, {band}, {known} of {n} criteria known", counted,
                      client=F.short(n), score=s, band=_band(b), known=k) if s is not None else
             ngettext("{client}: fit score unknown, {known} of {n} criteria known (needs {needed})",
                      "{client}: fit score unknown, {known} of {n} criteria known (needs {needed})", counted,
                      client=F.short(n), known=k, needed=cfg.min_known_criteria)
             for n, s, b, k in zip(names, scores, bands, known.tolist())]
    labels = [LABELS[c] for c in cols]
    summaries = [_("{head}; fails: {criteria}", head=head, criteria=listing(compress(labels, row))) if any(row)
                 else head for head, row in zip(heads, fail_now.tolist())]
    pscores = [None if p != p else int(p) for p in prev["score"].tolist()]
    today = as_of.isoformat()
    since = np.where(attention & had & (prev["attention_since"] != None), prev["attention_since"], today)  # noqa: E711
    pbands = prev["band"].tolist()
    datas = [{"score": sc, "band": bd, "known_criteria": k, "criteria_counted": counted,
              "criteria": dict(zip(cols, st))} for sc, bd, k, st in zip(scores, bands, known.tolist(), states.tolist())]
    for i in np.flatnonzero(had).tolist():  # a previous run knew this client
        sc, ps = scores[i], pscores[i]
        datas[i].update(previous_score=ps, previous_band=pbands[i],
                        score_change=None if sc is None or ps is None else sc - ps)
    for i, trig, lw, snc in zip(np.flatnonzero(attention).tolist(), triggers[attention].tolist(),
                                low[attention].tolist(), since[attention].tolist()):
        datas[i].update(attention=True, attention_criteria=list(compress(cols, trig)), attention_low=lw,
                        attention_since=snc)
    ids_, names_, datas_ = np.array(ids, dtype="int64"), object_column(names), object_column(datas)
    evidence_ = object_column(evidence)
    shared = dict(rule=const(name), subject_model=const("res.partner"), evidence_columns=const(COLUMNS),
                  daily=const(DAILY), view=const(VIEW))
    parts = [FindingTable(len(ids), **shared, subject_id=ids_, subject_name=names_, client_id=ids_,
                          severity=const("info"), level=const("checklist"), summary=object_column(summaries),
                          data=datas_, evidence=evidence_)]
    changed = np.flatnonzero(had & (prev["band"] != band.to_numpy(dtype=object)))
    if len(changed):
        worst_band = facts.HEALTH_BANDS[-1]  # a fall into it is worth more attention
        texts = object_column(_("{head}; was {score} ({band})", head=heads[i],
                           score=pgettext("fit score", "unknown") if pscores[i] is None else pscores[i],
                           band=_band(pbands[i])) for i in changed.tolist())
        parts.append(FindingTable(
            len(changed), **shared, subject_id=ids_[changed], subject_name=names_[changed], client_id=ids_[changed],
            severity=object_column("medium" if bands[i] == worst_band else "low" for i in changed.tolist()),
            level=const("band"), period=const(today), summary=texts, action_kind=const("note"), action_summary=texts,
            data=datas_[changed], evidence=evidence_[changed],
            resolved_when=const(_("informational: posted once per band change"))))
    raised = np.flatnonzero(attention)
    if len(raised):
        threshold = Num(cfg.attention_below, "g")
        texts = []
        for i in raised.tolist():
            trig = datas[i]["attention_criteria"]
            why = []
            if trig:
                quoted = listing([_("'{criterion}'", criterion=LABELS[c]) for c in trig])
                # TRANSLATORS: {criteria}: the criteria's names, each in quotes
                why.append(ngettext("{criteria} now fails", "{criteria} now fail", len(trig), criteria=quoted))
            if low[i]:
                why.append(_("score fell under {threshold}", threshold=threshold))
            # TRANSLATORS: the fit score of a client that has none (too few criteria known)
            shown = scores[i] if scores[i] is not None else pgettext("no fit score", "None")
            texts.append(_("check in with {client}: {why} (fit score {score}, {band})", client=F.short(names[i]),
                           why=_joined(why), score=shown, band=_band(bands[i])))
        texts = object_column(texts)
        parts.append(FindingTable(
            len(raised), **shared, subject_id=ids_[raised], subject_name=names_[raised], client_id=ids_[raised],
            severity=const("medium"), level=const("attention"), summary=texts, action_kind=const("activity"),
            action_summary=texts, activity_type=const("todo"),
            due_date=object_column(date.fromisoformat(d) for d in since[raised].tolist()),
            data=datas_[raised], evidence=evidence_[raised],
            resolved_when=const(_("the criteria that triggered it pass again and the score is at least {threshold}",
                                  threshold=threshold))))
    return FindingTable.concat(parts), undecided


def _previous(previous, clients: pd.Index) -> dict[str, np.ndarray]:
    """Last run's checklist per client, as arrays in the order of ``clients`` (nothing known where
    there was none): its criteria's states, score, band, and the attention activity it raised with
    the criteria that triggered it (they keep it open while they fail)."""
    n, k = len(clients), len(CRITERIA)
    out = {"known": np.zeros(n, dtype=bool), "states": np.full((n, k), None, dtype=object),
           "score": np.full(n, np.nan), "band": np.full(n, None, dtype=object),
           "attention_on": np.zeros(n, dtype=bool), "attention_low": np.zeros(n, dtype=bool),
           "attention_since": np.full(n, None, dtype=object), "triggers": np.zeros((n, k), dtype=bool)}
    rows = [f for f in previous if f.get("level") == "checklist"]
    if not rows:
        return out
    ids = pd.Index([r["subject_id"] for r in rows])
    kept = np.flatnonzero(~ids.duplicated())  # the first of a client's
    where = clients.get_indexer(ids[kept])
    kept, where = kept[where >= 0], where[where >= 0]
    datas = [rows[i]["data"] for i in kept.tolist()]
    crits = [d.get("criteria", {}) for d in datas]
    out["states"][where] = np.array([[c.get(name) for name in CRITERIA] for c in crits], dtype=object).reshape(-1, k)
    out["score"][where] = pd.to_numeric(pd.Series([d.get("score") for d in datas], dtype=object), errors="coerce")
    bands = np.array([d.get("band") for d in datas], dtype=object)
    out["band"][where] = bands
    out["known"][where] = pd.notna(bands)
    out["attention_on"][where] = [bool(d.get("attention")) for d in datas]
    out["attention_low"][where] = [bool(d.get("attention_low")) for d in datas]
    since = np.array([d.get("attention_since") for d in datas], dtype=object)
    since[pd.isna(since)] = None
    out["attention_since"][where] = since
    if out["attention_on"].any():
        lists = [d.get("attention_criteria") or [] for d in datas]
        out["triggers"][where] = np.array([[isinstance(t, list) and c in t for c in CRITERIA] for t in lists],
                                          dtype=bool).reshape(-1, k)
    return out


# -- helpers ---------------------------------------------------------------------------------------


def _unknown_said(detail: pd.Series, status: pd.Series, reason):
    """The detail column with why it is unknown where the criterion is (an object column: pandas
    would make plain strings of the messages)."""
    out = detail.to_numpy(dtype=object).copy()
    out[(status == "unknown").to_numpy()] = reason if reason is not None else _("no data to judge")
    return pd.Series(out, index=detail.index, dtype=object)


def _dimension(dimension, hit, value):
    """One dimension of the ideal profile: whether the client matches it, with its value."""
    if hit is None or hit is pd.NA:
        return _("{dimension} unknown", dimension=dimension)
    value = "?" if value is None or value is pd.NA or value != value else value
    if hit:
        # TRANSLATORS: {dimension}: industry, country, tags or revenue; ✓: the client matches
        return _("{dimension} {value} ✓", dimension=dimension, value=value)
    return _("{dimension} {value} ✗", dimension=dimension, value=value)


def _joined(parts):
    """Parts of one text in one message, in order, separated by "; " (none: None)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    text = parts[0]
    for part in parts[1:]:
        # TRANSLATORS: two facts of one text, one after the other
        text = _("{first}; {then}", first=text, then=part)
    return text


def _ints(values) -> list:
    """Counts (or figures shown whole) as ints, rounded as ``round`` does (NA: None)."""
    arr = pd.Series(values).to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(arr)
    out = np.round(np.where(missing, 0.0, arr)).astype(np.int64).astype(object)
    out[missing] = None
    return out.tolist()


def _matches(ids: pd.Series, names: pd.Series, wanted: tuple) -> pd.Series:
    want_ids = [w for w in wanted if isinstance(w, int)]
    want_names = [w.lower() for w in wanted if isinstance(w, str)]
    hit = ids.isin(want_ids).fillna(False).astype(bool) | names.str.lower().isin(want_names).fillna(False).astype(bool)
    return hit.astype("boolean").where(ids.notna())


def _frame(status, value, detail, clients) -> pd.DataFrame:
    """One criterion's per-client status, value and detail; both are NA where the status is
    unknown (the evidence then shows why)."""
    unknown = (status == "unknown").to_numpy()
    value, detail = np.array(value, dtype=object), np.array(detail, dtype=object)
    value[unknown] = None
    detail[unknown] = None
    return pd.DataFrame({"status": status.to_numpy(), "value": pd.Series(value, index=clients, dtype=object),
                         "detail": pd.Series(detail, index=clients, dtype=object)}, index=clients)


def _empty(clients: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({"status": "unknown", "value": None, "detail": None}, index=clients)


def _ids(ids, ratings: bool = False):
    """The first record ids, in brackets ("(ids 3, 8, +2 more)")."""
    shown = ", ".join(map(str, ids[:10]))
    more = len(ids) - 10
    if ratings:
        return (_("(rating record ids {ids}, +{more} more)", ids=shown, more=more) if more > 0
                else _("(rating record ids {ids})", ids=shown))
    return _("(ids {ids}, +{more} more)", ids=shown, more=more) if more > 0 else _("(ids {ids})", ids=shown)
