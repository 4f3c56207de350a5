"""A flow: rules evaluated against one message, ops applied, actions answered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mimeops.directory.base import Directory
from mimeops.flow import actions, marker
from mimeops.flow.actions import Action
from mimeops.flow.conditions import DIRECTIONS, Verdict, When
from mimeops.flow.facts import Facts
from mimeops.flow.who import SenderValues
from mimeops.flow.window import Window
from mimeops.mime import Message, words
from mimeops.mime.addresses import domain_of, header_addresses, normalize_address
from mimeops.mime.conform import conform, merge_repeated
from mimeops.mime.line_breaks import crlf
from mimeops.mime.validate import long_line, structure_reason
from mimeops.mime.wrap import front, wrap
from mimeops.ops.base import GUARD_VALUE, Op

ON_ERROR = ("deliver", "retry")
PROTECTED = ("skip", "headers", "wrap")
MODES = ("enforce", "audit")
# How evaluate() reports each rule to an observer (`mimeops explain`).
MATCHED, FAILED, INACTIVE, STOPPED = "matched", "failed", "inactive", "stopped"
Observer = Callable[["Rule", str, str], None]


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope WorkMail reports, and the flow direction."""

    direction: str = "INBOUND"
    mail_from: str = ""
    recipients: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be INBOUND or OUTBOUND, not {self.direction!r}")
        # A str is a Sequence[str] too: "a@b" would be read one character at a time.
        recipients = self.recipients
        if isinstance(recipients, str | bytes) or not all(isinstance(r, str) for r in recipients):
            hint = f" (write [{recipients!r}])" if isinstance(recipients, str) else ""
            raise TypeError("Envelope recipients must be a list of address strings, "
                            f"got {recipients!r}{hint}")


