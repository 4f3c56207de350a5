"""Chromium through Playwright: the system browser (Playwright cannot download its own
here; `MIMEOPS_CHROMIUM` overrides the path), JavaScript off, every request aborted.

Each pane is a context of its own (a reading pane 900x700); a document is served to it
from a route at a made-up address, so that `begin_html` returns once the navigation
commits and several panes load at once.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from tests.panes import HEIGHT, WIDTH, HtmlPane, Panes, Unavailable, image

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
HINT = "no Chromium here: apt-get install -y chromium (or set MIMEOPS_CHROMIUM=/path/to/chrome)"
_ORIGIN = "http://mimeops.invalid/"  # never resolved: the route answers


def chromium_path() -> str | None:
    """The browser executable to launch, or None when the machine has none."""
    configured = os.environ.get("MIMEOPS_CHROMIUM")
    if configured:
        return configured
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


class ChromiumPane(HtmlPane):
    """A reading-pane page in a context of its own."""

    engine = "chromium"

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                           java_script_enabled=False)
        self.context.route("**/*", lambda route: route.abort())
        # Registered last, asked first: the document itself (as UTF-8, which outranks any
        # <meta charset>, as a client's decoded text does).
        self.context.route(_ORIGIN + "*", lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=self.markup))
        self.page = self.context.new_page()
        self.markup = b""
        self.pages = 0

    def begin_html(self, markup: str) -> None:
        # A client's decoder drops a leading byte order mark.
        self.markup = markup.removeprefix("\ufeff").encode("utf-8")
        self.pages += 1
        self.page.goto(f"{_ORIGIN}{self.pages}", wait_until="commit")

    def settle(self) -> None:
        self.page.wait_for_load_state("load")

    def run(self, function: str, arg: Any = None) -> Any:
        script = f"(arg) => ({function})(document, arg)"
        try:
            return self.page.evaluate(script, arg)
        except Exception as error:
            # A sender's <meta refresh> took the page elsewhere mid-question: ask the
            # document it went to (what the reader is left with).
            if "Execution context was destroyed" not in str(error):
                raise
            self.page.wait_for_load_state()
            return self.page.evaluate(script, arg)

    def shot(self) -> Image.Image:
        return image(self.page.screenshot())


class Chromium(Panes):
    """Panes of the session's Chromium (tests/browser.py launches it)."""

    name = "chromium"

    def __init__(self, browser: Any) -> None:
        super().__init__(lambda: ChromiumPane(browser))

    def close(self) -> None:
        for pane in self.opened():
            pane.context.close()  # type: ignore[attr-defined]


def launch(playwright: Any) -> Any:
    """The system Chromium, launched by Playwright (or Unavailable)."""
    executable = chromium_path()
    if executable is None:
        raise Unavailable(HINT)
    return playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
