"""A flow: rules evaluated against one message, transforms applied, actions answered.

`Flow.apply` is a pipeline of named stages over one `Job` (a message on its way):

    read      the bytes into the MIME model; the Mail and Context conditions read
    decide    which rules match, and the action for each recipient
    policy    why the body is left alone (hands-off mail), and what still runs
    rewrite   markers verified, structure (wrap / front part), the rules' transforms,
              new markers
    accept    fold and re-encode what WorkMail would refuse, then check the output

Each stage is one method; what they share travels in the Job, the `Decision` and the
`Policy`, never in module state or magic keys.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from mimeops.directory.base import Directory
from mimeops.flow import actions, marker
from mimeops.flow.actions import Action, RecipientAction
from mimeops.flow.conditions import Verdict, When
from mimeops.flow.reasons import Reason, Skip, unreadable
from mimeops.flow.window import Window
from mimeops.mail import (
    Context,
    Envelope,
    Mail,
    Transform,
    needs_directory,
    touches_body,
    transform_name,
)
from mimeops.mime import Message, words
from mimeops.mime.addresses import domain_of, header_addresses
from mimeops.mime.conform import conform, merge_repeated
from mimeops.mime.line_breaks import crlf
from mimeops.mime.validate import long_line, structure_reason
from mimeops.mime.wrap import wrap

ON_ERROR = ("deliver", "retry")
PROTECTED = ("skip", "headers", "wrap")
MODES = ("enforce", "audit")
# How evaluate() reports each rule to an observer (`mimeops explain`).
MATCHED, FAILED, INACTIVE, STOPPED = "matched", "failed", "inactive", "stopped"
Observer = Callable[["Rule", str, str], None]


@dataclass
class Result:
    """What a flow did to one message: typed decisions; `skipped` and `actions` are
    their documented text and WorkMail views (docs/api.md)."""

    message: bytes
    changed: bool
    #: Why the body was left alone (None: it was not).
    skip: Reason | None
    applied: list[str]
    #: What happens to each recipient's copy: named recipients first, then everybody else.
    recipient_actions: tuple[RecipientAction, ...]
    # "<rule>:<op or action>" that audit rules would have applied (nothing was).
    audited: list[str] = field(default_factory=list)
    # The enforced rules whose conditions held (whatever their ops then found to do).
    matched: list[str] = field(default_factory=list)
    #: "<content-type>: <reason>" for each shown body a banner/footer could not enter.
    bare: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> str | None:
        """`skip` in words ("signed message (multipart/signed)", "invalid-output: ...")."""
        return None if self.skip is None else str(self.skip)

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The WorkMail synchronous response actions (wire form of `recipient_actions`)."""
        return [action.workmail() for action in self.recipient_actions]

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
    ops: list[Transform] = field(default_factory=list)
    action: Action | None = None
    stop: bool = False
    mode: str = "enforce"
    active: Window | None = None
    #: How `applied` names each op: the name the flow file used (`banner`, a plugin's
    #: `defang_links`); for an object in a dict flow, its `name` attribute or class name.
    labels: list[str] = field(default_factory=list)

    def label(self, index: int) -> str:
        """The name `applied` reports for `ops[index]`."""
        if index < len(self.labels):
            return self.labels[index]
        return transform_name(self.ops[index])

    @property
    def audit(self) -> bool:
        """An audit rule is evaluated and reported, but changes nothing."""
        return self.mode == "audit"

    @property
    def needs_directory(self) -> bool:
        """Whether a condition, a transform or the bounce text asks the directory."""
        return (self.when is not None and self.when.needs_directory) \
            or any(needs_directory(op) for op in self.ops) \
            or (self.action is not None and self.action.needs_directory)

    def effects(self) -> list[str]:
        """What the rule does, as reported: each op as "<rule>:<op>", the action as
        "<rule>:<ACTION>" (the `audited` list of an audit rule)."""
        names = [self.label(i) for i in range(len(self.ops))] + (
            [self.action.type] if self.action else [])
        return [f"{self.name}:{name}" for name in names]


