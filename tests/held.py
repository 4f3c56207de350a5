"""A transform or condition a test holds or breaks: a flow slower than any deadline, or
one that faults, as a sender may make it (no sleep: the test releases what it holds)."""

from __future__ import annotations

import threading


class Stuck:
    """Holds the flow where it stands (a rewrite, or the matching of the rules) until the
    test sets `release`."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def apply(self, mail: object, context: object) -> bool:
        self.release.wait(30)
        return False

    def matches(self, mail: object, context: object) -> bool:
        return self.apply(mail, context)


class Broken:
    """Raises where it stands: a fault a sender found."""

    name = "broken"

    def apply(self, mail: object, context: object) -> bool:
        raise ValueError("a fault in the rewrite")

    def matches(self, mail: object, context: object) -> bool:
        raise ValueError("a fault in a condition")
