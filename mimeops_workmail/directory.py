"""The organization's directory through the WorkMail API (`directory: workmail`).

- `user`: DescribeEntity (any address, aliases included) -> DescribeUser.
- `groups`: DescribeEntity -> ListGroupsForEntity, then the groups of each group
  (nested groups), every page.
- `people`: ListUsers, every page (the display-name index for impersonates_user).

One `CachedDirectory` per organization per container (MIMEOPS_DIRECTORY_TTL seconds,
default 300; MIMEOPS_DIRECTORY_CACHE_SIZE entries, default 10000; misses cached too).
Every call is bounded: the client gives up after 1 s to connect / 2 s to read, with
two attempts, and no call starts after the invocation's deadline (`start_invocation`).
Faults surface as DirectoryUnavailable, which the flow's `on_error` handles.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ParamValidationError

from mimeops import Flow, FlowError
from mimeops.directory import CachedDirectory, DirectoryUnavailable, User
from mimeops.mime.addresses import normalize_address
from mimeops_workmail import clients

ENV_TTL = "MIMEOPS_DIRECTORY_TTL"
ENV_SIZE = "MIMEOPS_DIRECTORY_CACHE_SIZE"
ENV_ORGANIZATION = "MIMEOPS_ORGANIZATION_ID"
NOT_FOUND = frozenset({"EntityNotFoundException", "EntityStateException"})
# DescribeEntity refuses an address outside its pattern: no entity can have it.
NO_SUCH_ADDRESS = frozenset({"ValidationException", "InvalidParameterException"})
MAX_NESTING = 16
PAGE = 100
INDEX_SECONDS = 60.0

# Directory calls must leave time for the message itself: short timeouts, 2 attempts.
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2,
                       retries={"max_attempts": 2, "mode": "standard"})

# DescribeUser member -> User field.
_USER_FIELDS = {
    "DisplayName": "display_name", "FirstName": "first_name", "LastName": "last_name",
    "Initials": "initials", "JobTitle": "job_title", "Department": "department",
    "Company": "company", "Office": "office", "Telephone": "telephone", "Street": "street",
    "City": "city", "ZipCode": "zip_code", "Country": "country",
}


class WorkMailDirectory:
    """`Directory` over the WorkMail API of one organization (no cache: see `directory`)."""

    def __init__(self, organization_id: str, client: Any = None) -> None:
        self.organization_id = organization_id
        self._client = client
        self.deadline: float | None = None  # time.monotonic() value; None: unbounded

    @property
    def client(self) -> Any:
        """The boto3 `workmail` client, made on first use (endpoints from the environment)."""
        if self._client is None:
            self._client = boto3.client("workmail", config=CLIENT_CONFIG)
        return self._client

    def _call(self, operation: str, deadline: float | None = None,
              **kwargs: Any) -> dict[str, Any]:
        deadline = self.deadline if deadline is None else deadline
        if deadline is not None and time.monotonic() >= deadline:
            raise DirectoryUnavailable(f"no time left for WorkMail {operation}")
        try:
            result: dict[str, Any] = getattr(self.client, operation)(
                OrganizationId=self.organization_id, **kwargs)
        except ParamValidationError:  # an address WorkMail could never hold
            raise LookupError(operation) from None
        except Exception as error:
            code = clients.error_code(error)
            if code in NOT_FOUND or (operation == "describe_entity" and code in NO_SUCH_ADDRESS):
                raise LookupError(operation) from None
            raise DirectoryUnavailable(
                f"WorkMail {operation} failed: {clients.error_code(error) or type(error).__name__}"
            ) from error
        return result

    def _entity(self, address: str) -> dict[str, Any] | None:
        try:
            return self._call("describe_entity", Email=address)
        except LookupError:
            return None

    def user(self, address: str) -> User | None:
        """DescribeEntity, then DescribeUser for a USER."""
        entity = self._entity(address)
        if entity is None or entity.get("Type") != "USER":
            return None
        try:
            found = self._call("describe_user", UserId=entity["EntityId"])
        except LookupError:
            return None
        values: dict[str, Any] = {field: str(found.get(member) or "").strip()
                                  for member, field in _USER_FIELDS.items()}
        return User(email=normalize_address(found.get("Email") or address), **values)

    def groups(self, address: str) -> frozenset[str]:
        """The entity's groups and, through ListGroupsForEntity on each, their groups."""
        entity = self._entity(address)
        if entity is None:
            return frozenset()
        names: set[str] = set()
        todo = [(entity["EntityId"], 0)]
        if entity.get("Type") == "GROUP":
            names.add(str(entity.get("Name", "")).lower())
        seen = {entity["EntityId"]}
        while todo:
            entity_id, depth = todo.pop()
            for group in self._pages("list_groups_for_entity", "Groups", EntityId=entity_id):
                names.add(str(group.get("GroupName", "")).lower())
                if group["GroupId"] not in seen and depth < MAX_NESTING:
                    seen.add(group["GroupId"])
                    todo.append((group["GroupId"], depth + 1))
        names.discard("")
        return frozenset(names)

    def people(self) -> Sequence[User]:
        """Every user that is not deleted: email and display name (ListUsers).

        Not bound to the invocation's deadline (a large organization takes more pages
        than one invocation has time for): at most INDEX_SECONDS in all. An invocation
        that cannot wait answers on time (on_error); the listing goes on and the next
        invocations find it in the cache.
        """
        deadline = time.monotonic() + INDEX_SECONDS
        return [
            User(email=normalize_address(u["Email"]), display_name=u.get("DisplayName") or "")
            for u in self._pages("list_users", "Users", deadline=deadline)
            if u.get("Email") and u.get("State") != "DELETED"
        ]

    def _pages(self, operation: str, key: str, deadline: float | None = None,
               **kwargs: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            extra: dict[str, str] = {"NextToken": token} if token else {}
            try:
                page = self._call(operation, deadline, MaxResults=PAGE, **kwargs, **extra)
            except LookupError:
                return
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return


_directories: dict[str, CachedDirectory] = {}
_lock = threading.Lock()


def directory(organization_id: str) -> CachedDirectory:
    """The container's cached directory of `organization_id` (kept across flow reloads)."""
    with _lock:
        found = _directories.get(organization_id)
        if found is None:
            ttl = float(os.environ.get(ENV_TTL, "") or 300)
            size = int(os.environ.get(ENV_SIZE, "") or 10_000)
            found = CachedDirectory(WorkMailDirectory(organization_id), ttl=ttl, size=size)
            _directories[organization_id] = found
        return found


def start_invocation(deadline: float) -> None:
    """No directory call starts after `deadline` (a time.monotonic() value) from now on."""
    with _lock:
        for cached in _directories.values():
            if isinstance(cached.inner, WorkMailDirectory):
                cached.inner.deadline = deadline


def attach(flow: Flow) -> None:
    """Give a `directory: workmail` flow its WorkMail directory.

    The organization is the flow's organization_id, else MIMEOPS_ORGANIZATION_ID;
    FlowError without either (the flow cannot work as written).
    """
    org = flow.organization_id or os.environ.get(ENV_ORGANIZATION, "").strip()
    if not org:
        raise FlowError("directory: workmail needs organization_id in the flow "
                        f"(or {ENV_ORGANIZATION} in the function's environment)")
    flow.directory = directory(org)
    if not flow.internal_domains:  # the organization's own domains, when the flow lists none
        from mimeops_workmail.domains import organization_domains

        try:
            flow.internal_domains = organization_domains(org)
        except Exception as error:  # a flow that cannot tell internal from external
            raise FlowError(f"directory: workmail without internal_domains: ListMailDomains "
                            f"failed: {str(error)[:200]}") from None


def reset() -> None:
    """Forget every cached directory (tests; a new endpoint in the same process)."""
    with _lock:
        _directories.clear()