class Job(NamedTuple):
    """One message on its way through a flow: what the `read` stage found."""

    #: The input object itself: what goes out when nothing changes.
    received: bytes
    #: The input with lone-CR line breaks made CRLF (as clients read it).
    raw: bytes
    envelope: Envelope
    message: Message
    #: The message as conditions read it (as it arrived).
    mail: Mail
    context: Context


@dataclass
class Decision:
    """What the rules decided for one message, before any transform runs."""

    matched: list[Rule]
    audited: list[Rule]
    #: Recipient -> the first matching rule's action naming them.
    assigned: dict[str, Action]
    #: The first matching action for everybody (no `recipients` filter), if any.
    blanket: Action | None
    #: What these actions add up to, per recipient.
    response: tuple[RecipientAction, ...]

    def report(self) -> dict[str, list[str]]:
        """The Result fields every outcome carries: audited effects and matched rules."""
        return {"audited": [effect for rule in self.audited for effect in rule.effects()],
                "matched": [rule.name for rule in self.matched]}


class Policy(NamedTuple):
    """Why the body is left alone (None: it is not), and what still runs: "all",
    "skip" (nothing), "headers" (header transforms only) or "wrap"."""

    reason: Reason | None
    mode: str


class Rewrite(NamedTuple):
    """What the `rewrite` stage made: the edited message, why its body was left alone
    (if it was), and the "<rule>:<op>" that changed something."""

    message: Message
    reason: Reason | None
    applied: list[str]


