"""The directory-aware conditions (docs/directory.md), on the public Context API.

`sender_group`, `recipient_group` (group names, any case; nested groups count),
`impersonates_user` and `lookalike_domain`. Each asks the context
(`mimeops.mail.Context`), which asks the directory at most once per question per
message (`mimeops.mail.who`). All but `lookalike_domain` need a directory: they say so
(`needs_directory`), and transports refuse at load a flow that uses them without one.
"""

from __future__ import annotations

from typing import Any

from mimeops.errors import FlowError
from mimeops.mail import Context, Mail
from mimeops.ops.base import Builder


class SenderGroup:
    """`sender_group: NAME | [NAMES]`: the internal sender is a member."""

    needs_directory = True

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def matches(self, mail: Mail, context: Context) -> bool:
        return bool(context.sender_groups & self.names)


class RecipientGroup(SenderGroup):
    """`recipient_group: NAME | [NAMES]`: some internal recipient is a member."""

    def matches(self, mail: Mail, context: Context) -> bool:
        return context.recipient_in(self.names)


class ImpersonatesUser:
    """`impersonates_user: true`: an external sender's display name copies a user's."""

    needs_directory = True

    def __init__(self, want: bool) -> None:
        self.want = want

    def matches(self, mail: Mail, context: Context) -> bool:
        return (context.impersonated is not None) == self.want


class LookalikeDomain(ImpersonatesUser):
    """`lookalike_domain: true`: the From or envelope domain imitates an internal one."""

    needs_directory = False

    def matches(self, mail: Mail, context: Context) -> bool:
        return (context.lookalike is not None) == self.want


def _names(value: Any, where: str) -> frozenset[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise FlowError(f"{where}: expected a group name or a list of group names, got {value!r}")
    return frozenset(i.strip().lower() for i in items)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise FlowError(f"{where}: expected true or false, got {value!r}")
    return value


BUILDERS: dict[str, Builder] = {
    "sender_group": lambda value, where: SenderGroup(_names(value, where)),
    "recipient_group": lambda value, where: RecipientGroup(_names(value, where)),
    "impersonates_user": lambda value, where: ImpersonatesUser(_flag(value, where)),
    "lookalike_domain": lambda value, where: LookalikeDomain(_flag(value, where)),
}
