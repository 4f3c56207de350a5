"""WebKitGTK (Apple Mail's engine) through the system Python's gi, under Xvfb.

The virtualenv cannot import python3-gi (a Debian package built for /usr/bin/python3),
so the pages live in a helper process, tests/panes/webkit_helper.py, started as
`xvfb-run -a /usr/bin/python3 webkit_helper.py` and spoken to in JSON lines. This
keeps the virtualenv isolated (no system site-packages leaking into the test run) and
works whatever Python the virtualenv has. `MIMEOPS_GI_PYTHON` overrides the interpreter.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

from tests.panes import HEIGHT, WIDTH, HtmlPane, Panes, Unavailable, die_with_parent, image

HINT = ("no WebKitGTK here: apt-get install -y gir1.2-webkit2-4.1 python3-gi xvfb "
        "(or set MIMEOPS_GI_PYTHON to a Python that can import gi)")
HELPER = Path(__file__).with_name("webkit_helper.py")
MAX_PAGES = 8  # pages side by side on the X screen (see the helper)
_PROBE = ("import gi; gi.require_version('WebKit2', '4.1'); "
          "gi.require_version('Gtk', '3.0'); from gi.repository import WebKit2")


def system_python() -> str | None:
    """A Python that can import WebKit2 4.1 through gi, or None."""
    for candidate in (os.environ.get("MIMEOPS_GI_PYTHON"), "/usr/bin/python3"):
        if candidate and Path(candidate).is_file() and subprocess.run(
                [candidate, "-c", _PROBE], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


class Helper:
    """The helper process: one X server, one web context, many pages."""

    def __init__(self) -> None:
        python, xvfb = system_python(), shutil.which("xvfb-run")
        if python is None or xvfb is None:
            raise Unavailable(HINT)
        # Its own session: close() ends xvfb-run, Xvfb and the helper, nothing else.
        self.process = subprocess.Popen(
            [xvfb, "-a", "-s", f"-screen 0 {MAX_PAGES * (WIDTH + 10)}x{HEIGHT + 100}x24", python,
             str(HELPER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True, preexec_fn=die_with_parent)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the WebKit helper ended")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"WebKit: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(RuntimeError, OSError):
                self.ask(op="quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class WebKitPane(HtmlPane):
    """One WebKitWebView in its own window."""

    engine = "webkit"

    def __init__(self, helper: Helper) -> None:
        self.helper = helper
        self.page = helper.ask(op="open", width=WIDTH, height=HEIGHT)["page"]
        assert self.page < MAX_PAGES, "more WebKit pages than fit side by side on the screen"

    def begin_html(self, markup: str) -> None:
        self.helper.ask(op="begin", page=self.page, html=markup.removeprefix("\ufeff"))

    def settle(self) -> None:
        self.helper.ask(op="settle", page=self.page)

    def run(self, function: str, arg: Any = None) -> Any:
        script = f"return ({function})(document, {json.dumps(arg)});"
        return self.helper.ask(op="run", page=self.page, script=script)["value"]

    def shot(self) -> Image.Image:
        return image(base64.b64decode(self.helper.ask(op="shot", page=self.page)["png"]))



class WebKit(Panes):
    """The helper process; each pane a WebKitWebView in a window of its own."""

    name = "webkit"

    def __init__(self) -> None:
        self.helper = Helper()
        super().__init__(lambda: WebKitPane(self.helper))

    def close(self) -> None:
        self.helper.close()
