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
from typing import Any

from mimeops.mail import Context, Mail
from mimeops.mime.addresses import domain_of

_SHOWN = 80  # characters of a header value shown


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _class(context: Context, address: str) -> str:
    if not address:
        return "(empty) external"
    domain = domain_of(address)
    where = "internal" if context.is_internal(address) else "external"
    return f"{address} ({where}: {domain or 'no domain'})"


def _domains(context: Context) -> str:
    return ", ".join(sorted(context.internal_domains)) or "none"


def _direction(mail: Mail, context: Context, value: Any) -> str:
    return f"the message is {context.direction}, the rule wants {value}"


def _sender(mail: Mail, context: Context, value: Any) -> str:
    envelope, header = _class(context, context.mail_from), _class(context, context.sender)
    if isinstance(value, str) and value.strip().lower() in ("internal", "external"):
        found = "internal" if context.sender_internal else "external"
        return (f"the sender is {found}, the rule wants {value.strip().lower()} "
                f"(envelope {envelope}; From {header}; internal only when both are in "
                f"internal_domains: {_domains(context)})")
    return (f"envelope {context.mail_from or '(empty)'} and From {context.sender or '(none)'} "
            f"against {_value(value)} (both must match)")


def _recipient(mail: Mail, context: Context, value: Any) -> str:
    listed = ", ".join(_class(context, r) for r in context.recipients) or "(none)"
    return f"recipients {listed} against {_value(value)} (one must match)"


def _header(mail: Mail, context: Context, value: Any) -> str:
    shown: list[str] = []
    for name, regex in (value.items() if isinstance(value, dict) else ()):
        values = [v[:_SHOWN] for v in mail.headers.get_all(str(name))]
        seen = " | ".join(_value(v) for v in values) if values else "no such header"
        shown.append(f"{name}: {seen} against /{regex}/")
    return "; ".join(shown)


def _size_over(mail: Mail, context: Context, value: Any) -> str:
    return f"the message is {mail.size} bytes, the limit is {value}"


def _attachments(mail: Mail, context: Context, value: Any) -> str:
    found = ", ".join(f"{(a.filename or '').rstrip('. ').lower() or '(no name)'} "
                      f"({a.content_type})" for a in mail.attachments)
    return f"attachments {found or '(none)'} against {_value(value)}"


OBSERVERS: dict[str, Callable[[Mail, Context, Any], str]] = {
    "direction": _direction,
    "sender": _sender,
    "recipient": _recipient,
    "header": _header,
    "size_over": _size_over,
    "attachment_extension": _attachments,
    "attachment_type": _attachments,
}


def observe(key: str, value: Any, mail: Mail, context: Context) -> str:
    """The values condition `key` (configured as `value`) compared on this message."""
    observer = OBSERVERS.get(key)
    return observer(mail, context, value) if observer else f"{_value(value)}"
