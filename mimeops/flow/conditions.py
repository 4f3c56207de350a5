"""`when:` conditions, compiled at load time into predicates over one message.

Every key is optional and all keys given must hold; `all`, `any` and `not`
combine nested conditions. Conditions read the message as it arrived (before
any rule's ops), so rule order never changes which rules match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mimeops.directory.base import Directory
from mimeops.flow import who as directory_facts
from mimeops.flow.addresses import Pattern, domain_of, normalize_domain, patterns
from mimeops.flow.errors import FlowError
from mimeops.mime import Message, Part, transfer

DIRECTIONS = ("INBOUND", "OUTBOUND")


@dataclass
class Facts:
    """What conditions look at: the envelope, the From address and the message."""

    message: Message
    direction: str
    mail_from: str
    sender: str
    recipients: list[str]
    internal_domains: frozenset[str] = field(default_factory=frozenset)
    directory: Directory | None = None
    sender_name: str = ""  # the From display name, decoded

    @cached_property
    def who(self) -> directory_facts.Who:
        """Directory answers about this message, looked up on first use."""
        return directory_facts.Who(self, self.directory)

    @cached_property
    def sender_internal(self) -> bool:
        """Internal only when the envelope AND the From header are ours.

        A From that claims our domain over an outside envelope is external:
        that is what spoofing looks like.
        """
        return (
            domain_of(self.mail_from) in self.internal_domains
            and domain_of(self.sender) in self.internal_domains
        )

    @cached_property
    def attachments(self) -> list[tuple[str, str]]:
        """(lower-cased file name, content type) of every named part, attached
        messages included: an .exe inside a forwarded message is still sent."""
        out: list[tuple[str, str]] = []
        _collect(self.message.root, out, depth=0)
        return out


def _collect(root: Part, out: list[tuple[str, str]], depth: int) -> None:
    for part in root.walk():
        name = part.filename
        if name or part.is_attachment:
            # Windows drops trailing dots and spaces: "setup.exe. " is setup.exe.
            out.append(((name or "").rstrip(". ").lower(), part.ctype))
        if part.ctype == "message/rfc822" and depth < 8:
            try:
                inner = transfer.decode(part.cte, part.body())
            except transfer.UndecodableBody:
                continue
            _collect(Message(inner).root, out, depth + 1)


Predicate = Callable[[Facts], bool]


def compile_when(spec: Any, where: str) -> Predicate:
    if not isinstance(spec, dict):
        raise FlowError(f"{where}: expected a mapping of conditions, got {type(spec).__name__}")
    checks: list[Predicate] = []
    for key, value in spec.items():
        builder = _BUILDERS.get(key)
        if builder is None:
            known = ", ".join(sorted(_BUILDERS))
            raise FlowError(f"{where}: unknown condition {key!r} (known: {known})")
        checks.append(builder(value, f"{where}.{key}"))
    return lambda facts: all(check(facts) for check in checks)


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
    checks: list[tuple[str, re.Pattern[str]]] = []
    for name, regex in value.items():
        if not isinstance(regex, str):
            raise FlowError(f"{where}.{name}: expected a regular expression string")
        try:
            checks.append((str(name).lower(), re.compile(regex)))
        except re.error as error:
            raise FlowError(f"{where}.{name}: bad regular expression {regex!r}: {error}") from None

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
    suffixes = tuple("." + e.lstrip(".") for e in _strings(value, where))
    return lambda facts: any(name.endswith(suffixes) for name, _ in facts.attachments)


def _attachment_type(value: Any, where: str) -> Predicate:
    types = _strings(value, where)
    exact = {t for t in types if not t.endswith("/*")}
    mains = tuple(t[:-1] for t in types if t.endswith("/*"))
    return lambda facts: any(
        ctype in exact or ctype.startswith(mains) for _, ctype in facts.attachments
    )


def _list(value: Any, where: str) -> list[Predicate]:
    if not isinstance(value, list) or not value:
        raise FlowError(f"{where}: expected a non-empty list of conditions")
    return [compile_when(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _all(value: Any, where: str) -> Predicate:
    checks = _list(value, where)
    return lambda facts: all(check(facts) for check in checks)


def _any_of(value: Any, where: str) -> Predicate:
    checks = _list(value, where)
    return lambda facts: any(check(facts) for check in checks)


def _not(value: Any, where: str) -> Predicate:
    check = compile_when(value, where)
    return lambda facts: not check(facts)


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
    return frozenset(normalize_domain(d) for d in items)
