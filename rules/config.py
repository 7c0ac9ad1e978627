"""Typed rule configuration: a dataclass per rule, validated once, every problem at once.

A rule's ``Config`` is a frozen dataclass subclassing :class:`RuleConfig` whose
fields all have defaults.  :func:`parse_config` turns the TOML table of a profile
(``[profiles.NAME.rules.RULE]``) into an instance: unknown keys and wrong types
are problems, collected with the ones from :meth:`RuleConfig.check`, so a person
fixes the whole file in one go instead of one error per run.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Union, get_args, get_origin, get_type_hints


@dataclass(frozen=True)
class RuleConfig:
    """Base of every rule's config (subclass it with a frozen dataclass).  Its one key is read
    by the write-back for every rule, built-in or not."""

    #: Days after a person marked a finding's activity done before ClientCare raises it again
    #: while the situation lasts (0: never again until it goes away and comes back).
    recheck_after_days: int = dataclasses.field(default=7, kw_only=True)

    def check(self) -> list[str]:
        """Problems spanning several fields (e.g. levels not ascending); empty when valid."""
        return []


def parse_config(cls: type, raw: Mapping[str, Any] | None, where: str) -> tuple[Any, list[str]]:
    """An instance of ``cls`` from ``raw``, plus the list of problems (instance is None if any)."""
    raw = dict(raw or {})
    problems: list[str] = []
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    values = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            problems.append(f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + f"; known keys: {', '.join(names)}")
            continue
        values[key] = _coerce(value, hints[key], f"{where}.{key}", problems)
    if problems:
        return None, problems
    instance = cls(**values)
    recheck = getattr(instance, "recheck_after_days", 0)
    if isinstance(recheck, int) and recheck < 0:
        problems.append(f"{where}.recheck_after_days: must be 0 (never) or more days, not "
                        f"{instance.recheck_after_days}")
    problems += [f"{where}: {p}" for p in instance.check()]
    return (None if problems else instance), problems


def describe_type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(a) for a in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"a list of {describe_type(args[0]) if args else 'values'}"
    if origin is dict:
        k, v = get_args(tp)
        return f"a table of {describe_type(v)}"
    if tp is type(None):
        return "none"
    if dataclasses.is_dataclass(tp):
        return f"a table ({', '.join(f.name for f in dataclasses.fields(tp))})"
    return getattr(tp, "__name__", str(tp))


class _Bad(Exception):
    pass


def _coerce(value: Any, tp: Any, path: str, problems: list[str]) -> Any:
    try:
        return _convert(value, tp, path, problems)
    except _Bad:
        problems.append(f"{path} must be {describe_type(tp)}, not {value!r}")
        return None


def _convert(value: Any, tp: Any, path: str, problems: list[str]) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _convert(value, arg, path, [])
            except _Bad:
                continue
        raise _Bad
    if tp is type(None):
        if value is None:
            return None
        raise _Bad
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise _Bad
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Bad
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _Bad
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed-length tuple
            if len(args) != len(value):
                raise _Bad
            items = [_coerce(v, a, f"{path}[{i}]", problems) for i, (v, a) in enumerate(zip(value, args))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{path}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _Bad
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {_coerce(k, key_tp, f"{path} key", problems): _coerce(v, val_tp, f"{path}.{k}", problems)
                for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _Bad
        instance, sub = parse_config(tp, value, path)
        problems += sub
        return instance
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _Bad


def config_class_problems(cls: Any) -> list[str]:
    """Why ``cls`` cannot be a rule's Config (empty when it can)."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return ["Config must be a dataclass"]
    out = []
    if not issubclass(cls, RuleConfig):
        out.append("Config must subclass clientcare.rules.RuleConfig")
    try:
        hints = get_type_hints(cls)
    except Exception as exc:  # an annotation that does not resolve
        return out + [f"Config annotations do not resolve: {exc}"]
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            out.append(f"Config field {f.name!r} has no default (an empty config must be valid)")
        if f.name not in hints:
            out.append(f"Config field {f.name!r} has no type annotation")
    if not out:
        try:
            instance = cls()
            out += [f"the default Config is invalid: {p}" for p in instance.check()]
        except Exception as exc:
            out.append(f"the default Config cannot be built: {exc}")
    return out

