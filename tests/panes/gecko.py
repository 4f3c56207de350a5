"""Firefox ESR (Gecko, Thunderbird's engine), headless, through Marionette.

Page scripts are off (`javascript.enabled` false); Marionette's own scripts still run,
in their sandbox. Each pane is a window of the one Firefox; the session does not wait
for page loads (`pageLoadStrategy` none), so several windows load at once and `settle`
waits for its own. A document is written to a file with a UTF-8 byte order mark (which
outranks any `<meta charset>`, as the client's decoded text does) and loaded.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from marionette_driver.errors import JavascriptException
from PIL import Image

from tests.panes import HEIGHT, WIDTH, HtmlPane, Pane, Panes, Unavailable, image
from tests.panes.marionette import COMMON_PREFS, Application

HINT = "no Firefox ESR here: apt-get install -y firefox-esr"
PREFS = COMMON_PREFS | {
    "javascript.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.aboutwelcome.enabled": False,
    "accessibility.blockautorefresh": True,  # a sender's <meta refresh> stays put
}
# Polled from here: with page scripts off, a page's own timers and animation frames never
# fire, not even for Marionette's sandbox. A screenshot paints the page afresh.
_STATE = "return [document.readyState, document.URL];"
_POLL = 0.005
_TIMEOUT = 30.0


class Gecko(Panes):
    """One headless Firefox ESR; each pane a window of it."""

    name = "gecko"

    def __init__(self) -> None:
        executable = shutil.which("firefox-esr") or shutil.which("firefox")
        if executable is None:
            raise Unavailable(HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="mimeops-gecko-"))
        self.app = Application([executable, "--headless"], self.dir / "profile", PREFS,
                               {"pageLoadStrategy": "none"})
        self.client = self.app.client
        # The window Firefox started with is the first pane's.
        self.unused: str | None = self.client.current_window_handle
        super().__init__(self._open)

    def _open(self) -> Pane:
        handle = self.unused or self.client.open(type="window", focus=False)["handle"]
        self.unused = None
        pane = GeckoPane(self, handle, len(self.opened()))
        try:
            pane.size()
        except Exception:
            self.close()  # never leave a Firefox behind
            raise
        return pane

    def use(self, handle: str) -> Any:
        """The Marionette client, switched to the window `handle`."""
        return self.app.use(handle)

    def close(self) -> None:
        self.app.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class GeckoPane(HtmlPane):
    """One window of a headless Firefox ESR."""

    engine = "gecko"

    def __init__(self, gecko: Gecko, handle: str, number: int) -> None:
        self.gecko, self.handle = gecko, handle
        self.path = gecko.dir / f"pane{number}.html"
        self.pages = 0
        self.url = ""

    def size(self) -> None:
        """Resize the window until its viewport is WIDTH x HEIGHT (toolbars take the rest)."""
        client = self.gecko.use(self.handle)
        client.set_window_rect(width=WIDTH, height=HEIGHT)
        inner = client.execute_script("return [window.innerWidth, window.innerHeight];")
        client.set_window_rect(width=2 * WIDTH - inner[0], height=2 * HEIGHT - inner[1])

    def begin_html(self, markup: str) -> None:
        self.pages += 1  # a new query: a new document, even for the same markup
        self.path.write_bytes(b"\xef\xbb\xbf" + markup.removeprefix("\ufeff").encode("utf-8"))
        self.url = self.path.as_uri() + f"?{self.pages}"
        self.gecko.use(self.handle).navigate(self.url)

    def settle(self) -> None:
        client = self.gecko.use(self.handle)
        deadline = time.monotonic() + _TIMEOUT
        while not self._loaded(client):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Firefox: {self.url} not loaded")
            time.sleep(_POLL)  # waiting on the browser: no clock to inject

    def _loaded(self, client: Any) -> bool:
        """Whether this pane's page has loaded. A script sent while the old document is
        torn down can fail in its dying sandbox (Firefox ESR answered once with
        NS_ERROR_OUT_OF_MEMORY from evalInSandbox, 23 GB free): that is "not yet"."""
        try:
            return bool(client.execute_script(_STATE) == ["complete", self.url])
        except JavascriptException:
            return False

    def run(self, function: str, arg: Any = None) -> Any:
        return self.gecko.use(self.handle).execute_script(
            f"return ({function})(document, arguments[0]);", script_args=[arg])

    def shot(self) -> Image.Image:
        return image(self.gecko.use(self.handle).screenshot(format="binary", full=False))
