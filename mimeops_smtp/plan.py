"""From the flow's typed decision to what happens to each SMTP recipient.

The flow decides per recipient (`RecipientAction`s: some for named recipients, one for
everybody else). SMTP has no such response, so each recipient of the transaction gets
one fate: delivered as rewritten, delivered with the junk header (MOVE_TO_JUNK),
discarded (DROP) or refused (BOUNCE, with the rule's message). BYPASS_SPAM_CHECK means
nothing past the filter: delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mimeops.flow import ActionType, RecipientAction
from mimeops.mime.addresses import normalize_address


@dataclass
class Plan:
    """Each envelope recipient (as the client spelled it) in exactly one list."""

    deliver: list[str] = field(default_factory=list)
    junk: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    bounce: dict[str, str] = field(default_factory=dict)   # recipient -> bounce message


def plan(decided: Sequence[RecipientAction], recipients: Sequence[str]) -> Plan:
    """Split `recipients` by the action the flow chose for each (first entry naming one wins)."""
    named: dict[str, RecipientAction] = {}
    everybody = RecipientAction.everyone()
    for action in decided:
        if action.recipients is None:
            everybody = action
        for recipient in action.recipients or ():
            named.setdefault(normalize_address(recipient), action)
    fates = Plan()
    for recipient in recipients:
        action = named.get(normalize_address(recipient), everybody)
        if action.type is ActionType.BOUNCE:
            fates.bounce[recipient] = action.bounce_message or ""
        elif action.type is ActionType.DROP:
            fates.drop.append(recipient)
        elif action.type is ActionType.MOVE_TO_JUNK:
            fates.junk.append(recipient)
        else:
            fates.deliver.append(recipient)
    return fates
