"""A clock the tests move by hand: no test waits for time to pass."""

from __future__ import annotations


class Clock:
    """`clock()` is the time; `clock.sleep(s)` moves it on (and remembers each wait)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
