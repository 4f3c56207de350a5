"""`when:` conditions, compiled at load time into predicates over one message.

Every key is optional and all keys given must hold; `all`, `any` and `not`
combine nested conditions. Conditions read the message as it arrived (before
any rule's ops), so rule order never changes which rules match.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mimeops.errors import FlowError
from mimeops.flow import who as directory_facts
from mimeops.flow.facts import Facts, Predicate
from mimeops.flow.observed import observe
from mimeops.flow.regex import LinearRegex
from mimeops.mail import DIRECTIONS
from mimeops.mime.addresses import Pattern, checked_domain, domain_of, patterns


@dataclass(frozen=True)
class Verdict:
    """Whether a condition held, and the values it compared, in words (`mimeops explain`)."""

    held: bool
    why: str


class Combinator(ABC):
    """A condition made of conditions (`when`, `all`, `any`, `not`): a predicate that can
    also say which part decided. `explain` runs the very same checks, so what explain
    reports is what `apply` decides."""

    @abstractmethod
    def __call__(self, facts: Facts) -> bool:
        """Whether the condition holds: what `apply` uses."""

    @abstractmethod
    def explain(self, facts: Facts) -> Verdict:
        """The same evaluation, with the values compared."""


class Condition:
    """One `when:` key: the predicate its builder compiled, plus the key and value, so
    `explain` can show what it compared. A builder returning a plain predicate plugs in
    as is; `observed.OBSERVERS` may add the values it looked at."""

    __slots__ = ("key", "test", "value")

    def __init__(self, key: str, value: Any, test: Predicate) -> None:
        self.key, self.value, self.test = key, value, test

    def __call__(self, facts: Facts) -> bool:
        return self.test(facts)

    def explain(self, facts: Facts) -> Verdict:
        return Verdict(self.test(facts), f"{self.key}: {observe(self.key, self.value, facts)}")


class When(Combinator):
    """Every check must hold (a rule's `when`, and `all`); explain stops at the first
    that did not, as evaluation does."""

    def __init__(self, checks: list[Condition | Combinator]) -> None:
        self.checks = checks

    def __call__(self, facts: Facts) -> bool:
        return all(check(facts) for check in self.checks)

    def explain(self, facts: Facts) -> Verdict:
        held: list[str] = []
        for check in self.checks:
            verdict = check.explain(facts)
            if not verdict.held:
                return verdict
            held.append(verdict.why)
        return Verdict(True, "; ".join(held))


class AnyOf(Combinator):
    """At least one nested condition set must hold."""

    def __init__(self, checks: list[When]) -> None:
        self.checks = checks

    def __call__(self, facts: Facts) -> bool:
        return any(check(facts) for check in self.checks)

    def explain(self, facts: Facts) -> Verdict:
        failed: list[str] = []
        for check in self.checks:
            verdict = check.explain(facts)
            if verdict.held:
                return Verdict(True, f"any: {verdict.why}")
            failed.append(verdict.why)
        return Verdict(False, "any: none held (" + " | ".join(failed) + ")")


class Not(Combinator):
    """The nested condition set must not hold."""

    def __init__(self, check: When) -> None:
        self.check = check

    def __call__(self, facts: Facts) -> bool:
        return not self.check(facts)

    def explain(self, facts: Facts) -> Verdict:
        inner = self.check.explain(facts)
        state = "held" if inner.held else "did not hold"
        return Verdict(not inner.held, f"not: ({inner.why}) {state}")


def compile_when(spec: Any, where: str) -> When:
    if not isinstance(spec, dict):
        raise FlowError(f"{where}: expected a mapping of conditions, got {type(spec).__name__}")
    checks: list[Condition | Combinator] = []
    for key, value in spec.items():
        builder = _BUILDERS.get(key)
        if builder is None:
            known = ", ".join(sorted(_BUILDERS))
            raise FlowError(f"{where}: unknown condition {key!r} (known: {known})")
        test = builder(value, f"{where}.{key}")
        checks.append(test if isinstance(test, Combinator) else Condition(key, value, test))
    return When(checks)


def _direction(value: Any, where: str) -> Predicate:
    if value not in DIRECTIONS:
        raise FlowError(f"{where}: expected INBOUND or OUTBOUND, got {value!r}")
    return lambda facts: facts.direction == value


def _scope(value: Any) -> str | None:
    """'internal' / 'external' in any case, else None (a pattern)."""
    if isinstance(value, str) and value.strip().lower() in ("internal", "external"):
        return value.strip().lower()
    return None


def _sender(value: Any, where: str) -> Predicate:
    scope = _scope(value)
    if scope == "internal":
        return lambda facts: facts.sender_internal
    if scope == "external":
        return lambda facts: not facts.sender_internal
    compiled = patterns(value, where)
    # Like `internal`: both the envelope and the From header must match.
    return lambda facts: _any(compiled, facts.mail_from) and _any(compiled, facts.sender)


def _recipient(value: Any, where: str) -> Predicate:
    scope = _scope(value)
    if scope is not None:
        # Envelope recipients: for outbound mail that includes Bcc.
        want_internal = scope == "internal"
        return lambda facts: any(
            (domain_of(r) in facts.internal_domains) == want_internal for r in facts.recipients)
    compiled = patterns(value, where)
    return lambda facts: any(_any(compiled, r) for r in facts.recipients)


def _any(compiled: list[Pattern], address: str) -> bool:
    return any(p.matches(address) for p in compiled)


def _header(value: Any, where: str) -> Predicate:
    if not isinstance(value, dict) or not value:
        raise FlowError(f"{where}: expected a mapping of header name to regular expression")
    # RE2: linear-time on a sender's header whatever the admin's pattern.
    checks = [(str(name).lower(), LinearRegex(regex, f"{where}.{name}"))
              for name, regex in value.items()]

    def check(facts: Facts) -> bool:
        fields = facts.message.root.header
        return all(
            any(regex.search(f.decoded()) for f in fields if f.key == name)
            for name, regex in checks
        )

    return check


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.I)


def _size_over(value: Any, where: str) -> Predicate:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlowError(f"{where}: expected a size in bytes or like '10MB', got {value!r}")
    match = _SIZE.match(str(value))
    if match is None:
        raise FlowError(f"{where}: expected a size in bytes or like '10MB', got {value!r}")
    limit = int(float(match.group(1)) * 1024 ** " kmg".index(match.group(2).lower() or " "))
    return lambda facts: len(facts.message.raw) > limit


def _strings(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise FlowError(f"{where}: expected a string or a list of strings, got {value!r}")
    return [i.strip().lower() for i in items]


def _attachment_extension(value: Any, where: str) -> Predicate:
    # exe, .exe and *.exe mean the same; any other pattern would silently never match.
    given = _strings(value, where)
    suffixes = tuple("." + e.removeprefix("*").lstrip(".") for e in given)
    for text, suffix in zip(given, suffixes, strict=True):
        if len(suffix) < 2 or any(c in suffix for c in "*?[]/\\ "):
            raise FlowError(f"{where}: {text!r} is not a file extension (write exe, .exe or *.exe)")
    return lambda facts: any(name.endswith(suffixes) for name, _ in facts.attachments)


def _attachment_type(value: Any, where: str) -> Predicate:
    types = _strings(value, where)
    exact = {t for t in types if not t.endswith("/*")}
    mains = tuple(t[:-1] for t in types if t.endswith("/*"))
    return lambda facts: any(
        ctype in exact or ctype.startswith(mains) for _, ctype in facts.attachments
    )


def _list(value: Any, where: str) -> list[When]:
    if not isinstance(value, list) or not value:
        raise FlowError(f"{where}: expected a non-empty list of conditions")
    return [compile_when(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _all(value: Any, where: str) -> Predicate:
    return When(list(_list(value, where)))


def _any_of(value: Any, where: str) -> Predicate:
    return AnyOf(_list(value, where))


def _not(value: Any, where: str) -> Predicate:
    return Not(compile_when(value, where))


_BUILDERS: dict[str, Callable[[Any, str], Predicate]] = {
    "direction": _direction,
    "sender": _sender,
    "recipient": _recipient,
    "header": _header,
    "size_over": _size_over,
    "attachment_extension": _attachment_extension,
    "attachment_type": _attachment_type,
    "all": _all,
    "any": _any_of,
    "not": _not,
    **directory_facts.BUILDERS,
}


def internal_domains(value: Any, where: str) -> frozenset[str]:
    items = [] if value is None else value
    if not isinstance(items, list) or not all(isinstance(d, str) and d for d in items):
        raise FlowError(f"{where}: expected a list of domain names")
    for domain in items:
        if "*" in domain or "@" in domain or " " in domain:
            raise FlowError(f"{where}: {domain!r} is not a domain name (list each domain; "
                            "subdomains are not included automatically)")
    return frozenset(checked_domain(d, f"{where}[{i}]") for i, d in enumerate(items))
