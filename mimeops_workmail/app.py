"""Lambda entry point for a synchronous WorkMail "Run Lambda" email flow rule.

Get the raw message, apply the flow, and when it changed: upload it to S3 and
PutRawMessageContent. Every invocation answers a valid `{"actions": [...]}`
before WorkMail's 15 s limit. On any fault the message is delivered
unchanged, unless the flow says `on_error: retry`: then the invocation fails
fast so WorkMail retries (for mandatory disclaimers). The deadline, or a fault
once a rule that warns matched, answers the flow's fallback action instead
(Junk by default): a sender who can make the flow slow or fail must not get
the message delivered unwarned.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mimeops import Envelope, Flow, RecipientAction, Result
from mimeops.errors import PermanentError, TransientError
from mimeops.flow.core import Pending
from mimeops.flow.fallback import Rung
from mimeops.mime import Message
from mimeops.mime.addresses import header_addresses
from mimeops.mime.validate import rejection_reason
from mimeops_workmail import clients, event, messageflow, response, storage
from mimeops_workmail.config import Config
from mimeops_workmail.invocation import Invocation, count_by

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "mimeops"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mimeops"))

WORKMAIL_LIMIT_MS = 15_000
MARGIN_MS = 1_500  # time left for the answer to travel back to WorkMail
UPDATE_GRACE_S = 1.0  # at the deadline, how long to wait for a Put already under way

_config: Config | None = None


class RetryRequested(TransientError, RuntimeError):
    """Raised under `on_error: retry` so that WorkMail retries the invocation."""


def config() -> Config:
    """This container's flow and marker keys (read, and re-read after the TTL, on use)."""
    global _config
    if _config is None:
        _config = Config()
    return _config


def reset(clock: Callable[[], float] | None = None,
          flow: str | dict[str, object] | None = None) -> None:
    """Forget the flow and keys (tests, or a new MIMEOPS_CONFIG in the same process);
    `clock` (a monotonic seconds function) replaces time.monotonic for the TTL; `flow`
    (a path, YAML text, or a dict that may hold transform objects) replaces
    MIMEOPS_CONFIG (the `workmail` test fixture)."""
    global _config
    _config = Config(clock, flow) if clock is not None or flow is not None else None


@dataclass
class _Outcome:
    response: dict[str, Any] | None = None
    error: BaseException | None = None
    #: Heard from the flow (`Flow.apply(unfinished=...)`): the answer should the worker
    #: miss the deadline, or fault once the rules are matched.
    pending: Pending | None = None

    def hear(self, pending: Pending) -> None:
        self.pending = pending


def _traced(handler: Any) -> Any:
    """X-Ray tracing through powertools Tracer, only with MIMEOPS_TRACING=true: the
    Tracer import alone costs ~235 ms of cold start, in the 15 s budget."""
    if os.environ.get("MIMEOPS_TRACING", "").lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service=logger.service).capture_lambda_handler(handler)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="messageId", clear_state=True)
