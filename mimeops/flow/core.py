"""A flow: rules evaluated against one message, transforms applied, actions answered.

`Flow.apply` is a pipeline of named stages over one `Job` (a message on its way):

    read      the bytes into the MIME model; the facts conditions read; template values
    decide    which rules match, and the action for each recipient
    policy    why the body is left alone (hands-off mail), and what still runs
    rewrite   markers verified, structure (wrap / front part), the rules' transforms
    accept    merge, fold, re-encode or remove what WorkMail would refuse; new markers;
              then check the output

When a rule that warns (a banner, a subject tag) matched and the full rewrite cannot go
out warned, `rewrite` + `accept` run again from the input for lesser warned rewrites
(`ladder`: a text part in front of the bodies a banner cannot enter, the message
attached whole, the subject tag alone), and when none can, the flow's `fallback`
action is taken (docs/fallbacks.md): a matched warning never ends in mail delivered
unwarned.

Each stage is one method; what they share travels in the Job, the `Decision` and the
`Policy`, never in module state or magic keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from mimeops.directory.base import Directory
from mimeops.flow import actions, marker
from mimeops.flow.actions import Action
from mimeops.flow.conditions import Verdict, When
from mimeops.flow.facts import Facts
from mimeops.flow.fallback import Fallback
from mimeops.flow.who import SenderValues
from mimeops.flow.window import Window
from mimeops.mail import (
    Context,
    Envelope,
    Mail,
    Transform,
    touches_body,
    transform_name,
    warns,
)
from mimeops.mime import Message, words
from mimeops.mime.addresses import domain_of, header_addresses, normalize_address
from mimeops.mime.conform import conform, merge_repeated
from mimeops.mime.headers import Field, HeaderBlock
from mimeops.mime.line_breaks import crlf
from mimeops.mime.validate import long_line, structure_reason
from mimeops.mime.wrap import front, front_before, part_at, path_of, wrap

ON_ERROR = ("deliver", "retry")
PROTECTED = ("skip", "headers", "wrap")
MODES = ("enforce", "audit")
# The rungs of the fallback ladder, most warned first (see Flow._ladder).
FULL, FRONT, WRAP, HEADERS = "full", "front", "wrap", "headers"
#: The trace field naming the header fields the output check removed.
REMOVED_HEADER = "X-Mimeops-Removed"
# How evaluate() reports each rule to an observer (`mimeops explain`).
MATCHED, FAILED, INACTIVE, STOPPED = "matched", "failed", "inactive", "stopped"
Observer = Callable[["Rule", str, str], None]


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
    #: What the flow fell back to when the full rewrite could not go out warned: a
    #: lesser rewrite ("front", "wrap", "headers") or the flow's fallback action
    #: ("junk", "bounce", "deliver"); None when it did not.
    fallback: str | None = None
    #: "<field>: <why>" for each header field the output check removed (also named in
    #: the message's X-Mimeops-Removed field).
    removed: list[str] = field(default_factory=list)
    #: Should the rewritten message not reach the reader after all (the transport could
    #: not store it): the flow's fallback action ("junk" or "bounce") and the actions
    #: that take it, when a rule that warns ran; None: answer `actions`.
    unstored: tuple[str, list[dict[str, Any]]] | None = None

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary of `mimeops apply` (without the message); `audited`,
        `fallback` and `removed` only when there is one, so plain results keep the plain
        summary."""
        summary = {"changed": self.changed, "skipped": self.skipped,
                   "applied": self.applied, "actions": self.actions, "bare": self.bare}
        extra = {"audited": self.audited, "fallback": self.fallback,
                 "removed": self.removed}
        return summary | {key: value for key, value in extra.items() if value}

    def summary_line(self) -> str:
        """`summary()` as the one line of JSON `mimeops apply` and `explain` print."""
        return json.dumps(self.summary(), separators=(",", ":"))


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

    @property
    def audit(self) -> bool:
        """An audit rule is evaluated and reported, but changes nothing."""
        return self.mode == "audit"

    def effects(self) -> list[str]:
        """What the rule does, as reported: each op as "<rule>:<op>", the action as
        "<rule>:<ACTION>" (the `audited` list of an audit rule)."""
        names = [transform_name(op) for op in self.ops] + (
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
    facts: Facts
    values: SenderValues


@dataclass
class Decision:
    """What the rules decided for one message, before any transform runs."""

    matched: list[Rule]
    audited: list[Rule]
    #: Recipient -> the first matching rule's action naming them.
    assigned: dict[str, Action]
    #: The first matching action for everybody (no `recipients` filter), if any.
    blanket: Action | None
    #: The WorkMail synchronous response these actions add up to.
    response: list[dict[str, Any]]

    def result(self, message: bytes, changed: bool, skipped: str | None,
               applied: list[str], bare: list[str],
               response: list[dict[str, Any]] | None = None) -> Result:
        """A Result with what every outcome carries: the response (unless another one
        is given), the audited effects and the matched rules."""
        return Result(message, changed, skipped, applied,
                      self.response if response is None else response, bare=bare,
                      audited=[effect for rule in self.audited for effect in rule.effects()],
                      matched=[rule.name for rule in self.matched])


class Policy(NamedTuple):
    """Why the body is left alone (None: it is not), and what still runs: "all",
    "skip" (nothing), "headers" (header transforms only) or "wrap"."""

    reason: str | None
    mode: str


class Rewrite(NamedTuple):
    """What the `rewrite` stage made: the edited message, why its body was left alone
    (if it was), the "<rule>:<op>" that changed something, the rules whose transforms
    ran, and whether the body transforms were left out."""

    message: Message
    reason: str | None
    applied: list[str]
    ran: list[Rule]
    headers_only: bool


@dataclass
class Attempt:
    """One rung of the ladder: the rewrite, its output (None: nothing changed), why
    WorkMail would refuse it (None: it would not) and the fields the check removed."""

    rung: str
    done: Rewrite
    out: bytes | None
    problem: str | None
    removed: list[str]

    @property
    def complete(self) -> bool:
        """It can go out, and every transform did all it was there for: no body a
        client shows was left without the banner, no body transform left out."""
        return self.problem is None and not self.done.message.bare_parts \
            and self.rung != HEADERS

    @property
    def warned(self) -> bool:
        """It can go out, and a transform that warns applied (or, a subject tag, ran:
        it did nothing only when the tag is there already)."""
        if self.problem is not None:
            return False
        done = self.done
        return any(warns(op) and (f"{rule.name}:{transform_name(op)}" in done.applied
                                  or not touches_body(op))
                   for rule in done.ran for op in rule.ops
                   if not (done.headers_only and touches_body(op)))


@dataclass
class Flow:
    """Loaded with `load_flow`; apply it to raw message bytes with `apply`."""

    rules: list[Rule]
    internal_domains: frozenset[str] = frozenset()
    on_error: str = "deliver"
    #: skip | headers | wrap; None (the default): wrap for inbound mail from outside the
    #: organization, skip for the rest (docs/fallbacks.md).
    protected: str | None = None
    organization_id: str | None = None
    marker_key: bytes | tuple[bytes, ...] | None = None
    # Activation windows are checked against this clock (timezone-aware).
    clock: Callable[[], datetime] = utc_now
    #: `directory: workmail` in the flow file (the handler attaches the WorkMail API).
    directory_source: str | None = None
    #: Where sender_group, impersonates_user, {sender.*}, ... look (docs: Directory).
    directory: Directory | None = None
    #: What mail a warning rule matched gets when no warned output can be delivered.
    fallback: Fallback = field(default_factory=Fallback)

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

    def apply(self, raw: bytes, envelope: Envelope, *,
              observe: Observer | None = None) -> Result:
        """Run the flow on one message: `raw` is its bytes exactly as received.

        `observe` hears each rule's match verdict (`mimeops explain`): the same run.
        """
        job = self._read(_message_bytes(raw), _checked(envelope))
        decision = self._decide(job, observe)
        unreadable = job.message.unreadable()
        if unreadable:
            # Never guess where a header block ends: a field moved into the body is lost.
            if _warning(decision.matched):
                return self._unwarned(job, decision, unreadable, [])
            return _unchanged(job, decision, unreadable)
        policy = self._policy(job, decision)
        if policy.mode == "skip":
            return _unchanged(job, decision, policy.reason)
        return self._ladder(job, decision, policy)

    # -- stages -------------------------------------------------------------------

    def _read(self, received: bytes, envelope: Envelope) -> Job:
        """The message as the MIME model, the facts conditions read, the template values."""
        raw = crlf(received)
        message = Message(raw)
        senders = header_addresses(message.root.header.get_all("from"))
        facts = self._facts(message, envelope, senders)
        values = SenderValues(
            _values(message, envelope, senders[0][0] if senders else "", facts.sender),
            facts.who)
        return Job(received, raw, envelope, message, facts, values)

    def _decide(self, job: Job, observe: Observer | None) -> Decision:
        """The rules that match and each recipient's action: per recipient, the first
        matching rule whose action names them; for the rest, the first action for all."""
        matched, audited = self.evaluate(job.facts, observe)
        assigned: dict[str, Action] = {}
        blanket: Action | None = None
        for rule in matched:
            if rule.action is None or blanket is not None:
                continue
            for recipient in job.facts.recipients:
                if recipient not in assigned and rule.action.applies_to(recipient):
                    assigned[recipient] = rule.action
            if rule.action.recipients is None:
                blanket = rule.action
        response = actions.respond(assigned, blanket, job.values)
        return Decision(matched, audited, assigned, blanket, response)

    def _policy(self, job: Job, decision: Decision) -> Policy:
        """Why the body is left alone, and what still runs.

        With `protected: headers`, a protected message still gets header ops; with
        `protected: wrap` it is attached whole to a new message that gets them all.
        Without `protected`, inbound mail from outside the organization is wrapped and
        the rest skipped. Under headers and wrap, a report (multipart/report) from
        outside the organization is mail like any other: anyone can send one, so it is
        no way around a warning. A message nobody will receive is never rewritten.
        """
        if not any(rule.ops for rule in decision.matched):
            return Policy(None, "all")
        recipients = job.facts.recipients
        fates = [decision.assigned.get(r, decision.blanket) for r in recipients] \
            or [decision.blanket]
        if all(a is not None and a.type in actions.STOPPING for a in fates):
            return Policy("every recipient is bounced or dropped", "skip")
        protected = self.protected or (
            "wrap" if job.envelope.direction == "INBOUND" and not job.facts.sender_internal
            else "skip")
        reports = protected == "skip" or job.facts.sender_internal
        reason = job.message.hands_off(reports=reports)
        return Policy(reason, "all" if reason is None else protected)

    def _ladder(self, job: Job, decision: Decision, policy: Policy) -> Result:
        """The full rewrite; when a rule that warns ran and it cannot go out warned, the
        lesser rewrites in turn (each from the input again); the first complete one goes
        out, else the first that still warns, else the fallback action."""
        keys = self._marker_keys()
        full = self._attempt(job, decision, policy, keys, FULL)
        if full.complete or not _warning(full.done.ran):
            return self._result(job, decision, full, full)
        tries = [full]
        for rung in _rungs(full, policy):
            attempt = self._attempt(job, decision, policy, keys, rung, full)
            if attempt.complete:
                return self._result(job, decision, attempt, full)
            tries.append(attempt)
        for attempt in tries:
            if attempt.warned:
                return self._result(job, decision, attempt, full)
        reason = f"invalid-output: {full.problem}" if full.problem else \
            "no warned output could be made"
        return self._unwarned(job, decision, reason, _bare(full, full))

    def _attempt(self, job: Job, decision: Decision, policy: Policy, keys: marker.Keys,
                 rung: str, full: Attempt | None = None) -> Attempt:
        """One rewrite and its output check (`rung` FULL edits the message read; every
        other rung reads the input again, so it never sees another attempt's edits)."""
        message = job.message if rung == FULL else Message(job.raw)
        fronts = _bare_paths(full) if rung == FRONT and full is not None else []
        done = self._rewrite(job, decision, policy, keys, message, rung, fronts)
        if not done.message.changed:
            return Attempt(rung, done, None, None, [])
        marks = marker.Marks(keys[0], job.envelope.direction, [r.name for r in done.ran])
        out, problem, removed = _accept(done.message, job.raw, marks)
        return Attempt(rung, done, out, problem, removed)

    def _rewrite(self, job: Job, decision: Decision, policy: Policy, keys: marker.Keys,
                 message: Message, rung: str, fronts: list[tuple[int, ...]]) -> Rewrite:
        """Markers checked (forged ones removed), the structure the transforms need
        (`rung`), and the matching rules' transforms in order."""
        direction = job.envelope.direction
        context = Context(job.envelope, job.values,
                          guard_token=marker.token(keys[0], message, direction))
        done = marker.verified(keys, message, direction)
        ran = [rule for rule in decision.matched if rule.ops and rule.name not in done]
        message, reason, headers_only = _structure(job, message, ran, policy, rung, fronts)
        mail = Mail(message)
        applied = [f"{rule.name}:{transform_name(op)}" for rule in ran for op in rule.ops
                   if not (headers_only and touches_body(op)) and op.apply(mail, context)]
        return Rewrite(message, reason, applied, ran, headers_only)

    def _result(self, job: Job, decision: Decision, attempt: Attempt, full: Attempt) -> Result:
        """The Result of the attempt that goes out (`full`: the first one)."""
        done = attempt.done
        bare = _bare(full, attempt)
        fallback = None if attempt is full else attempt.rung
        skipped = f"invalid-output: {full.problem}" if full.problem else done.reason
        if attempt.out is None or attempt.problem is not None:
            applied = done.applied if attempt.problem is None else []
            result = _unchanged(job, decision, skipped, applied, bare)
        else:
            result = decision.result(attempt.out, True, skipped, done.applied, bare)
            result.removed = attempt.removed
        result.fallback = fallback
        action = self.fallback.action(job.envelope.direction)
        if result.changed and _warning(done.ran) and action != "deliver":
            result.unstored = (action, self.fallback.response(
                job.envelope.direction, decision.assigned, decision.blanket, job.values))
        return result

    def _unwarned(self, job: Job, decision: Decision, reason: str, bare: list[str]) -> Result:
        """No warned output can go out: the message as received, with the flow's
        fallback action (`reason` says why)."""
        direction = job.envelope.direction
        response = self.fallback.response(direction, decision.assigned, decision.blanket,
                                          job.values)
        result = decision.result(job.received, False, reason, [], bare, response)
        result.fallback = self.fallback.action(direction)
        return result

    def _marker_keys(self) -> marker.Keys:
        """Sign with the first key, accept any (rotation); the default when none given."""
        if isinstance(self.marker_key, bytes):
            return (self.marker_key,)
        return tuple(self.marker_key) if self.marker_key else marker.default_keys()


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


def _structure(job: Job, message: Message, ran: list[Rule], policy: Policy, rung: str,
               fronts: list[tuple[int, ...]]) -> tuple[Message, str | None, bool]:
    """The message the transforms edit, why its body is left alone, whether only header
    transforms run.

    FULL: a protected message under `protected: wrap` is attached whole to a new one; a
    message with no text a client shows (only an attachment, an attached message) gets
    a text part in front: else a banner would have nowhere to go. FRONT: that, and a
    text part in front of each body the full rewrite could not enter (`fronts`, where
    they are in its message). WRAP: attached whole, whatever it is. HEADERS: header
    transforms only."""
    if rung == HEADERS:
        return message, policy.reason, True
    writes_body = any(touches_body(op) for rule in ran for op in rule.ops)
    if rung == WRAP or (policy.mode == "wrap" and writes_body):
        return Message(wrap(job.raw, message.root.header)), None, False
    if policy.reason is None and writes_body and not message.bodies() \
            and not message.unreachable():
        message = _reread(message)
        message = Message(front(message.raw, message.root))
    if rung == FRONT:
        message = _reread(message)
        targets = [part for path in fronts if (part := part_at(message.root, path))]
        message = Message(front_before(message.raw, message.root, targets))
    return message, policy.reason, policy.mode == "headers"


def _reread(message: Message) -> Message:
    """`message` with the edits made so far (`verified` removes forged markers) read
    again, so that its tree describes its bytes: new structure is built from both."""
    return Message(message.to_bytes()) if message.changed else message


def _rungs(full: Attempt, policy: Policy) -> list[str]:
    """The lesser rewrites worth trying after `full`, most warned first."""
    body = any(touches_body(op) for rule in full.done.ran for op in rule.ops)
    rungs = []
    if full.problem is None and full.done.message.bare_parts and body:
        rungs.append(FRONT)
    if policy.mode != "wrap" or not body:
        rungs.append(WRAP)
    if body and not full.done.headers_only:
        rungs.append(HEADERS)
    return rungs


def _warning(rules: list[Rule]) -> bool:
    """Whether one of these rules has a transform that warns the reader."""
    return any(warns(op) for rule in rules for op in rule.ops)


def _bare_paths(full: Attempt) -> list[tuple[int, ...]]:
    """Where the bodies the full rewrite could not enter are, in its message's tree."""
    message = full.done.message
    paths = (path_of(message.root, part) for part in message.bare_parts)
    return [path for path in paths if path is not None]


def _bare(full: Attempt, attempt: Attempt) -> list[str]:
    """The bodies named bare by the full rewrite (they stay bare, whatever went in front
    of them) and by the attempt that goes out."""
    return list(dict.fromkeys(full.done.message.bare + attempt.done.message.bare))


def _accept(message: Message, raw: bytes,
            marks: marker.Marks) -> tuple[bytes, str | None, list[str]]:
    """The output, why WorkMail would refuse it (None: it would not), and the header
    fields removed ("<field>: <why>").

    Repeated unique fields merged; the markers written; over-long lines folded,
    re-encoded, or their fields removed and named in a trace field (the line pass reads
    every octet, so `conform` walks the message only when a line is too long; the
    markers are then written again, over what it changed); then the same checks
    WorkMail (and the emulator) apply to an update."""
    header = message.root.header
    removed = merge_repeated(header)
    trace = _trace(header, removed, None)
    marks.write(message)
    out, known = message.render()
    problem = long_line(out)
    if problem:
        problem = conform(message.root, removed)
        _trace(header, removed, trace)
        marks.write(message)
        out, known = message.render()
        problem = problem or long_line(out)
    return out, problem or structure_reason(raw, out, known), removed


def _trace(header: HeaderBlock, removed: list[str], written: Field | None) -> Field | None:
    """The trace field naming the `removed` fields (replacing `written`, the one an
    earlier call wrote): where a reader or an admin finds what the check took out."""
    if written is not None:
        header.fields = [f for f in header.fields if f is not written]
    if not removed:
        return None
    field_ = header.render(REMOVED_HEADER, "; ".join(removed))
    header.append(field_)
    return field_


def _unchanged(job: Job, decision: Decision, reason: str | None,
               applied: list[str] | None = None, bare: list[str] | None = None) -> Result:
    """The message goes out as received (the input object itself)."""
    return decision.result(job.received, False, reason, applied or [], bare or [])


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
