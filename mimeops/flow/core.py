"""A flow: rules evaluated against one message, transforms applied, actions answered.

`Flow.apply` is a pipeline of named stages over one `Job` (a message on its way):

    read      the bytes into the MIME model; the Mail and Context conditions read
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
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from mimeops.directory.base import Directory
from mimeops.flow import actions, marker
from mimeops.flow.actions import Action, RecipientAction
from mimeops.flow.conditions import Verdict, When
from mimeops.flow.fallback import Fallback, Rung
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
    warns,
)
from mimeops.mime import Message, words
from mimeops.mime.addresses import domain_of, header_addresses
from mimeops.mime.conform import conform, merge_repeated
from mimeops.mime.headers import Field, HeaderBlock
from mimeops.mime.line_breaks import crlf
from mimeops.mime.validate import long_line, structure_reason
from mimeops.mime.wrap import path_of, wrap

ON_ERROR = ("deliver", "retry")
PROTECTED = ("skip", "headers", "wrap")
MODES = ("enforce", "audit")
#: The trace field naming the header fields the output check removed.
REMOVED_HEADER = "X-Mimeops-Removed"
# How evaluate() reports each rule to an observer (`mimeops explain`).
MATCHED, FAILED, INACTIVE, STOPPED = "matched", "failed", "inactive", "stopped"
Observer = Callable[["Rule", str, str], None]
#: What a flow answers when a warning cannot go out: the fallback action (JUNK, BOUNCE)
#: and what each recipient then gets.
Fallen = tuple[Rung, tuple[RecipientAction, ...]]


@dataclass(frozen=True)
class Pending:
    """What a transport answers should `Flow.apply` not return in time, or raise.

    A sender decides how much work a message is (the parse, the conditions, the
    rewrite) and may find a fault: a transport that answers `fallen` then never
    delivers unwarned the mail a rule that warns matched (or, before the rules are
    matched, may match).
    """

    #: The flow's fallback action and each recipient's fate; None: nothing to fall back
    #: to (no rule that warns matched, or the fallback for this direction is `deliver`).
    fallen: Fallen | None
    #: False before the rules are matched: `fallen` then assumes a rule that warns will
    #: match (everybody gets the fallback), which suits a deadline, not a fault (a
    #: directory that cannot answer is the flow's `on_error`). True once they are.
    decided: bool

    def answer(self, error: BaseException) -> Fallen | None:
        """What to answer for `error` (a TimeoutError at the deadline, or the fault
        raised): `fallen` at a deadline, or for a fault once the rules are matched;
        None where the flow's `on_error` decides."""
        return self.fallen if self.decided or isinstance(error, TimeoutError) else None


