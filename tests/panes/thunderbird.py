"""Thunderbird itself: the rewritten .eml in its standalone message window.

Started headless with `--marionette -remote-allow-system-access` on a throw-away
profile that already has a Local Folders account (so no account wizard), with
Thunderbird's own defaults for message display (remote content blocked, scripts off in
messages, inline attachments shown, `mail.html_sanitize.drop_conditional_css`). Each
pane is one message window, sized so that its message pane is WIDTH x HEIGHT CSS pixels,
that shows one message after another (`displayMessage` of its about:message, which
returns at once: several windows load together). Marionette works in the chrome
context: the pane's document is `#messagepane` inside `#messageBrowser`, and a shot is
the window's pixels cropped to the pane.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from marionette_driver import Wait
from PIL import Image

from tests.panes import HEIGHT, WIDTH, Pane, Panes, Showing, Unavailable, eml, image
from tests.panes.marionette import COMMON_PREFS, Application

HINT = "no Thunderbird here: apt-get install -y thunderbird"
PREFS = COMMON_PREFS | {
    "mail.accountmanager.accounts": "account1",
    "mail.accountmanager.localfoldersserver": "server1",
    "mail.account.account1.server": "server1",
    "mail.server.server1.type": "none",
    "mail.server.server1.hostname": "Local Folders",
    "mail.server.server1.name": "Local Folders",
    "mail.server.server1.userName": "nobody",
    "mail.shell.checkDefaultClient": False,
    "mail.provider.suppress_dialog_on_startup": True,
    "mail.spotlight.firstRunDone": True,
    "mail.winsearch.firstRunDone": True,
    "mailnews.start_page.enabled": False,
    "mail.rights.version": 1,
    "mailnews.auto_config_url": "",
    "mail.biff.play_sound": False,
    "mail.biff.show_alert": False,
}
# The message pane's document and window, from the message window's chrome (null while
# about:message itself is still loading).
_PANE = ('const about = document.getElementById("messageBrowser");'
         'const pane = about.contentDocument && about.contentDocument'
         '.getElementById("messagepane");')
_SETTLE = _PANE + """
const [url, timeout] = arguments;
return (async () => {
  const until = Date.now() + timeout;
  const ready = () => {
    const doc = pane && pane.contentDocument;
    return about.contentWindow.msgLoaded && doc && doc.readyState === "complete"
        && doc.URL.startsWith(url.replace("file://", "mailbox://").split("?")[0])
        && Array.from(doc.images).every(i => i.complete);
  };
  while (!ready()) {
    if (Date.now() > until) {
      return "not loaded: " + (pane.contentDocument ? pane.contentDocument.URL : "no document");
    }
    await new Promise(r => setTimeout(r, 10));
  }
  const win = pane.contentWindow;
  await new Promise(r => win.requestAnimationFrame(() => win.requestAnimationFrame(r)));
  return null;
})();
"""
_TIMEOUT_MS = 30_000


class Thunderbird(Panes):
    """One headless Thunderbird; each pane a standalone message window of it."""

    name = "thunderbird"

    def __init__(self) -> None:
        executable = shutil.which("thunderbird")
        if executable is None:
            raise Unavailable(HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="mimeops-thunderbird-"))
        self.app = Application([executable, "--headless", "-remote-allow-system-access"],
                               self.dir / "profile", PREFS)
        self.client = self.app.client
        self.messages = 0
        try:
            self.client.set_context("chrome")
        except Exception:
            self.close()
            raise
        super().__init__(self._open)

    def write(self, raw: bytes) -> str:
        """`raw` as an .eml file; the URL Thunderbird displays it from."""
        self.messages += 1
        path = self.dir / f"message{self.messages}.eml"
        path.write_bytes(raw)
        return path.as_uri() + "?type=application/x-message-display"

    def use(self, handle: str) -> Any:
        """The Marionette client, switched to the window `handle`."""
        return self.app.use(handle)

    def _open(self) -> Pane:
        try:
            return self._window()
        except Exception:
            self.close()  # never leave a Thunderbird behind
            raise

    def _window(self) -> ThunderbirdPane:
        client = self.client
        first = self.write(eml("<p>ready</p>"))
        main = client.chrome_window_handles[0]
        self.use(main)
        known = set(client.chrome_window_handles)
        client.execute_script(
            'const w = Services.wm.getMostRecentWindow("mail:3pane");'
            'w.openDialog("chrome://messenger/content/messageWindow.xhtml", "_blank",'
            '"all,chrome,dialog=no,status,toolbar", Services.io.newURI(arguments[0]));',
            script_args=[first])
        Wait(client, timeout=60).until(lambda c: set(c.chrome_window_handles) - known)
        (handle,) = set(client.chrome_window_handles) - known
        pane = ThunderbirdPane(self, handle)
        Wait(client, timeout=60).until(lambda c: self.use(handle).execute_script(
            _PANE + "return !!(about.contentWindow && about.contentWindow.msgLoaded);"))
        pane.url = first
        pane.settle()
        client.set_window_rect(width=WIDTH + 200, height=HEIGHT + 300)
        inner = client.execute_script(
            _PANE + "return [pane.contentWindow.innerWidth, pane.contentWindow.innerHeight];")
        client.set_window_rect(width=2 * WIDTH + 200 - inner[0],
                               height=2 * HEIGHT + 300 - inner[1])
        return pane

    def close(self) -> None:
        self.app.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ThunderbirdPane(Showing):
    """One standalone message window."""

    engine = "thunderbird"

    def __init__(self, thunderbird: Thunderbird, handle: str) -> None:
        self.thunderbird, self.handle = thunderbird, handle
        self.url = ""

    def begin_message(self, raw: bytes) -> None:
        previous = self.url
        self.url = self.thunderbird.write(raw)
        client = self.thunderbird.use(self.handle)
        # about:message may still be setting up its window: wait until it can display.
        Wait(client, timeout=30).until(lambda c: c.execute_script(
            _PANE + "return !!(pane && about.contentWindow.displayMessage);"))
        client.execute_script(
            _PANE + "about.contentWindow.displayMessage(arguments[0]);", script_args=[self.url])
        if previous:
            Path(previous.removeprefix("file://").split("?")[0]).unlink(missing_ok=True)

    def begin_html(self, markup: str) -> None:
        self.begin_message(eml(markup))

    def settle(self) -> None:
        problem = self.thunderbird.use(self.handle).execute_script(
            _SETTLE, script_args=[self.url, _TIMEOUT_MS], script_timeout=_TIMEOUT_MS + 5000)
        if problem:
            raise RuntimeError(f"Thunderbird: {problem}")

    def run(self, function: str, arg: Any = None) -> Any:
        return self.thunderbird.use(self.handle).execute_script(
            _PANE + f"return ({function})(pane.contentDocument, arguments[0]);",
            script_args=[arg])

    def attachments(self) -> list[str]:
        """The names in the attachment list beside the page: the files a reader opens
        with a click (not part of the page's document)."""
        names: list[str] = self.thunderbird.use(self.handle).execute_script(
            _PANE + "return (about.contentWindow.currentAttachments || []).map(a => a.name);")
        return names

    def shot(self) -> Image.Image:
        client = self.thunderbird.use(self.handle)
        x, y, width, height = client.execute_script(
            _PANE + "const a = about.getBoundingClientRect(), b = pane.getBoundingClientRect();"
            "return [a.left + b.left, a.top + b.top, pane.contentWindow.innerWidth,"
            " pane.contentWindow.innerHeight];")
        window = image(client.screenshot(format="binary"))
        return window.crop((round(x), round(y), round(x) + width, round(y) + height))
