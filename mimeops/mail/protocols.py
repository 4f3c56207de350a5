"""What a flow asks of a transform and of a condition: two small protocols.

Built-in ops and a plugin's classes are used the same way; nothing has to subclass
anything (a class with the right methods will do).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mimeops.mail.context import Context
from mimeops.mail.view import Mail


@runtime_checkable
class Transform(Protocol):
    """One step of a rule's `apply` list: edits the mail in place.

    `apply` returns True when it changed the mail. A class attribute `touches_body =
    True` marks a transform that edits bodies: the flow's `protected` setting then
    applies to it as to `banner` (signed, encrypted, ... messages keep their bodies).
    `needs_directory = True` marks one that reads the directory (`{sender.*}` fields).
    """

    def apply(self, mail: Mail, context: Context) -> bool: ...


@runtime_checkable
class Condition(Protocol):
    """One test of a rule's `when`: whether it holds for this mail.

    `matches` reads the message as it arrived (before any rule's transforms) and must
    not edit it. A class attribute `needs_directory = True` says it asks the directory
    (`context.sender_groups`, ...): a flow using it then needs one, checked at load.
    """

    def matches(self, mail: Mail, context: Context) -> bool: ...


def touches_body(transform: object) -> bool:
    """A transform's `touches_body` attribute (False when it has none)."""
    return bool(getattr(transform, "touches_body", False))


def needs_directory(item: object) -> bool:
    """A transform's or condition's `needs_directory` attribute (False when it has none)."""
    return bool(getattr(item, "needs_directory", False))


def transform_name(transform: object) -> str:
    """How `applied` names a transform: its `name` attribute, else its class name."""
    name = getattr(transform, "name", None)
    return name if isinstance(name, str) and name else type(transform).__name__
