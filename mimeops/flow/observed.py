"""What each `when:` condition looked at, in words, for `mimeops explain`.

The decision is always the condition's own predicate (conditions.py); an
observer only shows the values that predicate compared. A condition type
without an observer still explains itself by its key and configured value, so
new conditions plug in by adding a builder, and an observer here when the
values it compares are worth showing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mimeops.mime.addresses import domain_of

if TYPE_CHECKING:
    from mimeops.flow.facts import Facts

_SHOWN = 80  # characters of a header value shown


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _class(facts: Facts, address: str) -> str:
    if not address:
        return "(empty) external"
    domain = domain_of(address)
    where = "internal" if domain in facts.internal_domains else "external"
    return f"{address} ({where}: {domain or 'no domain'})"


def _domains(facts: Facts) -> str:
    return ", ".join(sorted(facts.internal_domains)) or "none"


def _direction(facts: Facts, value: Any) -> str:
    return f"the message is {facts.direction}, the rule wants {value}"


def _sender(facts: Facts, value: Any) -> str:
    envelope, header = _class(facts, facts.mail_from), _class(facts, facts.sender)
    if isinstance(value, str) and value.strip().lower() in ("internal", "external"):
        found = "internal" if facts.sender_internal else "external"
        return (f"the sender is {found}, the rule wants {value.strip().lower()} "
                f"(envelope {envelope}; From {header}; internal only when both are in "
                f"internal_domains: {_domains(facts)})")
    return (f"envelope {facts.mail_from or '(empty)'} and From {facts.sender or '(none)'} "
            f"against {_value(value)} (both must match)")


def _recipient(facts: Facts, value: Any) -> str:
    listed = ", ".join(_class(facts, r) for r in facts.recipients) or "(none)"
    return f"recipients {listed} against {_value(value)} (one must match)"


def _header(facts: Facts, value: Any) -> str:
    shown: list[str] = []
    for name, regex in (value.items() if isinstance(value, dict) else ()):
        values = [f.decoded()[:_SHOWN] for f in facts.message.root.header
                  if f.key == str(name).lower()]
        seen = " | ".join(_value(v) for v in values) if values else "no such header"
        shown.append(f"{name}: {seen} against /{regex}/")
    return "; ".join(shown)


def _size_over(facts: Facts, value: Any) -> str:
    return f"the message is {len(facts.message.raw)} bytes, the limit is {value}"


def _attachments(facts: Facts, value: Any) -> str:
    found = ", ".join(f"{name or '(no name)'} ({ctype})" for name, ctype in facts.attachments)
    return f"attachments {found or '(none)'} against {_value(value)}"


OBSERVERS: dict[str, Callable[[Facts, Any], str]] = {
    "direction": _direction,
    "sender": _sender,
    "recipient": _recipient,
    "header": _header,
    "size_over": _size_over,
    "attachment_extension": _attachments,
    "attachment_type": _attachments,
}


def observe(key: str, value: Any, facts: Facts) -> str:
    """The values condition `key` (configured as `value`) compared on this message."""
    observer = OBSERVERS.get(key)
    return observer(facts, value) if observer else f"{_value(value)}"
