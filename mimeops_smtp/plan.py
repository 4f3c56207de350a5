"""From the flow's WorkMail-style actions to what happens to each SMTP recipient.

The flow answers as it would to WorkMail: a list of actions, some for named
recipients and one for everybody else. SMTP has no such response, so each
recipient of the transaction gets one fate: delivered as rewritten, delivered
with the junk header (MOVE_TO_JUNK), discarded (DROP) or refused (BOUNCE, with
the rule's message). BYPASS_SPAM_CHECK means nothing past the filter: delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mimeops.mime.addresses import normalize_address


@dataclass
class Plan:
    """Each envelope recipient (as the client spelled it) in exactly one list."""

    deliver: list[str] = field(default_factory=list)
    junk: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    bounce: dict[str, str] = field(default_factory=dict)   # recipient -> bounce message


def plan(actions: Sequence[Mapping[str, Any]], recipients: Sequence[str]) -> Plan:
    """Split `recipients` by the action the flow chose for each (first entry naming one wins)."""
    named: dict[str, Mapping[str, Any]] = {}
    everybody: Mapping[str, Any] = {"type": "DEFAULT"}
    for entry in actions:
        if entry.get("allRecipients") is True:
            everybody = entry["action"]
        for recipient in entry.get("recipients") or ():
            named.setdefault(normalize_address(recipient), entry["action"])
    fates = Plan()
    for recipient in recipients:
        action = named.get(normalize_address(recipient), everybody)
        kind = action.get("type")
        if kind == "BOUNCE":
            fates.bounce[recipient] = str(action.get("parameters", {}).get("bounceMessage", ""))
        elif kind == "DROP":
            fates.drop.append(recipient)
        elif kind == "MOVE_TO_JUNK":
            fates.junk.append(recipient)
        else:
            fates.deliver.append(recipient)
    return fates
