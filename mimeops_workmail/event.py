"""The WorkMail Run Lambda event, validated: a malformed one is named, never guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mimeops.errors import PermanentError

SUMMARY_VERSIONS = ("2018-10-10", "2019-07-28")
_MESSAGE_ID = re.compile(r"^[a-z0-9\-]{1,120}$")


class EventError(PermanentError, ValueError):
    """The event is not a WorkMail message-flow event we can act on."""


@dataclass(frozen=True)
class WorkMailEvent:
    message_id: str
    direction: str
    mail_from: str
    recipients: list[str]
    truncated: bool
    invocation_id: str
    summary_version: str


def _address(value: Any, where: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("address"), str):
        raise EventError(f"{where}: expected {{\"address\": \"...\"}}")
    address: str = value["address"]
    return address


def parse(event: Any) -> WorkMailEvent:
    if not isinstance(event, dict):
        raise EventError(f"event: expected a JSON object, got {type(event).__name__}")
    version = event.get("summaryVersion")
    if version not in SUMMARY_VERSIONS:
        raise EventError(f"summaryVersion: expected one of {', '.join(SUMMARY_VERSIONS)}, "
                         f"got {version!r}")
    message_id = event.get("messageId")
    if not isinstance(message_id, str) or not _MESSAGE_ID.match(message_id):
        raise EventError(f"messageId: expected 1-120 characters of [a-z0-9-], got {message_id!r}")
    direction = event.get("flowDirection")
    if direction not in ("INBOUND", "OUTBOUND"):
        raise EventError(f"flowDirection: expected INBOUND or OUTBOUND, got {direction!r}")
    envelope = event.get("envelope")
    if not isinstance(envelope, dict):
        raise EventError("envelope: missing or not an object")
    mail_from = _address(envelope.get("mailFrom"), "envelope.mailFrom")
    recipients = envelope.get("recipients")
    if not isinstance(recipients, list):
        raise EventError("envelope.recipients: expected a list")
    addresses = [_address(r, f"envelope.recipients[{i}]") for i, r in enumerate(recipients)]
    truncated = event.get("truncated", False)
    if not isinstance(truncated, bool):
        raise EventError(f"truncated: expected true or false, got {truncated!r}")
    invocation = event.get("invocationId", "")
    if not isinstance(invocation, str):
        raise EventError("invocationId: expected a string")
    return WorkMailEvent(message_id, direction, mail_from, addresses, truncated, invocation,
                         version)
