"""A real browser for what a person sees: headless Chromium driven by Playwright.

Playwright cannot download its own browsers here, so it launches the system
Chromium (Debian's `chromium`; `MIMEOPS_CHROMIUM` overrides the path). Without
one, browser tests skip with a one-line hint; `.ci/run` installs it, so CI never
skips them. Pages get JavaScript and the network off, as a mail reader would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
HINT = "no Chromium here: apt-get install -y chromium (or set MIMEOPS_CHROMIUM=/path/to/chrome)"
# A reading pane: what a mail client gives a message.
VIEWPORT = {"width": 900, "height": 700}


def chromium_path() -> str | None:
    """The browser executable to launch, or None when the machine has none."""
    configured = os.environ.get("MIMEOPS_CHROMIUM")
    if configured:
        return configured
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session (a launch costs ~0.5 s)."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(HINT)  # CI installs the browser: a missing one is a CI fault
        pytest.skip(HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox"])
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


@pytest.fixture(scope="module")
def module_page(browser: object) -> Iterator[object]:
    """One reading pane shared by a module's tests (each sets its own content): a context
    costs ~0.3 s, which a catalogue of many renderings should not pay each time."""
    with reading_pane(browser) as fresh:
        yield fresh
