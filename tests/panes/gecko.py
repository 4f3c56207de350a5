"""Firefox ESR (Gecko, Thunderbird's engine), headless, through Marionette.

Page scripts are off (`javascript.enabled` false); Marionette's own scripts still run,
in their sandbox. Each document is written to a file with a UTF-8 byte order mark
(which outranks any `<meta charset>`, as the client's decoded text does) and loaded.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from tests.panes import HEIGHT, WIDTH, HtmlPane, Unavailable, image
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


class GeckoPane(HtmlPane):
    """The one tab of a headless Firefox ESR."""

    engine = "gecko"

    def __init__(self) -> None:
        executable = shutil.which("firefox-esr") or shutil.which("firefox")
        if executable is None:
            raise Unavailable(HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="mimeops-gecko-"))
        self.app = Application([executable, "--headless"], self.dir / "profile", PREFS)
        self.client = self.app.client
        self.pages = 0
        try:
            _size_viewport(self.client)
        except Exception:
            self.close()  # never leave a Firefox behind
            raise

    def show_html(self, markup: str) -> None:
        self.pages += 1  # a new query: a new document, even for the same markup
        path = self.dir / "page.html"
        path.write_bytes(b"\xef\xbb\xbf" + markup.removeprefix("\ufeff").encode("utf-8"))
        self.client.navigate(path.as_uri() + f"?{self.pages}")

    def run(self, function: str, arg: Any = None) -> Any:
        return self.client.execute_script(f"return ({function})(document, arguments[0]);",
                                          script_args=[arg])

    def shot(self) -> Image.Image:
        return image(self.client.screenshot(format="binary", full=False))

    def close(self) -> None:
        self.app.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _size_viewport(client: Any) -> None:
    """Resize the window until its viewport is WIDTH x HEIGHT (the toolbars take the rest)."""
    client.set_window_rect(width=WIDTH, height=HEIGHT)
    inner = client.execute_script("return [window.innerWidth, window.innerHeight];")
    client.set_window_rect(width=2 * WIDTH - inner[0], height=2 * HEIGHT - inner[1])
