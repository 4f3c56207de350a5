"""`when:` conditions, compiled at load time into condition objects.

Every key is optional and all keys given must hold; `all`, `any` and `not` combine
nested conditions. Conditions read the message as it arrived (before any rule's ops),
so rule order never changes which rules match.

The built-in conditions are condition objects (`matches(mail, context)`, the
`mimeops.Condition` protocol) on the public API, exactly like a plugin's: they read
`Mail` (headers, size, attachments) and `Context` (direction, sender, recipients,
internal domains, directory answers) and nothing else. A plugin's are looked up by name
in the same registry (`mimeops.flow.registry`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mimeops.errors import FlowError
from mimeops.flow import who
from mimeops.flow.observed import observe
from mimeops.flow.regex import LinearRegex
from mimeops.flow.registry import Registry
from mimeops.mail import DIRECTIONS, Context, Mail, needs_directory
from mimeops.mime.addresses import Pattern, checked_domain, patterns
from mimeops.ops.base import Builder


@dataclass(frozen=True)
class Verdict:
    """Whether a condition held, and the values it compared, in words (`mimeops explain`)."""

    held: bool
    why: str


class Test(ABC):
    """A compiled part of a `when`: one condition, or conditions combined. `explain` runs
    the very same checks as `matches`, so what explain reports is what `apply` decides."""

    @abstractmethod
    def matches(self, mail: Mail, context: Context) -> bool:
        """Whether it holds: what `apply` uses."""

    @abstractmethod
    def explain(self, mail: Mail, context: Context) -> Verdict:
        """The same evaluation, with the values compared."""

    @property
    @abstractmethod
    def needs_directory(self) -> bool:
        """Whether answering asks the organization's directory."""


class Check(Test):
    """One `when:` key: the condition object made for it (built-in or plugin), plus the
    key and configured value, so `explain` can show what it compared
    (`observed.OBSERVERS`; else the key and value)."""

    __slots__ = ("condition", "key", "value")

    def __init__(self, key: str, value: Any, condition: Any) -> None:
        self.key, self.value, self.condition = key, value, condition

    def matches(self, mail: Mail, context: Context) -> bool:
        return bool(self.condition.matches(mail, context))

    def explain(self, mail: Mail, context: Context) -> Verdict:
        held = self.matches(mail, context)
        return Verdict(held, f"{self.key}: {observe(self.key, self.value, mail, context)}")

    @property
    def needs_directory(self) -> bool:
        return needs_directory(self.condition)


class When(Test):
    """Every check must hold (a rule's `when`, and `all`); explain stops at the first
    that did not, as evaluation does."""

    def __init__(self, checks: list[Test]) -> None:
        self.checks = checks

    def matches(self, mail: Mail, context: Context) -> bool:
        return all(check.matches(mail, context) for check in self.checks)

    def explain(self, mail: Mail, context: Context) -> Verdict:
        held: list[str] = []
        for check in self.checks:
            verdict = check.explain(mail, context)
            if not verdict.held:
                return verdict
            held.append(verdict.why)
        return Verdict(True, "; ".join(held))

    @property
    def needs_directory(self) -> bool:
        return any(check.needs_directory for check in self.checks)


class AnyOf(When):
    """At least one nested condition set must hold."""

    def matches(self, mail: Mail, context: Context) -> bool:
        return any(check.matches(mail, context) for check in self.checks)

    def explain(self, mail: Mail, context: Context) -> Verdict:
        failed: list[str] = []
        for check in self.checks:
            verdict = check.explain(mail, context)
            if verdict.held:
                return Verdict(True, f"any: {verdict.why}")
            failed.append(verdict.why)
        return Verdict(False, "any: none held (" + " | ".join(failed) + ")")


class Not(When):
    """The nested condition set must not hold."""

    def matches(self, mail: Mail, context: Context) -> bool:
        return not self.checks[0].matches(mail, context)

    def explain(self, mail: Mail, context: Context) -> Verdict:
        inner = self.checks[0].explain(mail, context)
        state = "held" if inner.held else "did not hold"
        return Verdict(not inner.held, f"not: ({inner.why}) {state}")


# -- the built-in conditions --------------------------------------------------------


class Direction:
    """`direction: INBOUND | OUTBOUND`."""

    def __init__(self, direction: str) -> None:
        self.direction = direction

    def matches(self, mail: Mail, context: Context) -> bool:
        return context.direction == self.direction


