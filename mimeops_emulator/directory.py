"""WorkMail's directory operations (json-1.1), seeded from a static directory file.

DescribeEntity, DescribeUser, ListGroupsForEntity, ListUsers and ListGroupMembers
answer as WorkMail does: the same members, ids for users and groups, an
EntityNotFoundException for an unknown address or id, OrganizationNotFoundException
for an unknown organization, MaxResults (1-100) / NextToken paging, and AWS's
ValidationException text for missing members. Users and groups come from the
directory file format of docs/directory.md (`mimeops.directory.load_directory`), so the
handler reads through the API exactly what `mimeops apply --directory` reads from
the file.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mimeops.directory import StaticDirectory, User

from .errors import ServiceError
from .shapes import ORGANIZATION_ID, StringShape, page, require

ENABLED_DATE = 1_700_000_000.0  # a fixed timestamp: answers stay reproducible
EMAIL = StringShape(1, 254, r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9.-]+\.[a-zA-Z-]{2,}")
ENTITY_ID = StringShape(1, 256, r"[\S\s]*")
_NAMESPACE = uuid.UUID("6f1c1b9e-4f7e-4d38-9f5e-2b1c8a0d7e11")

# DescribeUser member -> directory file field.
_USER_MEMBERS = {
    "DisplayName": "display_name", "FirstName": "first_name", "LastName": "last_name",
    "Initials": "initials", "JobTitle": "job_title", "Department": "department",
    "Company": "company", "Office": "office", "Telephone": "telephone", "Street": "street",
    "City": "city", "ZipCode": "zip_code", "Country": "country",
}


def _entity_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name.lower()}"))


@dataclass
class Entity:
    """A user or group as WorkMail stores it."""

    id: str
    type: str  # USER | GROUP
    name: str
    email: str
    member_of: list[str] = field(default_factory=list)  # group ids
    attributes: dict[str, str] = field(default_factory=dict)


class Organization:
    """The users and groups of one emulated organization."""

    def __init__(self, source: StaticDirectory) -> None:
        self.entities: dict[str, Entity] = {}
        self.addresses: dict[str, str] = {}  # address (lower) -> entity id
        group_ids: dict[str, str] = {}

        def group(name: str) -> Entity:
            key = name.lower()
            if key not in group_ids:
                entity = Entity(_entity_id("group", key), "GROUP", name, "")
                group_ids[key] = entity.id
                self.entities[entity.id] = entity
            return self.entities[group_ids[key]]

        for spec in source.groups_:
            entity = group(spec.name)
            entity.email = spec.email
            for address in (spec.email, *spec.aliases):
                if address:
                    self.addresses[address.lower()] = entity.id
            entity.member_of = [group(parent).id for parent in spec.groups]
        for user in source.users:
            entity = Entity(_entity_id("user", user.email), "USER",
                            user.email.split("@")[0], user.email)
            entity.attributes = {member: getattr(user, name)
                                 for member, name in _USER_MEMBERS.items()}
            entity.member_of = [group(name).id for name in source.memberships.get(user.email, ())]
            self.entities[entity.id] = entity
            for address in (user.email, *user.aliases):
                self.addresses[address.lower()] = entity.id

    def find(self, reference: str) -> Entity:
        """An entity by id, address or (user) name, as DescribeUser's UserId accepts."""
        key = reference.lower()
        found = self.entities.get(reference) or self.entities.get(self.addresses.get(key, ""))
        if found is None:
            found = next((e for e in self.entities.values() if e.name.lower() == key), None)
        if found is None:
            raise ServiceError("EntityNotFoundException", 400,
                               f"The entity {reference} was not found in the organization.")
        return found


