"""The `Directory` protocol: the three questions flows ask about the organization.

Two implementations answer them: the static directory file (`--directory DIR.yaml`,
tests) in `mimeops.directory.static`, and the WorkMail API in
`mimeops_workmail.directory`. Both are wrapped in `mimeops.directory.cache.CachedDirectory`
where mail is waiting. Addresses are compared lower-cased; group names too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mimeops.directory.records import User


class Directory(Protocol):
    """Read-only view of an organization's users and groups.

    Any lookup may raise `DirectoryUnavailable` (a network fault, a timeout): the flow's
    `on_error` then decides what happens to the message.
    """

    def user(self, address: str) -> User | None:
        """The user whose primary address or alias is `address`; None when there is none."""
        ...

    def groups(self, address: str) -> frozenset[str]:
        """Lower-cased names of the groups the entity at `address` belongs to, nested
        groups included (a group's own address counts as the group itself)."""
        ...

    def people(self) -> Sequence[User]:
        """Every user (at least email and display name): the impersonation index."""
        ...
