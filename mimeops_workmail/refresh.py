"""A value read from outside (the flow, the marker key) and re-read in a warm container.

Lambda keeps a container warm for hours, so whatever it read at cold start must be
read again, every MIMEOPS_CONFIG_TTL seconds, or an update never arrives. Reading can
fail (SSM throttles, a network blip, a new flow with a typo); the rules are:

- no value yet (cold start) and the read failed: the error goes to the caller (the
  message is delivered unchanged), and the next invocation reads again — one
  hiccup never disables the flow for the container's life;
- a value, and the re-read failed: the last good value stays in force, the failure
  is reported once, and the read is tried again `RETRY_AFTER` seconds later (or
  after the TTL, if shorter);
- an invalid value (`permanent` errors, e.g. a flow with a mistake) is not retried on
  every invocation: it is read again after `RETRY_AFTER`, so it is reported
  twice a minute at most, and a fix arrives within that time.

The clock is injected (tests freeze it); the lock keeps a worker thread left over from
a timed-out invocation and the current one from reading at the same time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

RETRY_AFTER = 30.0
"""Seconds before a failed read is tried again, unless it is a cold start's transient failure."""

Report = Callable[[str, Exception, bool], None]
"""Called with (what, error, kept) for each failed read, to log and count it; `kept`: the
last good value stays in force (else there is none)."""


class Refreshing(Generic[T]):
    """`get()` returns the value, reading it when none is held or it is older than the TTL."""

    def __init__(self, what: str, read: Callable[[Report], T], ttl: float, *,
                 permanent: tuple[type[Exception], ...] = (),
                 clock: Callable[[], float] | None = None) -> None:
        self.what = what
        self._read = read
        self._ttl = ttl
        self._permanent = permanent
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._value: T | None = None
        self._has_value = False
        self._next_read = 0.0
        self._error: Exception | None = None  # the last permanent failure, while no value

    def get(self, report: Report) -> T:
        """The value in force; raises the read's error only when there has never been one."""
        now = self._clock()
        if now < self._next_read:
            return self._current()
        # A read already in flight (a left-over worker): use what is held, if anything.
        if not self._lock.acquire(blocking=not self._has_value):
            return self._current()
        try:
            if self._clock() < self._next_read:  # another thread read it meanwhile
                return self._current()
            return self._refresh(report)
        finally:
            self._lock.release()

    def held(self) -> T | None:
        """The last good value, without reading (None before the first good read)."""
        return self._value

    def _refresh(self, report: Report) -> T:
        ttl = max(0.0, self._ttl)
        try:
            value = self._read(report)
        except Exception as error:
            report(self.what, error, self._has_value)
            permanent = isinstance(error, self._permanent)
            if self._has_value or permanent:
                self._next_read = self._clock() + min(ttl, RETRY_AFTER)
            if not self._has_value:
                self._error = error if permanent else None
                raise
            return self._current()
        self._value, self._has_value, self._error = value, True, None
        self._next_read = self._clock() + ttl
        return value

    def _current(self) -> T:
        if self._has_value:
            return self._value  # type: ignore[return-value]  # T may itself be None
        assert self._error is not None  # no value and not due: a permanent failure is held
        raise self._error
