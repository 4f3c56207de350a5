"""In-memory state of the emulated organization: messages, Puts, domains, request log.

One lock guards everything, because the HTTP server answers each connection on its own
thread and tests read the state from the main thread while boto3 calls are in flight.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field

from .shapes import MESSAGE_ID, ORGANIZATION_ID


@dataclass
class StoredMessage:
    """A message in transit: what arrived, what it is now, and the accepted Puts."""

    original: bytes
    content: bytes
    puts: list[dict[str, str]] = field(default_factory=list)


class State:
    """Thread-safe store behind both the wire API and the Python API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, StoredMessage] = {}
        self._organizations: dict[str, list[str]] = {}
        self._requests: list[tuple[str, str]] = []

    def add_message(self, raw: bytes, message_id: str | None = None) -> str:
        """Store ``raw`` as a new in-transit message; replaces an existing id's state.

        The id must satisfy the API's ``messageIdType`` (1-120 of ``[a-z0-9-]``):
        botocore would send any other id and AWS would answer ValidationException, so
        such a message could never be fetched.
        """
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise TypeError(f"raw must be bytes, not {type(raw).__name__}")
        if message_id is None:
            message_id = str(uuid.uuid4())
        problems = MESSAGE_ID.violations(message_id, "messageId")
        if problems:
            raise ValueError(f"invalid message id: {problems[0]}")
        data = bytes(raw)
        with self._lock:
            self._messages[message_id] = StoredMessage(original=data, content=data)
        return message_id

    def get(self, message_id: str) -> StoredMessage | None:
        """The stored message, or None. Callers must treat it as read-only."""
        with self._lock:
            return self._messages.get(message_id)

    def content(self, message_id: str) -> bytes:
        """Current content; KeyError for an unknown id."""
        with self._lock:
            return self._messages[message_id].content

    def original(self, message_id: str) -> bytes:
        """Content as added, before any Put; KeyError for an unknown id."""
        with self._lock:
            return self._messages[message_id].original

    def message_ids(self) -> list[str]:
        """Ids of all stored messages, in insertion order."""
        with self._lock:
            return list(self._messages)

    def accept_put(self, message_id: str, content: bytes, reference: dict[str, str]) -> None:
        """Record an accepted Put: the new content becomes what Get returns."""
        with self._lock:
            stored = self._messages[message_id]
            stored.content = content
            stored.puts.append(dict(reference))

    def puts(self, message_id: str) -> list[dict[str, str]]:
        """Copies of the accepted Puts' s3Reference dicts; KeyError for an unknown id."""
        with self._lock:
            return [dict(p) for p in self._messages[message_id].puts]

    def add_organization(self, org_id: str, domains: list[str]) -> None:
        """Register an organization; its first domain is the default one."""
        if not isinstance(org_id, str) or not re.fullmatch(ORGANIZATION_ID.pattern, org_id):
            raise ValueError(
                f"invalid organization id {org_id!r}: WorkMail ids are 'm-' followed by "
                "32 lowercase hex digits (botocore rejects other lengths client-side)"
            )
        if isinstance(domains, str) or not all(isinstance(d, str) and d for d in domains):
            raise ValueError("domains must be a list of non-empty domain names")
        with self._lock:
            self._organizations[org_id] = list(domains)

    def domains(self, org_id: str) -> list[str] | None:
        """The organization's domains (default first), or None when unknown."""
        with self._lock:
            found = self._organizations.get(org_id)
            return None if found is None else list(found)

    def log_request(self, method: str, path: str) -> None:
        """Remember an API request (admin endpoints are not logged)."""
        with self._lock:
            self._requests.append((method, path))

    def requests(self) -> list[tuple[str, str]]:
        """The API requests served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget messages, organizations and the request log."""
        with self._lock:
            self._messages.clear()
            self._organizations.clear()
            self._requests.clear()

    def clear_requests(self) -> None:
        """Forget the request log only."""
        with self._lock:
            self._requests.clear()
