"""Fault injection: make the emulator fail the way AWS sometimes does.

A handler must survive throttling, 5xx errors, slow responses, frozen messages and
rejected updates; on AWS those are rare and impossible to trigger on purpose. A
:class:`FaultBook` holds pending faults; the request path asks it which ones fire for
the current operation and message, and each firing consumes one of the fault's
``times`` (``-1`` never runs out).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = ("frozen", "rejected", "error5xx", "throttle", "latency")
"""frozen: Put -> MessageFrozen; rejected: Put -> MessageRejected; error5xx: 500
InternalServerException; throttle: 429 ThrottlingException; latency: sleep, then serve."""

DIRECTORY_OPS = ("describe_entity", "describe_user", "list_groups_for_entity", "list_users",
                 "list_group_members")
EXPORT_OPS = ("start_mailbox_export_job", "describe_mailbox_export_job",
              "list_mailbox_export_jobs", "cancel_mailbox_export_job")
FAULT_OPS = ("get", "put", "list_mail_domains", *DIRECTORY_OPS, "directory", *EXPORT_OPS,
             "export", "any")
"""Which operation a fault applies to; "directory" means every directory operation,
"export" every mailbox export operation, "any" every API operation."""
_GROUPS = {"directory": DIRECTORY_OPS, "export": EXPORT_OPS}

PUT_ONLY_KINDS = ("frozen", "rejected")
FRONT_DOOR_KINDS = ("error5xx", "throttle")


@dataclass(eq=False)
class Fault:
    """One pending fault. ``times`` is the number of firings left (-1: unlimited).

    Compared by identity, so consuming one of two identical faults removes that one.
    """

    kind: str
    op: str = "any"
    message_id: str | None = None
    times: int = 1
    seconds: float = 0.0

    def matches(self, op: str, message_id: str | None) -> bool:
        """Whether this fault applies to a request for ``op`` on ``message_id``."""
        if self.op not in ("any", op) and op not in _GROUPS.get(self.op, ()):
            return False
        return self.message_id is None or self.message_id == message_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with the wire-style ``messageId`` name."""
        data = asdict(self)
        data["messageId"] = data.pop("message_id")
        return data


def make_fault(
    kind: str,
    op: str = "any",
    message_id: str | None = None,
    times: int = 1,
    seconds: float = 0.0,
) -> Fault:
    """Validate the arguments of ``Emulator.inject`` and build the fault.

    Raises ValueError for an unknown kind or op, a kind that cannot apply to the op (a
    Get cannot be frozen), a zero or negative ``times`` other than -1, or negative
    ``seconds``: a silently ignored fault would make a resilience test pass vacuously.
    """
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    if op not in FAULT_OPS:
        raise ValueError(f"unknown fault op {op!r}; expected one of {', '.join(FAULT_OPS)}")
    if kind in PUT_ONLY_KINDS and op not in ("put", "any"):
        raise ValueError(f"fault kind {kind!r} applies to op 'put' only, not {op!r}")
    if isinstance(times, bool) or not isinstance(times, int) or (times < 1 and times != -1):
        raise ValueError(f"times must be a positive integer or -1 (always), not {times!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError(f"seconds must be a non-negative number, not {seconds!r}")
    if message_id is not None and not isinstance(message_id, str):
        raise ValueError(f"message_id must be a string or None, not {message_id!r}")
    return Fault(kind, op, message_id, times, float(seconds))


class FaultBook:
    """Thread-safe list of pending faults, fired in injection order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` after those already pending."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault (tests call this between cases)."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """Copies of the pending faults, for inspection."""
        with self._lock:
            return [Fault(**asdict(f)) for f in self._faults]

    def latency(self, op: str, message_id: str | None) -> float:
        """Consume every matching latency fault; return the total delay in seconds."""
        with self._lock:
            fired = [f for f in self._faults if f.kind == "latency" and f.matches(op, message_id)]
            for fault in fired:
                self._consume(fault)
        return sum(f.seconds for f in fired)

    def fire(self, op: str, message_id: str | None, kinds: tuple[str, ...]) -> Fault | None:
        """Consume and return the first pending fault of one of ``kinds`` that matches."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(op, message_id):
                    self._consume(fault)
                    return fault
        return None

    def _consume(self, fault: Fault) -> None:
        if fault.times == -1:
            return
        fault.times -= 1
        if fault.times == 0:
            self._faults.remove(fault)
