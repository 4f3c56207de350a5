"""Every message through the flow, on every core: `outcomes` in the order they came.

The parent reads the messages (files, a mailbox connection, a download) and the
workers apply the flow. Workers are forked processes, so each has the parent's flow
as loaded (no second load, nothing pickled but message bytes and results). At most
a few chunks per worker are in flight, so memory stays flat over any number of
messages; small previews run in the calling process (forking costs more than it
saves below a few hundred messages).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mimeops.flow import Flow
from mimeops.preview.sources import Item
from mimeops.preview.tally import Outcome, apply_one, read_one, run_one

CHUNK = 16          # messages per task sent to a worker
IN_FLIGHT = 3       # chunks queued per worker
PARALLEL_FROM = 200  # fewer messages than this run in one process

_FLOW: Flow | None = None  # the flow in a worker (inherited when it forks)


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def outcomes(flow: Flow, items: Iterable[Item], direction: str, *, jobs: int = 1,
             total: int = 0) -> Iterator[Outcome]:
    """The outcome of each item, in order; `jobs` worker processes when `total`
    (the number of items expected) makes it worth it and the OS can fork."""
    items = iter(items)
    if jobs > 1 and total >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods():
        yield from _parallel(flow, items, direction, jobs)
    for item in items:  # all of them, or those left when a worker process died
        yield run_one(flow, item, direction)


def _parallel(flow: Flow, items: Iterator[Item], direction: str, jobs: int) -> Iterator[Outcome]:
    """Outcomes from worker processes until the items run out, or the pool breaks (a
    worker killed): the chunks in flight then count as errors, the caller goes on."""
    global _FLOW
    _FLOW = flow  # the workers fork with it
    pending: deque[tuple[list[Outcome], Future[list[Outcome]] | None]] = deque()
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_ignore_interrupts) as pool:
            for chunk in _chunks(items):
                tasks = [(o.label, o.before) for o in chunk if not o.unread]
                try:
                    future = pool.submit(_work, direction, tasks) if tasks else None
                except BrokenProcessPool:
                    pending.append((chunk, _broken()))
                    break
                pending.append((chunk, future))
                while len(pending) > jobs * IN_FLIGHT:
                    yield from _merge(*pending.popleft())
            while pending:
                yield from _merge(*pending.popleft())
    finally:
        _FLOW = None


def _broken() -> Future[list[Outcome]]:
    future: Future[list[Outcome]] = Future()
    future.set_exception(BrokenProcessPool("a worker process stopped"))
    return future


def _chunks(items: Iterable[Item]) -> Iterator[list[Outcome]]:
    """Items read into Outcomes holding their bytes (or why they could not be read)."""
    chunk: list[Outcome] = []
    for item in items:
        chunk.append(read_one(item, lambda label, raw: Outcome(label, before=raw)))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _merge(chunk: list[Outcome], future: Future[list[Outcome]] | None) -> Iterator[Outcome]:
    """The chunk's outcomes in order: the workers' results given their bytes back."""
    try:
        done = iter(future.result() if future is not None else [])
    except BrokenProcessPool as error:
        for read in chunk:
            if not read.unread:
                read.error = f"the worker process applying the flow stopped ({error})"
            yield read
        return
    for read in chunk:
        if read.unread:
            yield read
            continue
        outcome = next(done)
        outcome.before = read.before
        if outcome.result is not None and not outcome.result.changed:
            outcome.result.message = read.before
        yield outcome


def _ignore_interrupts() -> None:
    """Ctrl-C is the parent's to handle: a worker does not print a traceback for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(direction: str, tasks: list[tuple[str, bytes]]) -> list[Outcome]:
    """In a worker: apply the flow; bytes the parent already has are not sent back."""
    assert _FLOW is not None, "a preview worker without a flow"
    results = []
    for label, raw in tasks:
        outcome = apply_one(_FLOW, label, raw, direction)
        outcome.before = b""
        if outcome.result is not None and not outcome.result.changed:
            outcome.result.message = b""
        results.append(outcome)
    return results