class Scope:
    """`sender: internal | external` (internal only when the envelope sender AND From
    are in internal_domains)."""

    def __init__(self, internal: bool) -> None:
        self.internal = internal

    def matches(self, mail: Mail, context: Context) -> bool:
        return context.sender_internal == self.internal


class SenderMatches:
    """`sender: PATTERNS`: both the envelope sender and the From address match (like
    `internal`, so a forged From alone never passes)."""

    def __init__(self, compiled: list[Pattern]) -> None:
        self.compiled = compiled

    def matches(self, mail: Mail, context: Context) -> bool:
        return _any(self.compiled, context.mail_from) and _any(self.compiled, context.sender)


class RecipientScope:
    """`recipient: internal | external`: some envelope recipient (Bcc included) is."""

    def __init__(self, internal: bool) -> None:
        self.internal = internal

    def matches(self, mail: Mail, context: Context) -> bool:
        return any(context.is_internal(r) == self.internal for r in context.recipients)


class RecipientMatches:
    """`recipient: PATTERNS`: some envelope recipient matches."""

    def __init__(self, compiled: list[Pattern]) -> None:
        self.compiled = compiled

    def matches(self, mail: Mail, context: Context) -> bool:
        return any(_any(self.compiled, r) for r in context.recipients)


class HeaderMatches:
    """`header: {Name: REGEX, ...}`: each named field has a value the expression finds
    (RE2: linear-time on a sender's header whatever the admin's pattern)."""

    def __init__(self, checks: list[tuple[str, LinearRegex]]) -> None:
        self.checks = checks

    def matches(self, mail: Mail, context: Context) -> bool:
        headers = mail.headers
        return all(any(regex.search(value) for value in headers.get_all(name))
                   for name, regex in self.checks)


class SizeOver:
    """`size_over: BYTES | "10MB"`: the message as received is larger."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def matches(self, mail: Mail, context: Context) -> bool:
        return mail.size > self.limit


class AttachmentExtension:
    """`attachment_extension: [exe, js]`: an attachment's name ends so (attached
    messages' attachments included; trailing dots and spaces dropped, as Windows does)."""

    def __init__(self, suffixes: tuple[str, ...]) -> None:
        self.suffixes = suffixes

    def matches(self, mail: Mail, context: Context) -> bool:
        return any(name.endswith(self.suffixes) for name, _ in attachments(mail))


class AttachmentType:
    """`attachment_type: [application/zip, image/*]`."""

    def __init__(self, exact: set[str], mains: tuple[str, ...]) -> None:
        self.exact, self.mains = exact, mains

    def matches(self, mail: Mail, context: Context) -> bool:
        return any(ctype in self.exact or ctype.startswith(self.mains)
                   for _, ctype in attachments(mail))


def attachments(mail: Mail) -> list[tuple[str, str]]:
    """(file name as Windows reads it, lower-cased; content type) of every attachment."""
    return [((a.filename or "").rstrip(". ").lower(), a.content_type)
            for a in mail.attachments]


def _any(compiled: list[Pattern], address: str) -> bool:
    return any(p.matches(address) for p in compiled)


def _direction(value: Any, where: str) -> Direction:
    if value not in DIRECTIONS:
        raise FlowError(f"{where}: expected INBOUND or OUTBOUND, got {value!r}")
    return Direction(value)


def _scope(value: Any) -> str | None:
    """'internal' / 'external' in any case, else None (a pattern)."""
    if isinstance(value, str) and value.strip().lower() in ("internal", "external"):
        return value.strip().lower()
    return None


def _sender(value: Any, where: str) -> object:
    scope = _scope(value)
    if scope is not None:
        return Scope(scope == "internal")
    return SenderMatches(patterns(value, where))


def _recipient(value: Any, where: str) -> object:
    scope = _scope(value)
    if scope is not None:
        return RecipientScope(scope == "internal")
    return RecipientMatches(patterns(value, where))


def _header(value: Any, where: str) -> HeaderMatches:
    if not isinstance(value, dict) or not value:
        raise FlowError(f"{where}: expected a mapping of header name to regular expression")
    return HeaderMatches([(str(name), LinearRegex(regex, f"{where}.{name}"))
                          for name, regex in value.items()])


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.I)


