"""The profile and its rules, resolved once: a typed, frozen Profile with one attribute per key,
and a RuleSet that a ``--rules`` selection narrows without resolving anything again."""
from __future__ import annotations

import dataclasses
import types

import pytest

from clientcare.connector.errors import ConfigError
from clientcare.jobs.config import KEYS, Profile, load_profile
from clientcare.jobs.ruleset import load_with_rules
from clientcare.rules.registry import Registry, builtin_names
from clientcare.rules.spec import RuleSpecError, validate_rule
from clientcare.rules.testing import demo


def config(tmp_path, text: str = "") -> str:
    path = tmp_path / "clientcare.toml"
    own = "rules_enabled = [" + ", ".join(f'"{n}"' for n in builtin_names()) + "]\n"
    path.write_text("[profiles.p]\n" + own + text)
    return str(path)


def test_the_profile_has_one_typed_attribute_per_key_and_hides_its_secrets(tmp_path):
    names = [f.name for f in dataclasses.fields(Profile)]
    assert names[1:1 + len(KEYS)] == list(KEYS)
    profile = load_profile("p", config(tmp_path, 'timeout = 5\n[profiles.p.rules.late_payment]\nlevels = [5]\n'),
                           env={"CLIENTCARE_PASSWORD": "hunter2", "CLIENTCARE_API_KEY": "k-secret-1"},
                           require_connection=False)
    assert profile.timeout == 5.0 and profile.rules_enabled == tuple(builtin_names())
    assert profile.state_path.name == "p.sqlite3" and profile.shown()["state_path"]["value"] is None
    assert "hunter2" not in repr(profile) and "k-secret-1" not in repr(profile)
    assert {k: v["value"] for k, v in profile.shown().items() if KEYS[k][2]} == {"password": "***", "api_key": "***"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.timeout = 1.0
    with pytest.raises(TypeError):
        profile.rules["late_payment"] = {}


def test_only_narrows_the_rule_set_without_configuring_again(tmp_path, monkeypatch):
    calls = []
    configure = Registry.configure
    monkeypatch.setattr(Registry, "configure", lambda self, *a, **k: calls.append(a) or configure(self, *a, **k))
    profile, rules = load_with_rules("p", config(tmp_path, "[profiles.p.rules.follow_up]\nenabled = false\n"),
                                     env={}, require_connection=False)
    assert "follow_up" not in rules.names and set(rules.names) < set(builtin_names())
    late = rules.only(["late_payment", "follow_up"])
    assert late.names == ["late_payment"] and set(late.needs) < set(rules.needs)
    assert late.health_rules == frozenset() and rules.health_rules == {"fit_checklist"}
    snapshot, as_of = demo()
    assert {f.rule for f in late.evaluate(snapshot, as_of).findings} == {"late_payment"}
    assert len(calls) == 1, calls
    with pytest.raises(ConfigError, match="rules.late_paymnt: no such rule .*did you mean 'late_payment'"):
        rules.only(["late_paymnt"])


def test_a_rule_declares_that_it_states_client_health():
    def rule(**attrs):
        return types.SimpleNamespace(name="health_like", version="1", description="x", needs={},
                                     evaluate=lambda ctx: [], **attrs)

    assert validate_rule(rule(states_client_health=True)).states_client_health
    assert not validate_rule(rule()).states_client_health
    with pytest.raises(RuleSpecError, match="states_client_health must be true or false"):
        validate_rule(rule(states_client_health="yes"))
    with pytest.raises(RuleSpecError, match="looks like a misspelling of the optional 'states_client_health'"):
        validate_rule(rule(state_client_health=True))


def test_every_rule_routing_and_script_problem_is_reported_together(tmp_path):
    text = ('[profiles.p.rules.late_payment]\nlevels = "x"\n[profiles.p.routing]\norder = ["nobody"]\n'
            '[profiles.p.scripts.late_payment]\nnope = ["hi"]\n')
    with pytest.raises(ConfigError) as err:
        load_with_rules("p", config(tmp_path, text), env={}, require_connection=False)
    assert [p.split(": ", 2)[1].split(".")[0] for p in err.value.problems] == ["rules", "routing", "scripts"], \
        err.value.problems
