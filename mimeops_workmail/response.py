"""The WorkMail synchronous response: the flow's typed decision in WorkMail's wire form.

Built here, at the edge, and checked against WorkMail's schema before it leaves: an
invalid response would make WorkMail retry and finally apply the rule's fallback action
to everybody.
"""

from __future__ import annotations

from typing import Any

from mimeops import Result
from mimeops.flow.actions import MAX_ACTIONS, TYPES, RecipientAction


def respond(result: Result) -> dict[str, Any]:
    """`{"actions": [...]}` for a flow's result, checked."""
    response = {"actions": result.actions}
    validate(response["actions"])
    return response


def default() -> dict[str, Any]:
    """DEFAULT for every recipient: what WorkMail gets when nothing else applies."""
    return {"actions": [RecipientAction.everyone().workmail()]}


def validate(actions: list[dict[str, Any]]) -> None:
    """Raise ValueError unless `actions` is a valid WorkMail synchronous response."""
    if not 1 <= len(actions) <= MAX_ACTIONS:
        raise ValueError(f"response has {len(actions)} actions (1 to {MAX_ACTIONS} allowed)")
    for entry in actions:
        action = entry.get("action", {})
        if action.get("type") not in TYPES:
            raise ValueError(f"invalid action type {action.get('type')!r}")
        if action["type"] == "BOUNCE" and not action.get("parameters", {}).get("bounceMessage"):
            raise ValueError("a BOUNCE needs parameters.bounceMessage")
        has_all = entry.get("allRecipients") is True
        has_list = isinstance(entry.get("recipients"), list) and entry["recipients"]
        if has_all == bool(has_list):
            raise ValueError("each action needs allRecipients: true or a recipients list")
