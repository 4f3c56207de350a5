"""The directory's answers about one message's people (docs/directory.md).

Each message asks the directory at most once per question (`Who` memoizes), and only
when a condition or template needs it: a flow without directory conditions or
`{sender.*}` fields never touches the directory.

The sender looked up is the envelope MAIL FROM, and only when the sender is internal
(envelope and From in internal_domains): an outsider who puts our address in MAIL FROM
gets no colleague's signature fields or group memberships.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from mimeops.directory.base import Directory
from mimeops.directory.lookalike import mimics, name_key
from mimeops.directory.records import EMPTY_VALUES, User
from mimeops.errors import DirectoryMissing
from mimeops.mime.addresses import domain_of

if TYPE_CHECKING:
    from mimeops.mail.context import Context

NO_DIRECTORY = ("the flow uses the directory (sender_group, recipient_group, "
                "impersonates_user or {sender.*} fields) but none is configured: set "
                "'directory: workmail' or pass --directory DIR.yaml")
_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+\.[^\s<>\"'(),;:@]+")


class Who:
    """The directory's answers about one message's sender and recipients."""

    def __init__(self, context: Context, directory: Directory | None) -> None:
        # The context caches its Who: a strong reference back would make a cycle, and
        # every message's parse tree would wait for the garbage collector's rare full
        # pass (a preview of 10,000 messages grew by ~2 KB a message; a warm Lambda too).
        self.context: Context = weakref.proxy(context)
        self._directory = directory

    @property
    def directory(self) -> Directory:
        """The directory; DirectoryMissing (a permanent configuration error) when none is
        set: retrying the message cannot make one appear."""
        if self._directory is None:
            raise DirectoryMissing(NO_DIRECTORY)
        return self._directory

    @cached_property
    def sender_user(self) -> User | None:
        """The organization user who sent this, when the sender is internal."""
        if not self.context.sender_internal:
            return None
        return self.directory.user(self.context.mail_from or self.context.sender)

    @cached_property
    def sender_groups(self) -> frozenset[str]:
        """The internal sender's groups, nested ones included (none for outsiders)."""
        if not self.context.sender_internal:
            return frozenset()
        return self.directory.groups(self.context.mail_from or self.context.sender)

    def recipient_in(self, names: frozenset[str]) -> bool:
        """Some internal recipient is in one of the groups (or is the group's address)."""
        return any(self.directory.groups(r) & names
                   for r in self.context.recipients if self.context.is_internal(r))

    @cached_property
    def impersonated(self) -> str | None:
        """The address of the user an external sender's From display name copies."""
        if self.context.sender_internal:
            return None
        name = self.context.sender_name
        for address in _ADDRESS.findall(name):  # "jane.doe@example.com" <x@evil.example>
            user = self.directory.user(address) if self.context.is_internal(address) else None
            if user is not None:
                return user.email
        keys = _keys(name)
        if not keys:
            return None
        index = _index(self.directory.people())
        for key in keys:
            if key in index:
                return index[key]
        return None

    @cached_property
    def lookalike(self) -> str | None:
        """The internal domain the From or envelope sender's domain imitates."""
        for address in (self.context.sender, self.context.mail_from):
            found = mimics(domain_of(address), self.context.internal_domains)
            if found:
                return found
        return None


_DECORATION = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")
_SEPARATORS = re.compile(r"\s[-|/\u2013\u2014\u2022:]\s|\s(?:via|on behalf of)\s", re.IGNORECASE)


def _keys(name: str) -> list[str]:
    """Comparison keys of a display name: the words in any order, or run together;
    also without decorations an impersonator adds ("Jane Doe (CEO)", "Jane Doe - Legal").
    One word alone (a first name) is no impersonation signal."""
    candidates = [name, _DECORATION.sub(" ", name)]
    for segment in _SEPARATORS.split(candidates[1]):
        candidates += [segment, *segment.split(",")]  # "Jane Doe, CEO"
    keys: list[str] = []
    for candidate in candidates:
        key = name_key(candidate)
        words = key.split()
        if len(words) < 2 and len(key) < 8:
            continue
        keys += [key, "".join(words)] if len(words) > 1 else [key]
    return list(dict.fromkeys(keys))


_memo: tuple[Sequence[User], dict[str, str]] | None = None


def _index(people: Sequence[User]) -> dict[str, str]:
    """display-name key -> address; rebuilt only when the directory's list changes."""
    global _memo
    if _memo is not None and _memo[0] is people:
        return _memo[1]
    index: dict[str, str] = {}
    for user in people:
        names = [user.display_name, f"{user.first_name} {user.last_name}"]
        for name in names:
            words = name_key(name).split()
            if len(words) < 2:
                continue
            for key in (" ".join(sorted(words)), "".join(words), "".join(reversed(words))):
                index.setdefault(key, user.email)
    _memo = (people, index)
    return index


class SenderValues(Mapping[str, str]):
    """Template values; `sender.*` are looked up only when a template reads one."""

    def __init__(self, base: Mapping[str, str], who: Who) -> None:
        self.base = base
        self.who = who

    @cached_property
    def _sender(self) -> dict[str, str]:
        user = self.who.sender_user
        return user.template_values() if user is not None else EMPTY_VALUES

    def __getitem__(self, key: str) -> str:
        if key.startswith("sender."):
            return self._sender[key]
        return self.base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        yield from EMPTY_VALUES

    def __len__(self) -> int:
        return len(self.base) + len(EMPTY_VALUES)