class DirectoryBook:
    """Organizations' directories, thread-safe (the server answers on many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._organizations: dict[str, Organization] = {}
        self._sources: dict[str, StaticDirectory] = {}

    def add(self, org_id: str, source: StaticDirectory) -> None:
        """Replace the directory of `org_id`."""
        organization = Organization(source)
        with self._lock:
            self._organizations[org_id] = organization
            self._sources[org_id] = source

    def add_users(self, org_id: str, emails: Iterable[str]) -> None:
        """Make sure each address is a user of `org_id` (a mailbox needs its owner)."""
        with self._lock:
            source = self._sources.get(org_id, StaticDirectory())
        missing = [User(email) for email in dict.fromkeys(emails) if source.user(email) is None]
        if missing or org_id not in self._sources:
            self.add(org_id, replace(source, users=[*source.users, *missing]))

    def clear(self) -> None:
        """Forget every directory."""
        with self._lock:
            self._organizations.clear()
            self._sources.clear()

    def organization(self, org_id: str) -> Organization:
        """The organization's directory; OrganizationNotFoundException as WorkMail says it."""
        with self._lock:
            found = self._organizations.get(org_id)
        if found is None:
            raise ServiceError("OrganizationNotFoundException", 400,
                               f"Organization {org_id} does not exist.")
        return found

    # -- operations (request body -> response body) -------------------------------------

    def describe_entity(self, body: dict[str, Any]) -> dict[str, Any]:
        """Any address (aliases included) -> EntityId, Name, Type."""
        org_id, email = require(body, ("OrganizationId", ORGANIZATION_ID),
                                 ("Email", EMAIL))
        organization = self.organization(org_id)
        entity_id = organization.addresses.get(email.lower())
        if entity_id is None:
            raise ServiceError("EntityNotFoundException", 400,
                               f"The entity {email} was not found in the organization.")
        entity = organization.entities[entity_id]
        return {"EntityId": entity.id, "Name": entity.name, "Type": entity.type}

    def describe_user(self, body: dict[str, Any]) -> dict[str, Any]:
        """A user by id, address or user name: every attribute that has a value."""
        org_id, user_id = require(body, ("OrganizationId", ORGANIZATION_ID),
                                   ("UserId", ENTITY_ID))
        entity = self.organization(org_id).find(user_id)
        if entity.type != "USER":
            raise ServiceError("EntityNotFoundException", 400,
                               f"The user {user_id} was not found in the organization.")
        result: dict[str, Any] = {
            "UserId": entity.id, "Name": entity.name, "Email": entity.email,
            "State": "ENABLED", "UserRole": "USER", "EnabledDate": ENABLED_DATE,
            "HiddenFromGlobalAddressList": False,
        }
        result.update({k: v for k, v in entity.attributes.items() if v})
        return result

    def list_groups_for_entity(self, body: dict[str, Any]) -> dict[str, Any]:
        """The groups a user or group is directly in (GroupNamePrefix filter), paged."""
        org_id, entity_id = require(body, ("OrganizationId", ORGANIZATION_ID),
                                     ("EntityId", ENTITY_ID))
        organization = self.organization(org_id)
        entity = organization.entities.get(entity_id)
        if entity is None:
            raise ServiceError("EntityNotFoundException", 400,
                               f"The entity {entity_id} was not found in the organization.")
        prefix = ((body.get("Filters") or {}).get("GroupNamePrefix") or "").lower()
        groups = [organization.entities[g] for g in entity.member_of]
        items = [{"GroupId": g.id, "GroupName": g.name} for g in groups
                 if g.name.lower().startswith(prefix)]
        return page(body, "Groups", items)

    def list_users(self, body: dict[str, Any]) -> dict[str, Any]:
        """Every user (id, address, names, state), paged."""
        (org_id,) = require(body, ("OrganizationId", ORGANIZATION_ID))
        users = [e for e in self.organization(org_id).entities.values() if e.type == "USER"]
        items = [{"Id": u.id, "Email": u.email, "Name": u.name,
                  "DisplayName": u.attributes.get("DisplayName", ""), "State": "ENABLED",
                  "UserRole": "USER", "EnabledDate": ENABLED_DATE} for u in users]
        return page(body, "Users", items)

    def list_group_members(self, body: dict[str, Any]) -> dict[str, Any]:
        """The users and groups directly in a group, paged."""
        org_id, group_id = require(body, ("OrganizationId", ORGANIZATION_ID),
                                    ("GroupId", ENTITY_ID))
        organization = self.organization(org_id)
        group = organization.find(group_id)
        if group.type != "GROUP":
            raise ServiceError("EntityNotFoundException", 400,
                               f"The group {group_id} was not found in the organization.")
        members = [e for e in organization.entities.values() if group.id in e.member_of]
        items = [{"Id": m.id, "Name": m.name, "Type": m.type, "State": "ENABLED",
                  "EnabledDate": ENABLED_DATE} for m in members]
        return page(body, "Members", items)

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """X-Amz-Target operation name -> handler."""
        return {
            "DescribeEntity": self.describe_entity,
            "DescribeUser": self.describe_user,
            "ListGroupsForEntity": self.list_groups_for_entity,
            "ListUsers": self.list_users,
            "ListGroupMembers": self.list_group_members,
        }

