"""What a rule is given for one run: the plugin API's single argument.

The engine builds one :class:`RuleContext` per rule and run; a rule reads
everything it needs from it and nothing from ambient state (no ``snapshot.meta``
keys, no globals), so a rule is a function of its context and can be tested by
building one (:mod:`clientcare.rules.testing`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Generic, Mapping, TypeVar

from clientcare.connector.snapshot import Snapshot

from .config import RuleConfig
from .working_time import WorkingTime

C = TypeVar("C", bound=RuleConfig)


@dataclass(frozen=True)
class BrokenDate:
    """A date a person agreed on a ClientCare activity that passed with the situation unchanged."""

    rule: str
    key: str
    agreed: date


@dataclass(frozen=True)
class RuleContext(Generic[C]):
    """One rule's view of one run.

    - ``snapshot``: the data (tables and derived views; see ``clientcare rules tables``).
    - ``as_of``: the run's day, a calendar date decided once for every rule.  Compute ages
      and deadlines from the data; an action's due date never comes from ``as_of`` (it would
      move every day), see :class:`~clientcare.rules.finding.Action`.
    - ``config``: the rule's ``Config``, parsed and validated from the profile.
    - ``previous``: this rule's findings of the last applied run (``Finding.to_dict()``), empty
      on a first run; for rules that report change.
    - ``unavailable``: tables the server would not give this run -> why (optional tables a
      rule reads are absent from the snapshot then; report what needs them as unknown).
    - ``broken_dates``: per client id, the dates people agreed on ClientCare's activities (a
      deadline they moved) that passed with the situation unchanged, as :class:`BrokenDate`;
      empty without a state store.  Repeated ones are evidence (a client's payment promises,
      staff's promises to the client).
    - ``history``: the client health stored by earlier live runs (``clientcare.jobs.health_history``), a
      DataFrame with one row per client and unchanged stretch (client_id, since, score, band,
      criteria_json), oldest first; None when there is no state store (offline data): nothing
      can be concluded from it then.
    - ``working_time``: everyone's working days and hours (:class:`~clientcare.rules.working_time.WorkingTime`:
      Odoo's calendars, users' time zones, public holidays, the profile's ``[working_time]``);
      ``for_user(id)`` / ``for_company(id)`` give a calendar to count working days and hours on.
    """

    snapshot: Snapshot
    as_of: date
    config: C
    previous: tuple[Mapping[str, Any], ...] = ()
    unavailable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    history: Any = None
    broken_dates: Mapping[int, tuple["BrokenDate", ...]] = field(default_factory=lambda: MappingProxyType({}))
    working_time: WorkingTime = field(default_factory=WorkingTime.weekdays)

    @property
    def first_run(self) -> bool:
        return not self.previous
