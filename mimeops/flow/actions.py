"""Rule actions and the WorkMail synchronous response they add up to.

Per recipient, the first matching rule's action wins; the rest get DEFAULT.
The response is merged to at most 10 actions and checked against the
WorkMail schema before it leaves: an invalid response would make WorkMail
retry and finally apply the rule's fallback action to everybody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mimeops.errors import FlowError
from mimeops.mail.template import Template
from mimeops.mime.addresses import Pattern, patterns

TYPES = ("DEFAULT", "BOUNCE", "DROP", "BYPASS_SPAM_CHECK", "MOVE_TO_JUNK")
INBOUND_ONLY = frozenset({"BYPASS_SPAM_CHECK", "MOVE_TO_JUNK"})
STOPPING = frozenset({"BOUNCE", "DROP"})
MAX_ACTIONS = 10
DEFAULT_BOUNCE = "Message rejected by policy."


@dataclass(frozen=True)
class Action:
    type: str
    message: Template | None = None
    recipients: tuple[Pattern, ...] | None = None

    def applies_to(self, recipient: str) -> bool:
        return self.recipients is None or any(p.matches(recipient) for p in self.recipients)

    def render(self, values: Mapping[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        if self.type == "BOUNCE":
            text = self.message.render(values).strip() if self.message else ""
            body["parameters"] = {"bounceMessage": text or DEFAULT_BOUNCE}
        return body


DEFAULT_ACTION = Action("DEFAULT")


def default_response() -> list[dict[str, Any]]:
    """DEFAULT for every recipient: what WorkMail gets when nothing else applies."""
    return [{"action": DEFAULT_ACTION.render({}), "allRecipients": True}]


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
    if message is not None and kind != "BOUNCE":
        raise FlowError(f"{where}.message: only a BOUNCE carries a message")
    recipients = spec.get("recipients")
    return Action(
        kind,
        Template(message, f"{where}.message") if message is not None else None,
        tuple(patterns(recipients, f"{where}.recipients")) if recipients is not None else None,
    )


def respond(
    assigned: dict[str, Action], blanket: Action | None, values: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The response: one entry per distinct targeted action, then the action for
    everybody else (`blanket`, the first rule's action without a recipients
    filter, or DEFAULT) with `allRecipients: true`."""
    fallback = blanket or DEFAULT_ACTION
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for recipient, action in assigned.items():
        if action is fallback or action.type == fallback.type == "DEFAULT":
            continue
        rendered = action.render(values)
        key = repr(sorted(rendered.items()))
        groups.setdefault(key, (rendered, []))[1].append(recipient)
    if len(groups) > MAX_ACTIONS - 1:
        # Merge by type: the first bounce message speaks for all bounces.
        merged: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for rendered, names in groups.values():
            merged.setdefault(rendered["type"], (rendered, []))[1].extend(names)
        groups = merged
    response: list[dict[str, Any]] = [
        {"action": rendered, "recipients": names} for rendered, names in groups.values()]
    response.append({"action": fallback.render(values), "allRecipients": True})
    validate(response)
    return response


def validate(response: list[dict[str, Any]]) -> None:
    """Raise ValueError unless `response` is a valid WorkMail synchronous response."""
    if not 1 <= len(response) <= MAX_ACTIONS:
        raise ValueError(f"response has {len(response)} actions (1 to {MAX_ACTIONS} allowed)")
    for entry in response:
        action = entry.get("action", {})
        if action.get("type") not in TYPES:
            raise ValueError(f"invalid action type {action.get('type')!r}")
        if action["type"] == "BOUNCE" and not action.get("parameters", {}).get("bounceMessage"):
            raise ValueError("a BOUNCE needs parameters.bounceMessage")
        has_all = entry.get("allRecipients") is True
        has_list = isinstance(entry.get("recipients"), list) and entry["recipients"]
        if has_all == bool(has_list):
            raise ValueError("each action needs allRecipients: true or a recipients list")
