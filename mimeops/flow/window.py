"""A rule's activation window (`active: {from: ..., until: ...}`): for time-limited notices.

Both ends are ISO 8601 date-times with a time zone (`2026-12-24T00:00:00+01:00`,
`...Z`); a time without a zone would mean a different instant on every Lambda,
so the loader refuses it. `from` is inclusive, `until` exclusive; either may be
left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mimeops.errors import FlowError

KEYS = ("from", "until")


@dataclass(frozen=True)
class Window:
    """When a rule is in force; outside it the rule does not match."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, now: datetime) -> bool:
        """Whether `now` (timezone-aware) falls inside the window."""
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "the start"
        end = self.end.isoformat() if self.end else "no end"
        return f"from {start} until {end}"


def _instant(value: Any, where: str) -> datetime:
    # YAML turns unquoted timestamps into datetime (or date) objects itself.
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date) or not isinstance(value, str):
        raise FlowError(f"{where}: expected an ISO 8601 date-time with a time zone, "
                        f"like 2026-12-24T00:00:00Z, got {value!r}")
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FlowError(f"{where}: {value!r} is not an ISO 8601 date-time "
                            "(like 2026-12-24T00:00:00Z)") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FlowError(f"{where}: {str(value)!r} has no time zone; add Z or an offset "
                        "like +01:00")
    return moment


def parse(spec: Any, where: str) -> Window:
    """The window of `active:`, or a FlowError naming the field at fault."""
    if not isinstance(spec, dict) or not spec:
        raise FlowError(f"{where}: expected a mapping with from and/or until")
    unknown = [k for k in spec if k not in KEYS]
    if unknown:
        raise FlowError(f"{where}: unknown field {unknown[0]!r} (expected: from, until)")
    start = _instant(spec["from"], f"{where}.from") if "from" in spec else None
    end = _instant(spec["until"], f"{where}.until") if "until" in spec else None
    if start is not None and end is not None and end <= start:
        raise FlowError(f"{where}: until ({end.isoformat()}) is not after from "
                        f"({start.isoformat()})")
    return Window(start, end)
