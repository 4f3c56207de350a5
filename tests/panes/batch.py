"""Many judgements at once in one engine: one browser, several panes.

A judgement is a generator of steps: it yields the pane it just began to load a
document in (`Pane.begin_*`) and is resumed once that pane has settled. `drive` runs
one judgement on its own; `run_all` runs many over a few panes of one engine, so that
while one pane loads and paints, the judgement in another one goes on (the engine
works in its own processes: on two cores about 1.4 times as fast as one pane).

`Batch` plugs this into pytest without giving up one test per case: the first test of
a parametrized function that asks for its verdict has the verdicts of every selected
test of that function (in that engine) judged together, and each test then asserts
its own.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

import pytest

from tests.panes import Engine, Pane

T = TypeVar("T")
Steps = Generator[Pane, None, T]
Job = Callable[[Pane], Steps[Any]]
# Panes per engine in a batch (each a window, tab or view of the one engine process).
PANES = int(os.environ.get("MIMEOPS_PANES", "2"))


def show(pane: Pane, raw: bytes | None = None, markup: str | None = None) -> Steps[None]:
    """Begin showing a message (or HTML), and wait for it as a step."""
    if raw is not None:
        pane.begin_message(raw)
    else:
        pane.begin_html(markup or "")
    yield pane


def drive(steps: Steps[T]) -> T:
    """Run one judgement to its end, each document in turn."""
    try:
        while True:
            next(steps).settle()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def run_all(panes: list[Pane], jobs: Iterable[tuple[str, Job]],
            ) -> dict[str, Any | BaseException]:
    """Every job's result (or the exception it raised), the jobs spread over `panes`."""
    todo = deque(jobs)
    results: dict[str, Any] = {}
    running: dict[int, tuple[str, Steps[Any], Pane]] = {}

    def advance(slot: int, key: str, steps: Steps[Any]) -> None:
        try:
            waiting = next(steps)
        except StopIteration as done:
            results[key] = done.value
        except Exception as error:  # reported by the test it belongs to
            results[key] = error
        else:
            running[slot] = (key, steps, waiting)
            return
        start(slot)

    def start(slot: int) -> None:
        running.pop(slot, None)
        if todo:
            key, job = todo.popleft()
            advance(slot, key, job(panes[slot]))

    for slot in range(len(panes)):
        start(slot)
    while running:
        for slot in list(running):
            key, steps, waiting = running[slot]
            try:
                waiting.settle()
            except Exception as error:
                steps.close()
                results[key] = error
                start(slot)
                continue
            advance(slot, key, steps)
    return results


class Batch:
    """Verdicts of one engine, judged together on first demand (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.results: dict[str, Any] = {}

    def verdict(self, request: pytest.FixtureRequest,
                make_job: Callable[[dict[str, Any]], Job]) -> Any:
        """This test's result; `make_job(params)` makes the job of any test of the same
        function from its parameters."""
        node: Any = request.node
        if node.nodeid not in self.results:
            mine = node.callspec.params.get("engine")
            siblings = [item for item in request.session.items
                        if getattr(item, "originalname", None) == node.originalname
                        and item.module is node.module
                        and item.callspec.params.get("engine") == mine
                        and item.nodeid not in self.results]
            jobs = [(item.nodeid, make_job(item.callspec.params)) for item in siblings]
            self.results.update(run_all(self.engine.panes(PANES), jobs))
        result = self.results.pop(node.nodeid)
        if isinstance(result, BaseException):
            raise result
        return result
