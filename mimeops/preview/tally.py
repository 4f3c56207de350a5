"""What `mimeops preview` found: one Outcome per message, added up in a Tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mimeops.flow import Envelope, Flow, Result
from mimeops.flow.implied import implied_envelope
from mimeops.mime import Message
from mimeops.preview.sources import Item

# What `mimeops apply` refuses outright is counted as an error, never as a match.
NOT_A_MESSAGE = "not a message (empty, binary, or no header block)"


@dataclass
class Outcome:
    """One message through the flow: the result, or why there is none."""

    label: str
    before: bytes = b""
    envelope: Envelope | None = None
    result: Result | None = None
    error: str | None = None
    unread: bool = False  # the bytes could not be read at all

    @property
    def bare(self) -> list[str]:
        """Displayed bodies a banner/footer could not go into (`Result.bare`, issue 10)."""
        found = getattr(self.result, "bare", None)
        return list(found) if isinstance(found, list) else []

    @property
    def audited_rules(self) -> list[str]:
        """Names of the audit rules that matched, once each."""
        names = (e.partition(":")[0] for e in (self.result.audited if self.result else []))
        return list(dict.fromkeys(names))


def run_one(flow: Flow, item: Item, direction: str) -> Outcome:
    """Apply `flow` to one message as `mimeops apply` would; faults become the outcome."""
    return read_one(item, lambda label, raw: apply_one(flow, label, raw, direction))


def read_one(item: Item, then: Callable[[str, bytes], Outcome]) -> Outcome:
    """`then(label, bytes)` of the item, or the outcome of an item that cannot be read."""
    try:
        raw = item.read()
    except Exception as error:  # a vanished file, a corrupt mailbox entry
        return Outcome(item.label, error=f"cannot read: {_say(error)}", unread=True)
    return then(item.label, raw)


def apply_one(flow: Flow, label: str, raw: bytes, direction: str) -> Outcome:
    """`run_one` for bytes already read: the flow's result, or why there is none."""
    outcome = Outcome(label, before=raw)
    try:
        message = Message(raw)
        if message.unreadable() == "not-a-message":
            outcome.error = NOT_A_MESSAGE
            return outcome
        outcome.envelope = implied_envelope(message.root.header, direction)
        outcome.result = flow.apply(raw, outcome.envelope)
    except Exception as error:  # the preview reports a fault on a message, and goes on
        outcome.error = _say(error)
    return outcome


def _say(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")[:500]


@dataclass
class Tally:
    """The one-line JSON summary of `mimeops preview` (docs/preview.md).

    `rules` counts, per enforced rule, the messages whose conditions it matched;
    `audited`, per audit rule, the messages it would have acted on. Every rule
    is listed, also with 0, so a rule that never fires shows.
    """

    messages: int = 0
    changed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bare: int = 0
    errors: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    audited: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_flow(cls, flow: Flow) -> Tally:
        """An empty tally listing every rule of `flow`."""
        return cls(rules={r.name: 0 for r in flow.rules if not r.audit},
                   audited={r.name: 0 for r in flow.rules if r.audit})

    def add(self, outcome: Outcome) -> None:
        """Count one message."""
        self.messages += 1
        if outcome.error is not None:
            self.errors += 1
        result = outcome.result
        if result is None:
            return
        self.changed += result.changed
        if result.skipped is not None:
            self.skipped[result.skipped] += 1
        self.bare += bool(outcome.bare)
        for name in result.matched:
            self.rules[name] = self.rules.get(name, 0) + 1
        for name in outcome.audited_rules:
            self.audited[name] = self.audited.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """The summary, keys in the documented order."""
        return {"messages": self.messages, "changed": self.changed,
                "skipped": dict(sorted(self.skipped.items())), "bare": self.bare,
                "errors": self.errors, "rules": self.rules, "audited": self.audited}
