"""Lambda entry point for a synchronous WorkMail "Run Lambda" email flow rule.

Get the raw message, apply the flow, and when it changed: upload it to S3 and
PutRawMessageContent. Every invocation answers a valid `{"actions": [...]}`
before WorkMail's 15 s limit. On any fault the message is delivered
unchanged, unless the flow says `on_error: retry`: then the invocation fails
fast so WorkMail retries (for mandatory disclaimers).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from mimeops import Envelope, Flow, FlowError
from mimeops.flow import actions
from mimeops.flow.addresses import header_addresses
from mimeops.mime import Message
from mimeops.mime.validate import rejection_reason
from mimeops_workmail import clients, config, event, messageflow, storage

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "mimeops"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mimeops"))

WORKMAIL_LIMIT_MS = 15_000
MARGIN_MS = 1_500  # time left for the answer to travel back to WorkMail

_flow: Flow | None = None
_flow_error: FlowError | None = None


class RetryRequested(RuntimeError):
    """Raised under `on_error: retry` so that WorkMail retries the invocation."""


def _count_by(name: str, dimension: str, value: str) -> None:
    """A count with one low-cardinality dimension (a reason or an error code)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1,
                       namespace=metrics.namespace) as metric:
        metric.add_dimension(name=dimension, value=value[:250] or "unknown")


def _default() -> dict[str, Any]:
    return {"actions": actions.default_response()}


def load_flow_once() -> Flow | None:
    """The flow, loaded at most once per container; None (logged once) when invalid."""
    global _flow, _flow_error
    if _flow is None and _flow_error is None:
        try:
            _flow = config.load()
        except FlowError as error:
            _flow_error = error
            logger.error("invalid flow; delivering every message unchanged",
                         extra={"error": str(error)})
    return _flow


def reset() -> None:
    """Forget the cached flow (tests, or a new MIMEOPS_CONFIG in the same process)."""
    global _flow, _flow_error
    _flow, _flow_error = None, None


@dataclass
class _Outcome:
    response: dict[str, Any] | None = None
    error: BaseException | None = None


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
        _count_by("Failed", "error", "MalformedEvent")
        return _default()
    flow = load_flow_once()
    if flow is None:
        _count_by("Failed", "error", "InvalidFlow")
        return _default()

    remaining = min(context.get_remaining_time_in_millis(), WORKMAIL_LIMIT_MS)
    budget = max(0.0, (remaining - MARGIN_MS) / 1000)
    outcome = _Outcome()
    deadline_passed = threading.Event()
    worker = threading.Thread(target=_run, args=(flow, ev, outcome, deadline_passed),
                              daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        deadline_passed.set()  # the worker will not Put after this
        outcome = _Outcome(error=TimeoutError(f"no answer within {budget:.1f} s"))
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds,
                       value=(time.monotonic() - started) * 1000)
    if outcome.response is not None:
        return outcome.response
    fault = outcome.error or RuntimeError("no outcome")
    code = clients.error_code(fault) or type(fault).__name__
    _count_by("Failed", "error", code)
    logger.error("processing failed", extra={"error_code": code, "error": str(fault)[:500]})
    if flow.on_error == "retry":
        raise RetryRequested(f"{code}: WorkMail will retry this message") from fault
    return _default()


def _run(flow: Flow, ev: event.WorkMailEvent, outcome: _Outcome,
         deadline_passed: threading.Event) -> None:
    try:
        outcome.response = _process(flow, ev, deadline_passed)
    except BaseException as error:  # reported by the handler thread
        outcome.error = error


def _process(flow: Flow, ev: event.WorkMailEvent,
             deadline_passed: threading.Event) -> dict[str, Any]:
    try:
        raw = messageflow.get(ev.message_id)
    except Exception as error:
        if clients.error_code(error) == "ResourceNotFoundException":
            logger.warning("message not found (expired or unknown); answering DEFAULT")
            return _default()
        raise
    recipients = ev.recipients
    if ev.truncated:
        # The event's list was cut at 128 KB: the headers name the rest.
        header = Message(raw).root.header
        named = [a for _, a in header_addresses(header.get_all("to") + header.get_all("cc"))]
        recipients = list(dict.fromkeys([*recipients, *named]))
    result = flow.apply(raw, Envelope(ev.direction, ev.mail_from, recipients))
    metrics.add_metric(name="Processed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MessageBytes", unit=MetricUnit.Bytes, value=len(raw))
    if result.skipped:
        # "invalid-output: <detail>" is counted by its kind; the detail goes to the log.
        _count_by("Skipped", "reason", result.skipped.partition(":")[0])
    for bare in result.bare:
        # By kind ("unknown transfer encoding", "nesting limit"), never by a sender's label.
        _count_by("Bare", "reason", " ".join(bare.partition(": ")[2].split()[:3]).rstrip(":"))
    logger.info("flow applied", extra={"changed": result.changed, "skipped": result.skipped,
                                       "applied": result.applied, "bare": result.bare,
                                       "bytes": len(raw)})
    response = {"actions": result.actions}
    if not result.changed:
        return response
    invalid = rejection_reason(raw, result.message)
    if invalid:
        # The same rules WorkMail applies: a Put that would be refused is not made.
        logger.error("updated message would be rejected; delivered unchanged",
                     extra={"reason": invalid[:500]})
        _count_by("Invalid", "reason", invalid.split(" ")[0])
        return response
    if deadline_passed.is_set():
        raise TimeoutError("deadline passed before the update")
    bucket = os.environ.get("MIMEOPS_BUCKET", "")
    if not bucket:
        raise FlowError("MIMEOPS_BUCKET is not set: cannot store the updated message")
    key = storage.object_key(os.environ.get("MIMEOPS_KEY_PREFIX", "updated/"),
                             ev.message_id, ev.invocation_id)
    reference = storage.put(clients.client("s3"), bucket, key, result.message)
    if deadline_passed.is_set():
        raise TimeoutError("deadline passed before the update")
    try:
        messageflow.put(ev.message_id, reference)
    except Exception as error:
        code = clients.error_code(error)
        if code == "MessageFrozen":
            logger.info("message is frozen (e.g. redirected); delivered unchanged")
            metrics.add_metric(name="Frozen", unit=MetricUnit.Count, value=1)
            return response
        if code == "MessageRejected":
            logger.error("WorkMail rejected the updated message; delivered unchanged",
                         extra={"reason": str(error)[:500]})
            metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
            return response
        if code == "InvalidContentLocation":
            logger.error("WorkMail cannot read the S3 object: check the bucket policy allows "
                         "workmail.<region>.amazonaws.com and the bucket is in the "
                         "organization's region", extra={"bucket": bucket})
        raise
    metrics.add_metric(name="Modified", unit=MetricUnit.Count, value=1)
    logger.info("message updated", extra={"s3_key": key})
    return response
