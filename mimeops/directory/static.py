"""The static directory file (docs/directory.md): users and groups in YAML, for the CLI and tests.

    users:
      - email: jane.doe@example.com      # primary address
        aliases: [jane@example.com]      # optional
        display_name: Jane Doe
        first_name: Jane
        ...
        groups: [legal, all-staff]       # direct memberships
    groups:
      - name: legal
        email: legal@example.com
        groups: [all-staff]              # optional: legal is itself a member of all-staff

Groups a user names but `groups:` does not list exist with no address. Every mistake
is one line naming the entry and field: `dir.yaml: users[2] (jane@example.com):
unknown field 'titel'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mimeops.directory.records import ATTRIBUTES, User
from mimeops.errors import DirectoryError
from mimeops.mime.addresses import domain_of, normalize_address

_USER_KEYS = ("email", "aliases", *[a for a in ATTRIBUTES if a != "email"], "groups")
_GROUP_KEYS = ("name", "email", "aliases", "groups")
_TOP_KEYS = ("users", "groups")


@dataclass(frozen=True)
class Group:
    """A group: its name, its addresses, and the groups it is itself a member of."""

    name: str
    email: str = ""
    aliases: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass
class StaticDirectory:
    """A `Directory` over fixed users and groups (see the module docstring for the file)."""

    users: list[User] = field(default_factory=list)
    groups_: list[Group] = field(default_factory=list)
    memberships: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._users = {normalize_address(a): u for u in self.users for a in (u.email, *u.aliases)}
        self._groups = {normalize_address(a): g for g in self.groups_
                        for a in (g.email, *g.aliases) if a}
        self._parents = {g.name.lower(): tuple(p.lower() for p in g.groups) for g in self.groups_}

    def user(self, address: str) -> User | None:
        """The user at a primary address or alias."""
        return self._users.get(normalize_address(address))

    def groups(self, address: str) -> frozenset[str]:
        """Every group the user or group at `address` is in, following nested groups."""
        key = normalize_address(address)
        user = self._users.get(key)
        if user is not None:
            todo = [g.lower() for g in self.memberships.get(user.email, ())]
        elif key in self._groups:
            todo = [self._groups[key].name.lower()]
        else:
            return frozenset()
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self._parents.get(name, ()))
        return frozenset(seen)

    def people(self) -> Sequence[User]:
        """Every user."""
        return self.users

    def domains(self) -> frozenset[str]:
        """The domains of every address in the file: the organization's own domains."""
        addresses = [a for u in self.users for a in (u.email, *u.aliases)]
        addresses += [a for g in self.groups_ for a in (g.email, *g.aliases) if a]
        return frozenset(domain_of(a) for a in addresses)


def load_directory(path: str | Path) -> StaticDirectory:
    """Read and check a directory file; DirectoryError (one line) names what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DirectoryError(f"{path}: cannot read directory file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise DirectoryError(f"{path}: directory file is not UTF-8 text") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise DirectoryError(f"{path}: not valid YAML: {problem}{where}") from None
    try:
        return parse_directory(data)
    except DirectoryError as error:
        raise DirectoryError(f"{path}: {error}") from None


def parse_directory(data: Any) -> StaticDirectory:
    """A StaticDirectory from the parsed file (a mapping with `users` and `groups`)."""
    if not isinstance(data, dict) or "users" not in data:
        raise DirectoryError("a directory file is a mapping with a 'users' list "
                             "(and optionally 'groups')")
    _unknown(data, _TOP_KEYS, "directory")
    users: list[User] = []
    memberships: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for i, spec in enumerate(_list(data.get("users"), "users")):
        where = f"users[{i}]"
        if not isinstance(spec, dict):
            raise DirectoryError(f"{where}: expected a mapping with email, display_name, ...")
        where += f" ({spec.get('email')})" if isinstance(spec.get("email"), str) else ""
        _unknown(spec, _USER_KEYS, where)
        email = _address(spec.get("email"), f"{where}: email")
        aliases = tuple(_address(a, f"{where}: aliases")
                        for a in _list(spec.get("aliases"), f"{where}: aliases"))
        for address in (email, *aliases):
            if address in seen:
                raise DirectoryError(f"{where}: {address} is already used by another entry")
            seen.add(address)
        values = {name: _text(spec.get(name), f"{where}: {name}")
                  for name in ATTRIBUTES if name != "email"}
        users.append(User(email=email, aliases=aliases, **values))
        memberships[email] = tuple(_names(spec.get("groups"), f"{where}: groups"))
    groups: list[Group] = []
    for i, spec in enumerate(_list(data.get("groups"), "groups")):
        where = f"groups[{i}]"
        if not isinstance(spec, dict):
            raise DirectoryError(f"{where}: expected a mapping with name and email")
        _unknown(spec, _GROUP_KEYS, where)
        name = _text(spec.get("name"), f"{where}: name")
        if not name:
            raise DirectoryError(f"{where}: name: missing")
        addresses = [_address(spec["email"], f"{where}: email")] if spec.get("email") else []
        aliases = tuple(_address(a, f"{where}: aliases")
                        for a in _list(spec.get("aliases"), f"{where}: aliases"))
        for address in (*addresses, *aliases):
            if address in seen:
                raise DirectoryError(f"{where}: {address} is already used by another entry")
            seen.add(address)
        groups.append(Group(name, addresses[0] if addresses else "", aliases,
                            tuple(_names(spec.get("groups"), f"{where}: groups"))))
    return StaticDirectory(users, groups, memberships)


def _unknown(spec: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in known:
            raise DirectoryError(f"{where}: unknown field {key!r} (expected: {', '.join(known)})")


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DirectoryError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DirectoryError(f"{where}: expected text, got {value!r}")
    return str(value).strip()


def _names(value: Any, where: str) -> list[str]:
    names = [_text(v, where) for v in _list(value, where)]
    if not all(names):
        raise DirectoryError(f"{where}: expected group names, got an empty one")
    return names


def _address(value: Any, where: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str) or not value.strip():
        raise DirectoryError(f"{where}: expected an email address, got {value!r}")
    try:
        validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise DirectoryError(f"{where}: invalid address {value!r}: {error}") from None
    return normalize_address(value)
