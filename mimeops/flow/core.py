"""A flow: rules evaluated against one message, ops applied, actions answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mimeops.flow import actions, marker
from mimeops.flow.actions import Action
from mimeops.flow.addresses import domain_of, header_addresses, normalize_address
from mimeops.flow.conditions import DIRECTIONS, Facts, Predicate
from mimeops.mime import Message, words
from mimeops.ops.base import Op

ON_ERROR = ("deliver", "retry")
PROTECTED = ("skip", "headers")


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope WorkMail reports, and the flow direction."""

    direction: str = "INBOUND"
    mail_from: str = ""
    recipients: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be INBOUND or OUTBOUND, not {self.direction!r}")


@dataclass
class Result:
    """What a flow did to one message."""

    message: bytes
    changed: bool
    skipped: str | None
    applied: list[str]
    actions: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary of `mimeops apply` (without the message)."""
        return {"changed": self.changed, "skipped": self.skipped,
                "applied": self.applied, "actions": self.actions}


@dataclass
class Rule:
    name: str
    when: Predicate | None = None
    ops: list[Op] = field(default_factory=list)
    action: Action | None = None
    stop: bool = False


@dataclass
class Flow:
    """Loaded with `load_flow`; apply it to raw message bytes with `apply`."""

    rules: list[Rule]
    internal_domains: frozenset[str] = frozenset()
    on_error: str = "deliver"
    protected: str = "skip"
    organization_id: str | None = None
    marker_key: bytes | tuple[bytes, ...] | None = None

    def apply(self, raw: bytes, envelope: Envelope) -> Result:
        message = Message(raw)
        header = message.root.header
        senders = header_addresses(header.get_all("from"))
        sender_name, sender = senders[0] if senders else ("", "")
        recipients = [normalize_address(r) for r in envelope.recipients]
        facts = Facts(message, envelope.direction, envelope.mail_from, sender, recipients,
                      self.internal_domains)
        values = _values(message, envelope, sender_name, sender)

        matched: list[Rule] = []
        for rule in self.rules:
            if rule.when is None or rule.when(facts):
                matched.append(rule)
                if rule.stop:
                    break

        assigned: dict[str, Action] = {}
        blanket: Action | None = None
        for rule in matched:
            if rule.action is None or blanket is not None:
                continue
            for recipient in recipients:
                if recipient not in assigned and rule.action.applies_to(recipient):
                    assigned[recipient] = rule.action
            if rule.action.recipients is None:
                blanket = rule.action
        response = actions.respond(assigned, blanket, values)

        skipped, headers_only = self._policy(message, matched, assigned, blanket, recipients)
        applied: list[str] = []
        if skipped is None or headers_only:
            keys = self._marker_keys()
            values[marker.GUARD_VALUE] = marker.token(keys[0], message, envelope.direction)
            done = marker.verified(keys, message, envelope.direction)
            ran = [rule for rule in matched if rule.ops and rule.name not in done]
            for rule in ran:
                for op in rule.ops:
                    if not (headers_only and op.touches_body) and op.apply(message, values):
                        applied.append(f"{rule.name}:{op.name}")
            if message.changed:
                # Every rule that ran is marked, also one that found nothing to do this
                # time: on a retry it must not act on what later rules wrote.
                for rule in ran:
                    header.add(marker.HEADER, marker.value(keys[0], message,
                                                           envelope.direction, rule.name))
        out = message.to_bytes()
        return Result(out, out is not raw, skipped, applied, response)

    def _marker_keys(self) -> marker.Keys:
        """Sign with the first key, accept any (rotation); the default when none given."""
        if isinstance(self.marker_key, bytes):
            return (self.marker_key,)
        return tuple(self.marker_key) if self.marker_key else marker.default_keys()

    def _policy(
        self, message: Message, matched: list[Rule], assigned: dict[str, Action],
        blanket: Action | None, recipients: list[str],
    ) -> tuple[str | None, bool]:
        """(why the body is left alone, whether header ops still run).

        With `protected: headers`, a protected message still gets header ops.
        A message nobody will receive is never rewritten.
        """
        if not any(rule.ops for rule in matched):
            return None, False
        fates = [assigned.get(r, blanket) for r in recipients] or [blanket]
        if all(a is not None and a.type in actions.STOPPING for a in fates):
            return "every recipient is bounced or dropped", False
        reason = message.hands_off()
        return reason, reason is not None and self.protected == "headers"


def _values(message: Message, envelope: Envelope, name: str, sender: str) -> dict[str, str]:
    header = message.root.header
    subject = header.field("subject")
    return {
        "sender": sender,
        "sender_name": words.decode(name) or sender,
        "sender_domain": domain_of(sender),
        "mail_from": envelope.mail_from,
        "recipients": ", ".join(envelope.recipients),
        "subject": subject.decoded() if subject else "",
        "date": header.get("date") or "",
        "direction": envelope.direction,
        "message_id": header.get("message-id") or "",
    }
