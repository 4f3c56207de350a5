"""pytest fixtures: the engines and their reading panes.

`engine` is module-scoped and parametrized over the browser engines, so pytest runs a
module's tests engine by engine and ends each engine before starting the next; `pane`
is its first pane and `batch` judges many cases over several of its panes at once
(tests/panes/batch.py). `thunderbird` is the mail client, `gecko` a Firefox next to it.
A missing engine skips with a one-line install hint, and fails under CI (where .ci/run
installs every one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.panes import Engine, Pane, Unavailable, required
from tests.panes.batch import Batch

BROWSERS = ("chromium", "gecko", "webkit")


def _started(start: Callable[[], Engine]) -> Iterator[Engine]:
    try:
        engine = start()
        engine.panes(1)  # a client that cannot open a pane is missing too
    except Unavailable as missing:
        if required():
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    try:
        yield engine
    finally:
        engine.close()


def _browser(name: str, request: pytest.FixtureRequest) -> Callable[[], Engine]:
    if name == "chromium":
        from tests.panes.chromium import Chromium

        launched: Any = request.getfixturevalue("browser")
        return lambda: Chromium(launched)
    if name == "gecko":
        from tests.panes.gecko import Gecko

        return Gecko
    from tests.panes.webkit import WebKit

    return WebKit


@pytest.fixture(scope="module", params=BROWSERS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A browser engine (reading panes of 900x700, scripts and network off), one at a time."""
    yield from _started(_browser(request.param, request))


@pytest.fixture(scope="module")
def pane(engine: Engine) -> Pane:
    """The engine's first reading pane."""
    return engine.panes(1)[0]


@pytest.fixture(scope="module")
def batch(engine: Engine) -> Batch:
    """Verdicts of this engine, judged over several panes at once."""
    return Batch(engine)


@pytest.fixture(scope="module")
def gecko() -> Iterator[Pane]:
    """Firefox ESR alone (the plain-browser view next to Thunderbird)."""
    from tests.panes.gecko import Gecko

    for started in _started(Gecko):
        yield started.panes(1)[0]


@pytest.fixture(scope="module")
def thunderbird_engine() -> Iterator[Engine]:
    from tests.panes.thunderbird import Thunderbird

    yield from _started(Thunderbird)


@pytest.fixture(scope="module")
def thunderbird(thunderbird_engine: Engine) -> Pane:
    """A standalone message window of Thunderbird, its message pane 900x700."""
    return thunderbird_engine.panes(1)[0]


@pytest.fixture(scope="module")
def thunderbird_batch(thunderbird_engine: Engine) -> Batch:
    """Verdicts of Thunderbird, judged over several message windows at once."""
    return Batch(thunderbird_engine)