@dataclass
class Flow:
    """Loaded with `load_flow`; apply it to raw message bytes with `apply`.

    `marker_key` signs the processed markers (and seeds the HTML guard's token): one key,
    or several (newest first: sign with the first, accept any). Transports resolve it
    (`mimeops apply` from $MIMEOPS_MARKER_KEY or a key file, the Lambda handler from its
    secret); the engine reads no environment and writes no file. Without one, a Flow
    signs with a random key of its own: markers then verify only for this Flow object,
    so a message retried in another process gets the rules again.
    """

    rules: list[Rule]
    internal_domains: frozenset[str] = frozenset()
    on_error: str = "deliver"
    protected: str = "skip"
    organization_id: str | None = None
    marker_key: bytes | tuple[bytes, ...] | None = None
    # Activation windows are checked against this clock (timezone-aware).
    clock: Callable[[], datetime] = utc_now
    #: `directory: workmail` in the flow file (the handler attaches the WorkMail API).
    directory_source: str | None = None
    #: Where sender_group, impersonates_user, {sender.*}, ... look (docs: Directory).
    directory: Directory | None = None
    _own_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), init=False,
                            repr=False, compare=False)

    @property
    def needs_directory(self) -> bool:
        """Whether some rule asks the directory (sender_group, recipient_group,
        impersonates_user, {sender.*} fields, a plugin's `needs_directory`): then a
        transport must attach one (`directory`), or refuse the flow at load."""
        return any(rule.needs_directory for rule in self.rules)

    def missing_directory(self) -> str | None:
        """Why this flow cannot run as configured: it needs a directory and has none
        (naming the rules; the transport adds how to give one). None when it can.
        Transports ask once, at load, so the flow fails there and not on every message."""
        if self.directory is not None:
            return None
        rules = [rule.name for rule in self.rules if rule.needs_directory]
        if not rules:
            return None
        return (f"rule{'s' if len(rules) > 1 else ''} {', '.join(map(repr, rules))} "
                f"{'use' if len(rules) > 1 else 'uses'} the directory (sender_group, "
                "recipient_group, impersonates_user, {sender.*} fields or a plugin that "
                "needs it) but none is configured")

    def read(self, raw: bytes, envelope: Envelope) -> Job:
        """The `read` stage alone: the message as the MIME model, as conditions see it
        (`Mail`), and its `Context` (for `evaluate`, e.g. `mimeops explain`)."""
        return self._read(_message_bytes(raw), _checked(envelope))

    def evaluate(
        self, mail: Mail, context: Context, observe: Observer | None = None
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
                verdict = rule.when.explain(mail, context)
                held = verdict.held
            else:
                held = rule.when is None or rule.when.matches(mail, context)
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

    def apply(self, raw: bytes, envelope: Envelope, *,
              observe: Observer | None = None) -> Result:
        """Run the flow on one message: `raw` is its bytes exactly as received.

        `observe` hears each rule's match verdict (`mimeops explain`): the same run.
        """
        job = self.read(raw, envelope)
        decision = self._decide(job, observe)
        why = job.message.unreadable()
        if why:
            # Never guess where a header block ends: a field moved into the body is lost.
            return _unchanged(job, decision, unreadable(why))
        policy = self._policy(job, decision)
        if policy.mode == "skip":
            return _unchanged(job, decision, policy.reason)
        done = self._rewrite(job, decision, policy)
        bare = list(dict.fromkeys(done.message.bare))
        if not done.message.changed:
            return _unchanged(job, decision, done.reason, done.applied, bare)
        out, problem = _accept(done.message, job.raw)
        if problem:
            return _unchanged(job, decision, Reason(Skip.INVALID_OUTPUT, problem), [], bare)
        return Result(out, True, done.reason, done.applied, decision.response, bare=bare,
                      **decision.report())

    # -- stages -------------------------------------------------------------------

    def _read(self, received: bytes, envelope: Envelope) -> Job:
        """The message as the MIME model, and the context transforms and conditions read."""
        raw = crlf(received)
        message = Message(raw)
        header = message.root.header
        senders = header_addresses(header.get_all("from"))
        name, sender = senders[0] if senders else ("", "")
        context = Context(envelope, _values(message, envelope, name, sender),
                          guard_token=marker.token(self._marker_keys()[0], message,
                                                   envelope.direction),
                          sender=sender, sender_name=words.decode(name),
                          internal_domains=self.internal_domains, directory=self.directory)
        return Job(received, raw, envelope, message, Mail(message), context)

    def _decide(self, job: Job, observe: Observer | None) -> Decision:
        """The rules that match and each recipient's action: per recipient, the first
        matching rule whose action names them; for the rest, the first action for all."""
        matched, audited = self.evaluate(job.mail, job.context, observe)
        assigned: dict[str, Action] = {}
        blanket: Action | None = None
        for rule in matched:
            if rule.action is None or blanket is not None:
                continue
            for recipient in job.context.recipients:
                if recipient not in assigned and rule.action.applies_to(recipient):
                    assigned[recipient] = rule.action
            if rule.action.recipients is None:
                blanket = rule.action
        response = actions.decide(assigned, blanket, job.context.values)
        return Decision(matched, audited, assigned, blanket, response)

    def _policy(self, job: Job, decision: Decision) -> Policy:
        """Why the body is left alone, and what still runs.

        With `protected: headers`, a protected message still gets header ops; with
        `protected: wrap` it is attached whole to a new message that gets them all.
        Under either, a report (multipart/report) from outside the organization is
        mail like any other: anyone can send one, so it is no way around a warning.
        A message nobody will receive is never rewritten.
        """
        if not any(rule.ops for rule in decision.matched):
            return Policy(None, "all")
        recipients = job.context.recipients
        fates = [decision.assigned.get(r, decision.blanket) for r in recipients] \
            or [decision.blanket]
        if all(a is not None and a.type in actions.STOPPING for a in fates):
            return Policy(Reason(Skip.NOBODY), "skip")
        reports = self.protected == "skip" or job.context.sender_internal
        reason = job.message.hands_off(reports=reports)
        if reason is None:
            return Policy(None, "all")
        return Policy(Reason(Skip.PROTECTED, reason), self.protected)

    def _rewrite(self, job: Job, decision: Decision, policy: Policy) -> Rewrite:
        """Markers checked (forged ones removed), the structure the transforms need,
        the matching rules' transforms in order, and a marker for every rule that ran."""
        keys = self._marker_keys()
        direction = job.envelope.direction
        message = job.message
        done = marker.verified(keys, message, direction)
        ran = [rule for rule in decision.matched if rule.ops and rule.name not in done]
        message, reason, headers_only = _structure(job, message, ran, policy)
        mail = Mail(message)
        applied = [f"{rule.name}:{rule.label(i)}" for rule in ran
                   for i, op in enumerate(rule.ops)
                   if not (headers_only and touches_body(op)) and op.apply(mail, job.context)]
        if message.changed:
            # Every rule that ran is marked, also one that found nothing to do this
            # time: on a retry it must not act on what later rules wrote.
            bound = marker.content(message)
            for rule in ran:
                message.root.header.add(marker.HEADER, marker.value(
                    keys[0], message, direction, rule.name, bound))
        return Rewrite(message, reason, applied)

    def _marker_keys(self) -> marker.Keys:
        """Sign with the first key, accept any (rotation); this Flow's own random key
        when none was given."""
        if isinstance(self.marker_key, bytes):
            return (self.marker_key,)
        return tuple(self.marker_key) if self.marker_key else (self._own_key,)


def _message_bytes(raw: object) -> bytes:
    """`raw` as bytes, or a TypeError that says how to pass a message."""
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if not isinstance(raw, bytes):
        hint = " (encode it, or read the file in binary mode)" if isinstance(raw, str) else ""
        raise TypeError(f"Flow.apply() takes the message as bytes, got "
                        f"{type(raw).__name__}{hint}")
    return raw


def _checked(envelope: object) -> Envelope:
    if not isinstance(envelope, Envelope):
        raise TypeError(f"Flow.apply() takes an Envelope, got {type(envelope).__name__}")
    return envelope


def _structure(job: Job, message: Message, ran: list[Rule],
               policy: Policy) -> tuple[Message, Reason | None, bool]:
    """The message the transforms edit, why its body is left alone, whether only header
    transforms run. A protected message under `protected: wrap` is attached whole to a
    new one. A message where a client that shows every inline part shows something
    before the first body the banner enters (an inline image, an attached message, an
    unreferenced /related part), or that has no text a client shows at all, gets a
    text part in front of everything: else the warning comes second, or nowhere."""
    writes_body = any(touches_body(op) for rule in ran for op in rule.ops)
    if policy.mode == "wrap" and writes_body:
        return Message(wrap(job.raw, message.root.header)), None, False
    if policy.reason is None and writes_body and not message.unreachable() \
            and message.shown_before_body() is not None:
        fronted = message.fronted()  # as edited so far: without forged markers
        if fronted is not None:
            return fronted, None, False
    return message, policy.reason, policy.mode == "headers"


def _accept(message: Message, raw: bytes) -> tuple[bytes, str | None]:
    """The output, and why WorkMail would refuse it (None: it would not).

    Repeated unique fields merged; over-long lines folded or re-encoded (the line pass
    reads every octet, so `conform` walks the message only when a line is too long);
    then the same checks WorkMail (and the emulator) apply to an update."""
    merge_repeated(message.root.header)
    out, known = message.render()
    problem = long_line(out)
    if problem:
        problem = conform(message.root)
        out, known = message.render()
        problem = problem or long_line(out)
    return out, problem or structure_reason(raw, out, known)


def _unchanged(job: Job, decision: Decision, reason: Reason | None,
               applied: list[str] | None = None, bare: list[str] | None = None) -> Result:
    """The message goes out as received (the input object itself)."""
    return Result(job.received, False, reason, applied or [], decision.response,
                  bare=bare or [], **decision.report())


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
