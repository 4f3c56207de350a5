"""One invocation's right to log, count and update the message — revoked when it answers.

The handler runs the work in a thread so that it can answer WorkMail before the
deadline. Python cannot stop that thread: a worker that timed out keeps running,
and Lambda may freeze it and thaw it inside the *next* invocation, where its log
lines would carry another message's correlation id and its metrics would be
flushed with another request's. So the worker does all of that through its
`Invocation`, which the handler closes when it answers; after that every call is
dropped, and `step()` (the deadline check together with the Put) raises Expired.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from mimeops.errors import TransientError


class Expired(TransientError, TimeoutError):
    """The invocation has answered already: this work must not touch the message."""


def count_by(metrics: Metrics, name: str, dimension: str, value: str) -> None:
    """A count with one low-cardinality dimension (a reason or an error code)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1,
                       namespace=metrics.namespace) as metric:
        metric.add_dimension(name=dimension, value=value[:250] or "unknown")


class Invocation:
    """Logging, metrics and the update of one invocation, until `close()`."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self._logger = logger
        self._metrics = metrics
        self._lock = threading.RLock()
        self._open = True
        #: The response, recorded inside the Put's step: a handler that waited for that
        #: step at the deadline answers what the updated message needs.
        self.answer: dict[str, Any] | None = None

    def close(self, wait: float) -> bool:
        """Revoke the worker's rights. An update in progress is waited for up to `wait`
        seconds; False when it was still running (its outcome is then unknown)."""
        finished = self._lock.acquire(timeout=wait)
        self._open = False
        if finished:
            self._lock.release()
        return finished

    @contextmanager
    def step(self) -> Iterator[None]:
        """Check the invocation is still open and do the block, as one step: the handler
        cannot answer between the check and the end of the block (short of `wait`)."""
        with self._lock:
            if not self._open:
                raise Expired("the invocation has already answered")
            yield

    def check(self) -> None:
        """Raise Expired when the invocation has answered (before costly work)."""
        if not self._open:
            raise Expired("the invocation has already answered")

    def log(self, level: str, message: str, **extra: Any) -> None:
        """Log through the handler's logger, unless the invocation has answered."""
        with self._lock:
            if self._open:
                # stacklevel: the location logged is the caller's, not this method
                getattr(self._logger, level)(message, extra=extra, stacklevel=3)

    def metric(self, name: str, unit: MetricUnit, value: float) -> None:
        """Add a metric to this invocation's set, unless it has answered (and flushed)."""
        with self._lock:
            if self._open:
                self._metrics.add_metric(name=name, unit=unit, value=value)

    def count_by(self, name: str, dimension: str, value: str) -> None:
        """`count_by` (module level), unless the invocation has answered."""
        with self._lock:
            if self._open:
                count_by(self._metrics, name, dimension, value)