@_traced
def lambda_handler(raw_event: Any, context: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        ev = event.parse(raw_event)
    except event.EventError as error:
        logger.error("malformed event; answering DEFAULT", extra={"error": str(error)})
        count_by(metrics, "Failed", "error", "MalformedEvent")
        return response.default()
    settings = config()
    remaining = min(context.get_remaining_time_in_millis(), WORKMAIL_LIMIT_MS)
    budget = max(0.0, (remaining - MARGIN_MS) / 1000)
    outcome = _Outcome()
    scope = Invocation(logger, metrics)
    worker = threading.Thread(target=_run, args=(settings, ev, outcome, scope, started + budget),
                              daemon=True,
                              name=f"mimeops-worker-{ev.invocation_id or ev.message_id}")
    worker.start()
    worker.join(budget)
    if not scope.close(UPDATE_GRACE_S if worker.is_alive() else 0):
        logger.warning("deadline passed while the update was being stored; its outcome "
                       "is unknown")
    if worker.is_alive() and scope.answer is not None:  # the Put ended as time ran out
        logger.info("message updated as the deadline passed")
        metrics.add_metric(name="Modified", unit=MetricUnit.Count, value=1)
        outcome = _Outcome(response=scope.answer)
    elif worker.is_alive():
        outcome = _Outcome(error=TimeoutError(f"no answer within {budget:.1f} s"),
                           pending=outcome.pending)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds,
                       value=(time.monotonic() - started) * 1000)
    if outcome.response is not None:
        return outcome.response
    fault = outcome.error or RuntimeError("no outcome")
    code = clients.error_code(fault) or type(fault).__name__
    count_by(metrics, "Failed", "error", code)
    logger.error("processing failed", extra={"error_code": code, "error": str(fault)[:500]})
    if settings.on_error() == "retry" and not isinstance(fault, PermanentError):
        raise RetryRequested(f"{code}: WorkMail will retry this message") from fault
    fallen = outcome.pending.answer(fault) if outcome.pending else None
    if fallen is not None:  # a rule that warns matched (or may): never the inbox unwarned
        action, taken = fallen
        logger.warning("a warning rule matched and no warned message went out; fallback "
                       "action taken", extra={"fallback": str(action), "error_code": code})
        count_by(metrics, "Fallback", "action", str(action))
        return _answer(taken)
    return response.default()  # a permanent error: a retry would fail the same way


def _run(settings: Config, ev: event.WorkMailEvent, outcome: _Outcome,
         scope: Invocation, deadline: float) -> None:
    try:
        flow = settings.current(
            lambda what, error, kept: _read_failed(scope, what, error, kept))
    except PermanentError:  # an invalid flow or configuration: logged and counted when
        outcome.response = response.default()  # read, not again for every message
        return
    except BaseException as error:  # reported by the handler thread
        outcome.error = error
        return
    try:
        if flow.directory is not None:  # no directory call may outlive the answer
            from mimeops_workmail import directory

            directory.start_invocation(deadline)
        outcome.response = _process(flow, ev, scope, outcome.hear)
    except BaseException as error:  # reported by the handler thread
        outcome.error = error


def _fallback_fields(result: Result) -> dict[str, Any]:
    """`fallback` and `removed` for the log line, when there are any."""
    fields = {"fallback": result.fallback and str(result.fallback), "removed": result.removed}
    return {key: value for key, value in fields.items() if value}


def _count_fallback(scope: Invocation, fallback: Rung | None, reason: str | None) -> None:
    """`Fallback` (by `action`: junk, bounce, deliver) when no warned output could be
    made, with a warning in the log; `LesserRewrite` (by `rewrite`: front, wrap,
    headers) when the warning went out in a lesser form."""
    if fallback is None:
        return
    if fallback.is_action:
        scope.log("warning", "a warning rule matched and no warned output WorkMail accepts "
                  "could be made; fallback action taken", fallback=str(fallback),
                  reason=(reason or "")[:500])
        scope.count_by("Fallback", "action", str(fallback))
    else:
        scope.count_by("LesserRewrite", "rewrite", str(fallback))


