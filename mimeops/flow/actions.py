"""Rule actions, and the typed decision they add up to for each recipient.

Per recipient, the first matching rule's action wins; the rest get DEFAULT. The
decision is a short list of `RecipientAction`s (typed values, not wire JSON): one per
distinct action for named recipients, then the action for everybody else. Transports
turn it into their own wire format at the edge: the WorkMail synchronous response
(`RecipientAction.workmail`, shown as `Result.actions` and in the CLI summary; checked
against WorkMail's schema in `mimeops_workmail.response`), SMTP replies and DSNs
(`mimeops_smtp.plan`). The list never holds more than the 10 entries WorkMail takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mimeops.errors import FlowError
from mimeops.mail.template import Template
from mimeops.mime.addresses import Pattern, patterns


class ActionType(StrEnum):
    """What happens to a recipient's copy (WorkMail's synchronous action types)."""

    DEFAULT = "DEFAULT"
    BOUNCE = "BOUNCE"
    DROP = "DROP"
    BYPASS_SPAM_CHECK = "BYPASS_SPAM_CHECK"
    MOVE_TO_JUNK = "MOVE_TO_JUNK"


TYPES = tuple(ActionType)
INBOUND_ONLY = frozenset({ActionType.BYPASS_SPAM_CHECK, ActionType.MOVE_TO_JUNK})
STOPPING = frozenset({ActionType.BOUNCE, ActionType.DROP})
MAX_ACTIONS = 10
DEFAULT_BOUNCE = "Message rejected by policy."


@dataclass(frozen=True)
class RecipientAction:
    """One entry of the decision: what happens to `recipients` (None: to every
    recipient no earlier entry names)."""

    type: ActionType
    recipients: tuple[str, ...] | None = None
    #: The bounce text (BOUNCE only), rendered for this message.
    bounce_message: str | None = None

    @classmethod
    def everyone(cls, kind: ActionType = ActionType.DEFAULT,
                 bounce_message: str | None = None) -> RecipientAction:
        """`kind` for every recipient (DEFAULT: deliver as usual)."""
        return cls(kind, None, bounce_message)

    def workmail(self) -> dict[str, Any]:
        """This entry in the WorkMail synchronous response's wire form."""
        action: dict[str, Any] = {"type": self.type.value}
        if self.type is ActionType.BOUNCE:
            action["parameters"] = {"bounceMessage": self.bounce_message or DEFAULT_BOUNCE}
        if self.recipients is None:
            return {"action": action, "allRecipients": True}
        return {"action": action, "recipients": list(self.recipients)}


@dataclass(frozen=True)
class Action:
    """A rule's `action`, as the flow file gives it."""

    type: ActionType
    message: Template | None = None
    recipients: tuple[Pattern, ...] | None = None

    def applies_to(self, recipient: str) -> bool:
        return self.recipients is None or any(p.matches(recipient) for p in self.recipients)

    @property
    def needs_directory(self) -> bool:
        """A bounce text with {sender.*} fields reads the directory."""
        return self.message is not None and self.message.directory

    def decide(self, values: Mapping[str, str],
               recipients: tuple[str, ...] | None = None) -> RecipientAction:
        """This action for `recipients` (None: everybody else), its text rendered."""
        text = None
        if self.type is ActionType.BOUNCE:
            text = (self.message.render(values).strip() if self.message else "") \
                or DEFAULT_BOUNCE
        return RecipientAction(self.type, recipients, text)


DEFAULT_ACTION = Action(ActionType.DEFAULT)


def parse(spec: Any, where: str) -> Action:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise FlowError(f"{where}: expected a mapping with 'type', got {type(spec).__name__}")
    unknown = set(spec) - {"type", "message", "recipients"}
    if unknown:
        raise FlowError(f"{where}: unknown field {sorted(unknown)[0]!r} "
                        "(expected: type, message, recipients)")
    kind = spec.get("type")
    if kind not in TYPES:
        raise FlowError(f"{where}.type: expected one of {', '.join(TYPES)}, got {kind!r}")
    message = spec.get("message")
    if message is not None and kind != ActionType.BOUNCE:
        raise FlowError(f"{where}.message: only a BOUNCE carries a message")
    recipients = spec.get("recipients")
    return Action(
        ActionType(kind),
        Template(message, f"{where}.message") if message is not None else None,
        tuple(patterns(recipients, f"{where}.recipients")) if recipients is not None else None,
    )


def decide(assigned: dict[str, Action], blanket: Action | None,
           values: Mapping[str, str]) -> tuple[RecipientAction, ...]:
    """One entry per distinct targeted action (recipients in order), then the action for
    everybody else (`blanket`, the first rule's action without a recipients filter, or
    DEFAULT). Past 10 entries, entries of one type merge: the first bounce message
    speaks for all bounces."""
    fallback = blanket or DEFAULT_ACTION
    groups: dict[tuple[ActionType, str | None], list[str]] = {}
    for recipient, action in assigned.items():
        if action is fallback or action.type == fallback.type == ActionType.DEFAULT:
            continue
        entry = action.decide(values)
        groups.setdefault((entry.type, entry.bounce_message), []).append(recipient)
    if len(groups) > MAX_ACTIONS - 1:
        merged: dict[tuple[ActionType, str | None], list[str]] = {}
        first: dict[ActionType, str | None] = {}
        for (kind, text), names in groups.items():
            merged.setdefault((kind, first.setdefault(kind, text)), []).extend(names)
        groups = merged
    return (*(RecipientAction(kind, tuple(names), text)
              for (kind, text), names in groups.items()),
            fallback.decide(values))