def _size_over(value: Any, where: str) -> SizeOver:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlowError(f"{where}: expected a size in bytes or like '10MB', got {value!r}")
    match = _SIZE.match(str(value))
    if match is None:
        raise FlowError(f"{where}: expected a size in bytes or like '10MB', got {value!r}")
    return SizeOver(int(float(match.group(1)) * 1024 ** " kmg".index(
        match.group(2).lower() or " ")))


def _strings(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise FlowError(f"{where}: expected a string or a list of strings, got {value!r}")
    return [i.strip().lower() for i in items]


def _attachment_extension(value: Any, where: str) -> AttachmentExtension:
    # exe, .exe and *.exe mean the same; any other pattern would silently never match.
    given = _strings(value, where)
    suffixes = tuple("." + e.removeprefix("*").lstrip(".") for e in given)
    for text, suffix in zip(given, suffixes, strict=True):
        if len(suffix) < 2 or any(c in suffix for c in "*?[]/\\ "):
            raise FlowError(f"{where}: {text!r} is not a file extension (write exe, .exe or *.exe)")
    return AttachmentExtension(suffixes)


def _attachment_type(value: Any, where: str) -> AttachmentType:
    types = _strings(value, where)
    return AttachmentType({t for t in types if not t.endswith("/*")},
                          tuple(t[:-1] for t in types if t.endswith("/*")))


BUILTINS: dict[str, Builder] = {
    "direction": _direction,
    "sender": _sender,
    "recipient": _recipient,
    "header": _header,
    "size_over": _size_over,
    "attachment_extension": _attachment_extension,
    "attachment_type": _attachment_type,
    **who.BUILDERS,
}
"""The built-in conditions: name -> builder from the flow file's value."""

# -- compiling a `when` -----------------------------------------------------------------

COMBINATORS = ("all", "any", "not")
CUSTOM = "custom"
RESERVED = (*COMBINATORS, CUSTOM)
"""`when` keys the compiler itself reads: no plugin may take these names."""


def compile_when(spec: Any, where: str, registry: Registry) -> When:
    """A rule's `when` (or a nested one) as a `When` over condition objects."""
    if not isinstance(spec, dict):
        raise FlowError(f"{where}: expected a mapping of conditions, got {type(spec).__name__}")
    checks: list[Test] = []
    for key, value in spec.items():
        here = f"{where}.{key}"
        build = registry.builder(key, where)
        if build is not None:
            checks.append(Check(key, value, build(value, here)))
        elif key == CUSTOM:
            checks.extend(_custom(value, here))
        else:
            checks.append(_COMBINE[key](value, here, registry))
    return When(checks)


def _list(value: Any, where: str, registry: Registry) -> list[Test]:
    if not isinstance(value, list) or not value:
        raise FlowError(f"{where}: expected a non-empty list of conditions")
    return [compile_when(item, f"{where}[{i}]", registry) for i, item in enumerate(value)]


_COMBINE: dict[str, Callable[[Any, str, Registry], Test]] = {
    "all": lambda value, where, registry: When(_list(value, where, registry)),
    "any": lambda value, where, registry: AnyOf(_list(value, where, registry)),
    "not": lambda value, where, registry: Not([compile_when(value, where, registry)]),
}


def _custom(value: Any, where: str) -> list[Test]:
    """`custom`: condition objects given in a dict flow from Python (one or a list)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise FlowError(f"{where}: expected a condition object or a list of them")
    for item in items:
        if not callable(getattr(item, "matches", None)) or isinstance(item, str | Mapping):
            raise FlowError(f"{where}: expected objects with a matches(mail, context) method "
                            f"(a flow given as a dict from Python), got {item!r}")
    return [Check(CUSTOM, type(item).__name__, item) for item in items]


def internal_domains(value: Any, where: str) -> frozenset[str]:
    items = [] if value is None else value
    if not isinstance(items, list) or not all(isinstance(d, str) and d for d in items):
        raise FlowError(f"{where}: expected a list of domain names")
    for domain in items:
        if "*" in domain or "@" in domain or " " in domain:
            raise FlowError(f"{where}: {domain!r} is not a domain name (list each domain; "
                            "subdomains are not included automatically)")
    return frozenset(checked_domain(d, f"{where}[{i}]") for i, d in enumerate(items))


__all__ = ["BUILTINS", "RESERVED", "Check", "Verdict", "When", "compile_when",
           "internal_domains"]
