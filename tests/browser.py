"""Headless Chromium for the tests that drive a page themselves (Playwright).

The browser is Debian's `chromium` (tests/panes/chromium.py finds it; Playwright cannot
download its own here). Without one, browser tests skip with a one-line hint; `.ci/run`
installs it, so CI never skips them. Pages get JavaScript and the network off, as a mail
reader would. The judgement of rendered mail in every engine uses tests/panes instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.panes import HEIGHT, WIDTH, Unavailable, required

VIEWPORT = {"width": WIDTH, "height": HEIGHT}


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session (a launch costs ~0.5 s)."""
    from playwright.sync_api import sync_playwright

    from tests.panes.chromium import launch

    with sync_playwright() as playwright:
        try:
            launched = launch(playwright)
        except Unavailable as missing:
            if required():
                pytest.fail(str(missing))  # CI installs the browser: a missing one is a fault
            pytest.skip(str(missing))
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def reading_pane(browser: object) -> Iterator[object]:
    """A fresh reading-pane page: JavaScript off, no network (every request aborted)."""
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False,  # type: ignore[attr-defined]
                                  offline=True)
    context.route("**/*", lambda route: route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A reading pane for one test."""
    with reading_pane(browser) as fresh:
        yield fresh