@dataclass
class Result:
    """What a flow did to one message."""

    message: bytes
    changed: bool
    skipped: str | None
    applied: list[str]
    actions: list[dict[str, Any]]
    # "<rule>:<op or action>" that audit rules would have applied (nothing was).
    audited: list[str] = field(default_factory=list)
    # The enforced rules whose conditions held (whatever their ops then found to do).
    matched: list[str] = field(default_factory=list)
    #: "<content-type>: <reason>" for each shown body a banner/footer could not enter.
    bare: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary of `mimeops apply` (without the message); `audited`
        only when an audit rule matched, so flows without one keep the plain summary."""
        summary = {"changed": self.changed, "skipped": self.skipped,
                   "applied": self.applied, "actions": self.actions, "bare": self.bare}
        return summary | ({"audited": self.audited} if self.audited else {})


def utc_now() -> datetime:
    """The default clock of activation windows (tests inject their own)."""
    return datetime.now(UTC)


@dataclass
class Rule:
    name: str
    when: When | None = None
    ops: list[Op] = field(default_factory=list)
    action: Action | None = None
    stop: bool = False
    mode: str = "enforce"
    active: Window | None = None

    @property
    def audit(self) -> bool:
        """An audit rule is evaluated and reported, but changes nothing."""
        return self.mode == "audit"

    def effects(self) -> list[str]:
        """What the rule does, as reported: each op as "<rule>:<op>", the action as
        "<rule>:<ACTION>" (the `audited` list of an audit rule)."""
        names = [op.name for op in self.ops] + ([self.action.type] if self.action else [])
        return [f"{self.name}:{name}" for name in names]


@dataclass
class Flow:
    """Loaded with `load_flow`; apply it to raw message bytes with `apply`."""

    rules: list[Rule]
    internal_domains: frozenset[str] = frozenset()
    on_error: str = "deliver"
    protected: str = "skip"
    organization_id: str | None = None
    marker_key: bytes | tuple[bytes, ...] | None = None
    # Activation windows are checked against this clock (timezone-aware).
    clock: Callable[[], datetime] = utc_now

    def facts(self, message: Message, envelope: Envelope) -> Facts:
        """What the conditions look at, for this message and envelope."""
        senders = header_addresses(message.root.header.get_all("from"))
        return self._facts(message, envelope, senders)

    def _facts(self, message: Message, envelope: Envelope,
               senders: list[tuple[str, str]]) -> Facts:
        sender = senders[0][1] if senders else ""
        recipients = [normalize_address(r) for r in envelope.recipients]
        return Facts(message, envelope.direction, envelope.mail_from, sender, recipients,
                     self.internal_domains, directory=self.directory,
                     sender_name=words.decode(senders[0][0]) if senders else "")

    def evaluate(
        self, facts: Facts, observe: Observer | None = None
    ) -> tuple[list[Rule], list[Rule]]:
        """(enforced rules that match, audit rules that match), in flow order.

        The one place rules are matched: `apply` uses it, and `explain` passes
        `observe` to hear, per rule, MATCHED / FAILED / INACTIVE / STOPPED and why.
        A rule outside its activation window does not match; an audit rule never
        stops later rules (it must change nothing, also not what others do).
        """
        now = self.clock() if any(rule.active for rule in self.rules) else None
        matched: list[Rule] = []
        audited: list[Rule] = []
        stopper: Rule | None = None
        for rule in self.rules:
            if stopper is not None:
                if observe:
                    observe(rule, STOPPED, f"rule {stopper.name!r} matched and has stop: true")
                continue
            if rule.active and now is not None and not rule.active.contains(now):
                if observe:
                    observe(rule, INACTIVE, f"active {rule.active}; now {now.isoformat()}")
                continue
            verdict: Verdict | None = None
            if observe and rule.when is not None:
                verdict = rule.when.explain(facts)
                held = verdict.held
            else:
                held = rule.when is None or rule.when(facts)
            if observe:
                why = verdict.why if verdict else "no conditions: every message"
                observe(rule, MATCHED if held else FAILED, why)
            if not held:
                continue
            if rule.audit:
                audited.append(rule)
                continue
            matched.append(rule)
            if rule.stop:
                stopper = rule
        return matched, audited
    #: `directory: workmail` in the flow file (the handler attaches the WorkMail API).
    directory_source: str | None = None
    #: Where sender_group, impersonates_user, {sender.*}, ... look (docs/directory.md).
    directory: Directory | None = None

    def apply(self, raw: bytes, envelope: Envelope) -> Result:
        """Run the flow on one message: `raw` is its bytes exactly as received."""
        if isinstance(raw, bytearray | memoryview):
            raw = bytes(raw)
        if not isinstance(raw, bytes):
            hint = " (encode it, or read the file in binary mode)" if isinstance(raw, str) else ""
            raise TypeError(f"Flow.apply() takes the message as bytes, got "
                            f"{type(raw).__name__}{hint}")
        if not isinstance(envelope, Envelope):
            raise TypeError(f"Flow.apply() takes an Envelope, got {type(envelope).__name__}")
        received, raw = raw, crlf(raw)
        message = Message(raw)
        header = message.root.header
        senders = header_addresses(header.get_all("from"))
        facts = self._facts(message, envelope, senders)
        recipients = facts.recipients
        values = SenderValues(
            _values(message, envelope, senders[0][0] if senders else "", facts.sender), facts.who)
        matched, audit = self.evaluate(facts)

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
        reported: dict[str, Any] = {
            "audited": [effect for rule in audit for effect in rule.effects()],
            "matched": [rule.name for rule in matched]}

        unreadable = message.unreadable()
        if unreadable:
            # Never guess where a header block ends: a field moved into the body is lost.
            return Result(received, False, unreadable, [], response, **reported)
        skipped, mode = self._policy(message, matched, assigned, blanket, recipients, facts)
        headers_only = mode == "headers"
        applied: list[str] = []
        if skipped is None or mode != "skip":
            keys = self._marker_keys()
            values.base[GUARD_VALUE] = marker.token(keys[0], message, envelope.direction)
            done = marker.verified(keys, message, envelope.direction)
            ran = [rule for rule in matched if rule.ops and rule.name not in done]
            writes_body = any(op.touches_body for r in ran for op in r.ops)
            if mode == "wrap" and writes_body:
                message = Message(wrap(raw, header))  # the banner goes in front of it
                header, skipped, headers_only = message.root.header, None, False
            elif skipped is None and writes_body and not message.bodies() \
                    and not message.unreachable():
                # No text a client shows (only an attachment, an attached message): a
                # text part in front, or the banner would have nowhere to go.
                fronted = front(raw, message.root)
                if fronted is not None:
                    message = Message(fronted)
                    header = message.root.header
            for rule in ran:
                for op in rule.ops:
                    if not (headers_only and op.touches_body) and op.apply(message, values):
                        applied.append(f"{rule.name}:{op.name}")
            if message.changed:
                # Every rule that ran is marked, also one that found nothing to do this
                # time: on a retry it must not act on what later rules wrote.
                bound = marker.content(message)
                for rule in ran:
                    header.add(marker.HEADER, marker.value(keys[0], message,
                                                           envelope.direction, rule.name, bound))
        reported["bare"] = list(dict.fromkeys(message.bare))
        if not message.changed:
            return Result(received, False, skipped, applied, response, **reported)
        # Output WorkMail accepts, or none: fold and re-encode over-long lines, then
        # check the same rules WorkMail (and the emulator) apply to the update. The
        # line pass reads every octet, so it runs once when every line is short.
        merge_repeated(message.root.header)
        out, known = message.render()
        problem = long_line(out)
        if problem:
            problem = conform(message.root)
            out, known = message.render()
            problem = problem or long_line(out)
        problem = problem or structure_reason(raw, out, known)
        if problem:
            return Result(received, False, f"invalid-output: {problem}", [], response, **reported)
        return Result(out, True, skipped, applied, response, **reported)

    def _marker_keys(self) -> marker.Keys:
        """Sign with the first key, accept any (rotation); the default when none given."""
        if isinstance(self.marker_key, bytes):
            return (self.marker_key,)
        return tuple(self.marker_key) if self.marker_key else marker.default_keys()

    def _policy(
        self, message: Message, matched: list[Rule], assigned: dict[str, Action],
        blanket: Action | None, recipients: list[str], facts: Facts,
    ) -> tuple[str | None, str]:
        """(why the body is left alone, what still runs: "all", "skip", "headers", "wrap").

        With `protected: headers`, a protected message still gets header ops; with
        `protected: wrap` it is attached whole to a new message that gets them all.
        Under either, a report (multipart/report) from outside the organization is
        mail like any other: anyone can send one, so it is no way around a warning.
        A message nobody will receive is never rewritten.
        """
        if not any(rule.ops for rule in matched):
            return None, "all"
        fates = [assigned.get(r, blanket) for r in recipients] or [blanket]
        if all(a is not None and a.type in actions.STOPPING for a in fates):
            return "every recipient is bounced or dropped", "skip"
        reports = self.protected == "skip" or facts.sender_internal
        reason = message.hands_off(reports=reports)
        return reason, "all" if reason is None else self.protected


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
