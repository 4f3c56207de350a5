"""pytest fixtures: a reading pane per engine.

`pane` is module-scoped and parametrized over the browser engines, so pytest runs a
module's tests engine by engine and ends each engine before starting the next;
`thunderbird` is the mail client. A missing engine skips with a one-line install hint,
and fails under CI (where .ci/run installs every one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.panes import Pane, Unavailable, required

BROWSERS = ("chromium", "gecko", "webkit")


def _opened(make: Callable[[], Pane]) -> Iterator[Pane]:
    try:
        pane = make()
    except Unavailable as missing:
        if required():
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    try:
        yield pane
    finally:
        pane.close()


def _browser_pane(engine: str, request: pytest.FixtureRequest) -> Callable[[], Pane]:
    if engine == "chromium":
        from tests.panes.chromium import ChromiumPane

        launched: Any = request.getfixturevalue("browser")
        return lambda: ChromiumPane(launched)
    if engine == "gecko":
        from tests.panes.gecko import GeckoPane

        return GeckoPane
    from tests.panes.webkit import Helper, WebKitPane

    return lambda: WebKitPane(Helper())


@pytest.fixture(scope="module", params=BROWSERS)
def pane(request: pytest.FixtureRequest) -> Iterator[Pane]:
    """A browser's reading pane (900x700, scripts and network off), one engine at a time."""
    yield from _opened(_browser_pane(request.param, request))


@pytest.fixture(scope="module")
def gecko() -> Iterator[Pane]:
    """Firefox ESR alone (the plain-browser view next to Thunderbird)."""
    from tests.panes.gecko import GeckoPane

    yield from _opened(GeckoPane)


@pytest.fixture(scope="module")
def thunderbird() -> Iterator[Pane]:
    """Thunderbird's standalone message window, its message pane 900x700."""
    from tests.panes.thunderbird import ThunderbirdPane

    yield from _opened(ThunderbirdPane)
