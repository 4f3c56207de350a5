"""Timing and allocation measurement: medians of interleaved runs, tracemalloc peaks."""

from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Call = Callable[[bytes], Any]


@dataclass
class Timing:
    """Wall-clock samples of one callable on one input, in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def runs(self) -> int:
        return len(self.samples)


def _once(call: Call, raw: bytes) -> tuple[float, float, Any]:
    """(seconds of the call, seconds including the gc.collect() before it, output)."""
    before = time.perf_counter()
    gc.collect()
    start = time.perf_counter()
    out = call(raw)
    end = time.perf_counter()
    return end - start, end - before, out


def interleaved(
    calls: dict[str, Call], raw: bytes, *, min_runs: int, max_runs: int, budget: float,
    keep: Callable[[str, Any], None] | None = None,
) -> dict[str, Timing]:
    """Time every call on `raw`, interleaved (a, b, c, a, b, c, ...).

    One warm-up call each (not counted) estimates the cost. Each call then gets an
    equal share of `budget` seconds (collection before each run included): as many
    runs as fit, at least `min_runs`, at
    most `max_runs`; a slow call runs less often, its runs spread evenly over the
    rounds. Interleaving keeps a burst of load from other processes from landing
    on one approach only. `keep(name, output)` sees the output of the warm-up and
    of the last timed run of each call.
    """
    runs: dict[str, int] = {}
    share = budget / len(calls)
    for name, call in calls.items():
        _, total, out = _once(call, raw)
        runs[name] = max(min_runs, min(max_runs, math.floor(share / max(total, 1e-9))))
        if keep is not None:
            keep(name, out)
        del out
    rounds = max(runs.values())
    timings = {name: Timing() for name in calls}
    for round_ in range(rounds):
        for name, call in calls.items():
            due = (round_ + 1) * runs[name] // rounds - round_ * runs[name] // rounds
            for _ in range(due):
                elapsed, _, out = _once(call, raw)
                timings[name].samples.append(elapsed)
                if keep is not None and len(timings[name].samples) == runs[name]:
                    keep(name, out)
                del out
    return timings


def peak_allocation(call: Call, raw: bytes) -> int:
    """Peak bytes allocated (tracemalloc) while `call(raw)` runs, output included.

    `raw` is allocated before tracing starts, so it is not counted: the figure is
    what applying costs on top of the message already in memory.
    """
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        out = call(raw)
        _, peak = tracemalloc.get_traced_memory()
        del out
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return peak - base


def loglog_slope(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Growth exponent between two points: 1.0 is linear, 2.0 quadratic."""
    (n1, n2), (t1, t2) = sizes, times
    if n1 <= 0 or n2 <= n1 or t1 <= 0 or t2 <= 0:
        return float("nan")
    return math.log(t2 / t1) / math.log(n2 / n1)
