"""A per-container cache in front of any Directory: TTL, size bound, negative entries.

A warm Lambda container answers most lookups from memory: one message needs the
sender's record, their groups, maybe each internal recipient's groups and the
display-name index. Misses are cached too ("no such user" is the common answer for
outside addresses), so a flood from one outside sender costs one lookup per TTL.
A failed refresh serves the stale entry when there is one (the directory changes
rarely; mail must flow) and raises DirectoryUnavailable otherwise. One fetch per
entry runs at a time (a slow refresh serves the stale entry meanwhile).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from mimeops.directory.base import Directory
from mimeops.directory.records import User
from mimeops.errors import DirectoryUnavailable
from mimeops.mime.addresses import normalize_address

DEFAULT_TTL = 300.0
DEFAULT_SIZE = 10_000


class CachedDirectory:
    """`Directory` wrapper; `clock` is injectable (tests, benchmarks)."""

    def __init__(self, inner: Directory, ttl: float = DEFAULT_TTL, size: int = DEFAULT_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.ttl = ttl
        self.size = max(1, size)
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str], threading.Lock] = {}
        self.lookups = 0  # calls that reached the inner directory (benchmarks, tests)

    def user(self, address: str) -> User | None:
        """Cached `inner.user` (a miss is remembered as None)."""
        result: User | None = self._get("user", normalize_address(address), self.inner.user)
        return result

    def groups(self, address: str) -> frozenset[str]:
        """Cached `inner.groups`."""
        result: frozenset[str] = self._get("groups", normalize_address(address),
                                           self.inner.groups)
        return result

    def people(self) -> Sequence[User]:
        """Cached `inner.people` (one entry: the whole index)."""
        result: Sequence[User] = self._get("people", "", lambda _: self.inner.people())
        return result

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def _fresh(self, slot: tuple[str, str]) -> tuple[bool, tuple[float, Any] | None]:
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry[0] > self.clock():
                self._entries.move_to_end(slot)
                return True, entry
            return False, entry

    def _get(self, kind: str, key: str, fetch: Callable[[str], Any]) -> Any:
        slot = (kind, key)
        fresh, entry = self._fresh(slot)
        if fresh:
            assert entry is not None
            return entry[1]
        # One fetch per entry at a time: a slow one (the display-name index of a large
        # organization) goes on after its invocation answered; later lookups get the
        # stale entry meanwhile, or wait for the fetch when there is none.
        with self._lock:
            flight = self._flights.setdefault(slot, threading.Lock())
        if not flight.acquire(blocking=entry is None):
            assert entry is not None
            return entry[1]
        try:
            fresh, entry = self._fresh(slot)
            if fresh:
                assert entry is not None
                return entry[1]
            return self._fetch(slot, entry, fetch)
        finally:
            with self._lock:
                self._flights.pop(slot, None)
            flight.release()

    def _fetch(self, slot: tuple[str, str], entry: tuple[float, Any] | None,
               fetch: Callable[[str], Any]) -> Any:
        now = self.clock()
        key = slot[1]
        self.lookups += 1
        try:
            value = fetch(key)
        except DirectoryUnavailable:
            if entry is not None:
                return entry[1]
            raise
        except Exception as error:  # any fault of the backend is the directory's fault
            if entry is not None:
                return entry[1]
            raise DirectoryUnavailable(f"directory lookup failed: {type(error).__name__}: "
                                       f"{str(error)[:200]}") from error
        with self._lock:
            self._entries[slot] = (now + self.ttl, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
