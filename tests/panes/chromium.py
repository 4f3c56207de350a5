"""Chromium through Playwright: the system browser (Playwright cannot download its own
here; `MIMEOPS_CHROMIUM` overrides the path), JavaScript off, every request aborted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from tests.panes import HEIGHT, WIDTH, HtmlPane, Unavailable, image

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
HINT = "no Chromium here: apt-get install -y chromium (or set MIMEOPS_CHROMIUM=/path/to/chrome)"


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
    """A reading-pane page of a Chromium that this object may share with others."""

    engine = "chromium"

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                           java_script_enabled=False, offline=True)
        self.context.route("**/*", lambda route: route.abort())
        self.page = self.context.new_page()

    def show_html(self, markup: str) -> None:
        # A new document (set_content alone keeps the last one's scroll position). A
        # client's decoder drops a leading byte order mark; set_content takes text.
        self.page.goto("about:blank")
        self.page.set_content(markup.removeprefix("\ufeff"))

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

    def close(self) -> None:
        self.context.close()


def launch(playwright: Any) -> Any:
    """The system Chromium, launched by Playwright (or Unavailable)."""
    executable = chromium_path()
    if executable is None:
        raise Unavailable(HINT)
    return playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