#: Hears a `Pending` before the message is read and again once the rules are matched;
#: the last one heard holds (`Flow.apply(unfinished=...)`).
Unfinished = Callable[[Pending], None]


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
    #: Where the flow went when the full rewrite could not go out warned: a lesser
    #: rewrite (FRONT, WRAP, HEADERS) or the flow's fallback action (JUNK, BOUNCE,
    #: DELIVER); None when it did not.
    fallback: Rung | None = None
    #: "<field>: <why>" for each header field the output check removed (also named in
    #: the message's X-Mimeops-Removed field).
    removed: list[str] = field(default_factory=list)
    #: Should the rewritten message not reach the reader after all (the transport could
    #: not store it): the flow's fallback action (JUNK or BOUNCE) and what each recipient
    #: then gets, when a rule that warns ran; None: `recipient_actions`.
    unstored: Fallen | None = None

    @property
    def skipped(self) -> str | None:
        """`skip` in words ("signed message (multipart/signed)", "invalid-output: ...")."""
        return None if self.skip is None else str(self.skip)

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The WorkMail synchronous response actions (wire form of `recipient_actions`)."""
        return [action.workmail() for action in self.recipient_actions]

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary of `mimeops apply` (without the message); `audited`,
        `fallback` and `removed` only when there is one, so plain results keep the plain
        summary."""
        summary = {"changed": self.changed, "skipped": self.skipped,
                   "applied": self.applied, "actions": self.actions, "bare": self.bare}
        extra = {"audited": self.audited, "fallback": self.fallback and str(self.fallback),
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

    def result(self, message: bytes, changed: bool, skip: Reason | None,
               applied: list[str], bare: list[str],
               response: tuple[RecipientAction, ...] | None = None) -> Result:
        """A Result with what every outcome carries: the decision (unless another one
        is given), the audited effects and the matched rules."""
        return Result(message, changed, skip, applied,
                      self.response if response is None else response, bare=bare,
                      audited=[effect for rule in self.audited for effect in rule.effects()],
                      matched=[rule.name for rule in self.matched])


class Policy(NamedTuple):
    """Why the body is left alone (None: it is not), and what still runs: "all",
    "skip" (nothing), "headers" (header transforms only) or "wrap"."""

    reason: Reason | None
    mode: str


class Rewrite(NamedTuple):
    """What the `rewrite` stage made: the edited message, why its body was left alone
    (if it was), the "<rule>:<op>" that changed something, the rules whose transforms
    ran, and whether the body transforms were left out."""

    message: Message
    reason: Reason | None
    applied: list[str]
    ran: list[Rule]
    headers_only: bool


@dataclass
class Attempt:
    """One rung of the ladder (`rung` None: the full rewrite): the rewrite, its output
    (None: nothing changed), why WorkMail would refuse it (None: it would not) and the
    fields the check removed."""

    rung: Rung | None
    done: Rewrite
    out: bytes | None
    problem: str | None
    removed: list[str]

    @property
    def complete(self) -> bool:
        """It can go out, and every transform did all it was there for: no body a
        client shows was left without the banner, no body transform left out."""
        return self.problem is None and not self.done.message.bare \
            and self.rung is not Rung.HEADERS

    def completes(self, full: Attempt) -> bool:
        """`complete`, or a FRONT rung that left bare only bodies the full rewrite could
        not enter either (they now have the banner in front; `bare` keeps naming them),
        and no part that could hide the banner (`Message.unconfined`: nothing in front
        helps against those)."""
        if self.complete:
            return True
        bare = set(self.done.message.bare)
        return self.rung is Rung.FRONT and self.problem is None \
            and bare <= set(full.done.message.bare) \
            and not bare & set(self.done.message.unconfined())

    @property
    def warned(self) -> bool:
        """It can go out, and a transform that warns applied (or, a subject tag, ran:
        it did nothing only when the tag is there already)."""
        if self.problem is not None:
            return False
        done = self.done
        return any(warns(op) and (f"{rule.name}:{rule.label(i)}" in done.applied
                                  or not touches_body(op))
                   for rule in done.ran for i, op in enumerate(rule.ops)
                   if not (done.headers_only and touches_body(op)))


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
              observe: Observer | None = None,
              unfinished: Unfinished | None = None) -> Result:
        """Run the flow on one message: `raw` is its bytes exactly as received.

        `observe` hears each rule's match verdict (`mimeops explain`): the same run.
        `unfinished` hears what to answer should this call not return in time or
        raise (`Pending`): before the message is read, and again once the rules are
        matched, before the rewrite. The Lambda handler answers it at its deadline and
        on a fault, the SMTP filter at `--flow-timeout` and on a fault.
        """
        if unfinished is not None:
            unfinished(Pending(self._provisional(_checked(envelope).direction), False))
        job = self.read(raw, envelope)
        decision = self._decide(job, observe)
        why = job.message.unreadable()
        if why:
            # Never guess where a header block ends: a field moved into the body is lost.
            if _warning(decision.matched):
                return self._unwarned(job, decision, unreadable(why), [])
            return _unchanged(job, decision, unreadable(why))
        policy = self._policy(job, decision)
        if unfinished is not None:
            fallen = self._fallen(job, decision, decision.matched)
            unfinished(Pending(None if policy.mode == "skip" else fallen, True))
        if policy.mode == "skip":
            return _unchanged(job, decision, policy.reason)
        return self._ladder(job, decision, policy)

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
        Without `protected`, inbound mail from outside the organization is wrapped and
        the rest skipped. Under headers and wrap, a report (multipart/report) from
        outside the organization is mail like any other: anyone can send one, so it is
        no way around a warning. A message nobody will receive is never rewritten.
        """
        if not any(rule.ops for rule in decision.matched):
            return Policy(None, "all")
        recipients = job.context.recipients
        fates = [decision.assigned.get(r, decision.blanket) for r in recipients] \
            or [decision.blanket]
        if all(a is not None and a.type in actions.STOPPING for a in fates):
            return Policy(Reason(Skip.NOBODY), "skip")
        protected = self.protected or (
            "wrap" if job.envelope.direction == "INBOUND" and not job.context.sender_internal
            else "skip")
        reports = protected == "skip" or job.context.sender_internal
        reason = job.message.hands_off(reports=reports)
        if reason is None:
            return Policy(None, "all")
        return Policy(Reason(Skip.PROTECTED, reason), protected)

    def _ladder(self, job: Job, decision: Decision, policy: Policy) -> Result:
        """The full rewrite; when a rule that warns ran and it cannot go out warned, the
        lesser rewrites in turn (each from the input again); the first complete one goes
        out, else the first that still warns, else the fallback action."""
        keys = self._marker_keys()
        full = self._attempt(job, decision, policy, keys, None)
        if full.complete or not _warning(full.done.ran):
            return self._result(job, decision, full, full)
        tries = [full]
        for rung in _rungs(full, policy):
            attempt = self._attempt(job, decision, policy, keys, rung, full)
            if attempt.completes(full):
                return self._result(job, decision, attempt, full)
            tries.append(attempt)
        for attempt in tries:
            if attempt.warned:
                return self._result(job, decision, attempt, full)
        reason = Reason(Skip.INVALID_OUTPUT, full.problem or "no warned output could be made")
        return self._unwarned(job, decision, reason, _bare(full, full))

    def _attempt(self, job: Job, decision: Decision, policy: Policy, keys: marker.Keys,
                 rung: Rung | None, full: Attempt | None = None) -> Attempt:
        """One rewrite and its output check (`rung` None, the full rewrite, edits the
        message read; every other rung reads the input again, so it never sees another
        attempt's edits)."""
        message = job.message if rung is None else Message(job.raw)
        fronts = _bare_paths(full) if rung is Rung.FRONT and full is not None else []
        done = self._rewrite(job, decision, policy, keys, message, rung, fronts)
        if not done.message.changed:
            return Attempt(rung, done, None, None, [])
        marks = marker.Marks(keys[0], job.envelope.direction, [r.name for r in done.ran])
        out, problem, removed = _accept(done.message, job.raw, marks)
        return Attempt(rung, done, out, problem, removed)

    def _rewrite(self, job: Job, decision: Decision, policy: Policy, keys: marker.Keys,
                 message: Message, rung: Rung | None,
                 fronts: list[tuple[int, ...]]) -> Rewrite:
        """Markers checked (forged ones removed), the structure the transforms need
        (`rung`), and the matching rules' transforms in order."""
        done = marker.verified(keys, message, job.envelope.direction)
        ran = [rule for rule in decision.matched if rule.ops and rule.name not in done]
        message, reason, headers_only = _structure(job, message, ran, policy, rung, fronts)
        mail = Mail(message)
        applied = [f"{rule.name}:{rule.label(i)}" for rule in ran
                   for i, op in enumerate(rule.ops)
                   if not (headers_only and touches_body(op)) and op.apply(mail, job.context)]
        return Rewrite(message, reason, applied, ran, headers_only)

    def _result(self, job: Job, decision: Decision, attempt: Attempt, full: Attempt) -> Result:
        """The Result of the attempt that goes out (`full`: the first one)."""
        done = attempt.done
        bare = _bare(full, attempt)
        skip = Reason(Skip.INVALID_OUTPUT, full.problem) if full.problem else done.reason
        if attempt.out is None or attempt.problem is not None:
            applied = done.applied if attempt.problem is None else []
            result = _unchanged(job, decision, skip, applied, bare)
        else:
            result = decision.result(attempt.out, True, skip, done.applied, bare)
            result.removed = attempt.removed
        result.fallback = attempt.rung
        if result.changed:
            result.unstored = self._fallen(job, decision, done.ran)
        return result

    def _provisional(self, direction: str) -> Fallen | None:
        """`_fallen` before the rules are matched: as if a rule that warns matched, when
        the flow has one it enforces, and everybody got the fallback action."""
        action = self.fallback.action(direction)
        if action is Rung.DELIVER or not _warning([r for r in self.rules if not r.audit]):
            return None
        return action, self.fallback.response(direction, {}, None, {})

    def _fallen(self, job: Job, decision: Decision, ran: list[Rule]) -> Fallen | None:
        """The flow's fallback action and each recipient's fate, for when the warning
        of the rules that `ran` cannot reach the reader; None when none of them warns or
        the fallback is `deliver`."""
        direction = job.envelope.direction
        action = self.fallback.action(direction)
        if not _warning(ran) or action is Rung.DELIVER:
            return None
        return action, self.fallback.response(direction, decision.assigned,
                                              decision.blanket, job.context.values)

    def _unwarned(self, job: Job, decision: Decision, reason: Reason,
                  bare: list[str]) -> Result:
        """No warned output can go out: the message as received, with the flow's
        fallback action (`reason` says why)."""
        direction = job.envelope.direction
        response = self.fallback.response(direction, decision.assigned, decision.blanket,
                                          job.context.values)
        result = decision.result(job.received, False, reason, [], bare, response)
        result.fallback = self.fallback.action(direction)
        return result

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


def _structure(job: Job, message: Message, ran: list[Rule], policy: Policy,
               rung: Rung | None,
               fronts: list[tuple[int, ...]]) -> tuple[Message, Reason | None, bool]:
    """The message the transforms edit, why its body is left alone, whether only header
    transforms run.

    The full rewrite (`rung` None): a protected message under `protected: wrap` is
    attached whole to a new one. A message with no text a client shows (only an
    attachment, an attached message), or where a client that shows every inline part
    shows something before the first body the banner enters (an inline image, an
    attached message, an unreferenced /related part), gets a text part in front of
    everything: else the warning comes second, or nowhere. FRONT: that, and a text part
    in front of each body the full rewrite could not enter (`fronts`, where they are in
    its message). WRAP: attached whole, whatever it is. HEADERS: header transforms only."""
    if rung is Rung.HEADERS:
        return message, policy.reason, True
    writes_body = any(touches_body(op) for rule in ran for op in rule.ops)
    if rung is Rung.WRAP or (policy.mode == "wrap" and writes_body):
        return Message(wrap(job.raw, message.root)), None, False
    reason = policy.reason
    if reason is None and writes_body and not message.unreachable() \
            and (not message.bodies() or message.shown_before_body() is not None):
        message = message.fronted()  # as edited so far: without forged markers
    if rung is Rung.FRONT:
        message = message.fronted_before(fronts)
    return message, reason, policy.mode == "headers"


def _rungs(full: Attempt, policy: Policy) -> list[Rung]:
    """The lesser rewrites worth trying after `full`, most warned first."""
    body = any(touches_body(op) for rule in full.done.ran for op in rule.ops)
    rungs = []
    if full.problem is None and body and _bare_paths(full):
        rungs.append(Rung.FRONT)
    if policy.mode != "wrap" or not body:
        rungs.append(Rung.WRAP)
    if body and not full.done.headers_only:
        rungs.append(Rung.HEADERS)
    return rungs


def _warning(rules: list[Rule]) -> bool:
    """Whether one of these rules has a transform that warns the reader."""
    return any(warns(op) for rule in rules for op in rule.ops)


def _bare_paths(full: Attempt) -> list[tuple[int, ...]]:
    """Where the bodies the full rewrite could not enter are, in its message's tree."""
    message = full.done.message
    paths = (path_of(message.root, part) for part in message.bare_parts())
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


def _unchanged(job: Job, decision: Decision, reason: Reason | None,
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