def _unstored(scope: Invocation, result: Result,
              answer: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """The answer for when the rewritten message cannot be stored: the flow's fallback
    action when a rule that warns ran (counted and logged as such), else `answer`."""
    def fallen() -> dict[str, Any]:
        if result.unstored is None:
            return answer
        action, taken = result.unstored
        _count_fallback(scope, action, "the updated message could not be stored")
        return _answer(taken)

    return fallen


def _answer(taken: tuple[RecipientAction, ...]) -> dict[str, Any]:
    """The response for a fallback's recipient actions, checked like every answer."""
    actions = [entry.workmail() for entry in taken]
    response.validate(actions)
    return {"actions": actions}


def _read_failed(scope: Invocation, what: str, error: Exception, kept: bool) -> None:
    """A failed read of the flow or the marker key: logged and counted, never fatal."""
    invalid = isinstance(error, PermanentError)
    then = ("keeping the last good one until a read succeeds" if kept
            else "delivering messages unchanged until a read succeeds")
    scope.log("error", f"{'invalid' if invalid else 'cannot read'} {what}; {then}",
              error=str(error)[:500])
    slug = what.split(" (")[0].replace(" ", "-") + ("-invalid" if invalid else "")
    scope.count_by("ConfigReadFailed", "what", slug)


def _process(flow: Flow, ev: event.WorkMailEvent, scope: Invocation,
             unfinished: Callable[[Pending], None]) -> dict[str, Any]:
    try:
        raw = messageflow.get(ev.message_id)
    except Exception as error:
        if clients.error_code(error) == "ResourceNotFoundException":
            scope.log("warning", "message not found (expired or unknown); answering DEFAULT")
            return response.default()
        raise
    recipients = ev.recipients
    if ev.truncated:
        # The event's list was cut at 128 KB: the headers name the rest.
        header = Message(raw).root.header
        named = [a for _, a in header_addresses(header.get_all("to") + header.get_all("cc"))]
        recipients = list(dict.fromkeys([*recipients, *named]))
    result = flow.apply(raw, Envelope(ev.direction, ev.mail_from, recipients),
                        unfinished=unfinished)
    scope.metric("Processed", MetricUnit.Count, 1)
    scope.metric("MessageBytes", MetricUnit.Bytes, len(raw))
    if result.skip is not None:
        # "invalid-output: <detail>" is counted by its kind; the detail goes to the log.
        scope.count_by("Skipped", "reason", result.skip.label)
    for bare in result.bare:
        # By kind ("unknown transfer encoding", "nesting limit"), never by a sender's label.
        scope.count_by("Bare", "reason", " ".join(bare.partition(": ")[2].split()[:3]).rstrip(":"))
    for rule in result.matched:
        scope.count_by("RuleApplied", "rule", rule)
    if result.audited:
        audited = list(dict.fromkeys(effect.partition(":")[0] for effect in result.audited))
        for rule in audited:
            scope.count_by("RuleAudited", "rule", rule)
        scope.log("info", "audit rules matched; nothing was changed for them",
                  audited=result.audited)
    scope.log("info", "flow applied", changed=result.changed, skipped=result.skipped,
              applied=result.applied, bare=result.bare, bytes=len(raw),
              **_fallback_fields(result))
    _count_fallback(scope, result.fallback, result.skipped)
    answer = response.respond(result)
    if not result.changed:
        return answer
    # Should the update not reach the reader after all: the flow's fallback action.
    unstored = _unstored(scope, result, answer)
    invalid = rejection_reason(raw, result.message)
    if invalid:
        # The same rules WorkMail applies: a Put that would be refused is not made.
        scope.log("error", "updated message would be rejected; delivered unchanged",
                  reason=invalid[:500])
        scope.count_by("Invalid", "reason", invalid.split(" ")[0])
        return unstored()
    bucket = os.environ.get("MIMEOPS_BUCKET", "")
    if not bucket:
        raise RuntimeError("MIMEOPS_BUCKET is not set: cannot store the updated message")
    key = storage.object_key(os.environ.get("MIMEOPS_KEY_PREFIX", "updated/"),
                             ev.message_id, ev.invocation_id)
    scope.check()  # no upload for an invocation that has answered
    reference = storage.put(clients.client("s3"), bucket, key, result.message)
    try:
        with scope.step():  # the deadline check, the Put and its answer: one step
            messageflow.put(ev.message_id, reference)
            scope.answer = answer
    except Exception as error:
        code = clients.error_code(error)
        if code == "MessageFrozen":
            scope.log("info", "message is frozen (e.g. redirected); delivered unchanged")
            scope.metric("Frozen", MetricUnit.Count, 1)
            return unstored()
        if code == "MessageRejected":
            scope.log("error", "WorkMail rejected the updated message; delivered unchanged",
                      reason=str(error)[:500])
            scope.metric("Rejected", MetricUnit.Count, 1)
            return unstored()
        if code == "InvalidContentLocation":
            scope.log("error", "WorkMail cannot read the S3 object: check the bucket policy "
                      "allows workmail.<region>.amazonaws.com and the bucket is in the "
                      "organization's region", bucket=bucket)
        raise
    scope.metric("Modified", MetricUnit.Count, 1)
    scope.log("info", "message updated", s3_key=key)
    return answer
