"""Reading panes in real rendering engines, behind one small interface.

A `Pane` shows a message the way one engine's mail client would, and answers
questions about what it painted: `run` evaluates a JavaScript function over the
shown document, `shot` takes the pane's pixels. The judgement (tests/judge.py) is
written once against this interface and runs unchanged in every engine:

- ``chromium``: Debian's Chromium through Playwright (Gmail and Outlook on the web,
  new Outlook);
- ``gecko``: Debian's Firefox ESR, headless, through Marionette (Thunderbird's engine);
- ``webkit``: WebKitGTK 4.1 through python3-gi under Xvfb (Apple Mail's engine), in a
  helper process run by the system Python (tests/panes/webkit_helper.py);
- ``thunderbird``: the mail client itself, Debian's Thunderbird, headless, through
  Marionette: the whole .eml in its standalone message window.

The browsers show the HTML body a client picks (what a webmail shows); Thunderbird
shows every part it displays inline, in its own order. Every pane runs with page
scripts and the network off, as mail readers do.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image

from mimeops.mime import Message, charset, transfer

__all__ = ["HEIGHT", "WIDTH", "Engine", "HtmlPane", "Pane", "Panes", "Showing", "Unavailable",
           "die_with_parent", "eml", "html_of", "image", "required"]

# The reading pane every engine gets (CSS pixels).
WIDTH, HEIGHT = 900, 700


class Unavailable(Exception):
    """An engine this machine lacks; the message is a one-line install hint."""


class Pane(Protocol):
    """One reading pane of an engine. Showing is split in two, so that several panes of
    one engine can load at once (`tests/panes/batch.py`): `begin_*` starts a new
    document and returns, `settle` waits until it is loaded and painted."""

    engine: str

    def begin_message(self, raw: bytes) -> None:
        """Start showing the message `raw` as this engine's client would."""

    def begin_html(self, markup: str) -> None:
        """Start showing `markup` as the HTML body of a message."""

    def settle(self) -> None:
        """Wait until the document last begun is loaded and painted."""

    def show_message(self, raw: bytes) -> None:
        """`begin_message` and `settle`."""

    def show_html(self, markup: str) -> None:
        """`begin_html` and `settle`."""

    def run(self, function: str, arg: Any = None) -> Any:
        """Call the JavaScript `function (doc, arg) {...}` on the shown document;
        return its (JSON) result."""

    def shot(self) -> Image.Image:
        """The pane's viewport as painted now, one pixel per CSS pixel."""


class Engine(Protocol):
    """A running engine: one browser (or mail client) process, as many panes as wanted."""

    name: str

    def panes(self, count: int) -> list[Pane]:
        """`count` panes of this engine (opened on first use, then the same ones)."""

    def close(self) -> None:
        """End the engine's processes."""


class Showing:
    """`show_*` as `begin_*` then `settle`."""

    def begin_message(self, raw: bytes) -> None:
        raise NotImplementedError

    def begin_html(self, markup: str) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        raise NotImplementedError

    def show_message(self, raw: bytes) -> None:
        self.begin_message(raw)
        self.settle()

    def show_html(self, markup: str) -> None:
        self.begin_html(markup)
        self.settle()


class Panes:
    """The panes an engine has opened, opened on demand."""

    def __init__(self, open_one: Callable[[], Pane]) -> None:
        self._open = open_one
        self._panes: list[Pane] = []

    def panes(self, count: int) -> list[Pane]:
        while len(self._panes) < count:
            self._panes.append(self._open())
        return self._panes[:count]

    def opened(self) -> list[Pane]:
        return list(self._panes)


def image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def html_of(raw: bytes) -> str | None:
    """The decoded HTML body a client picks, or None."""
    part = Message(raw).bodies().get("html")
    if part is None:
        return None
    data = transfer.decode(part.cte, part.body())
    return charset.decode_lossless(data, charset.lookup(part.charset_label))[0]


def eml(body: str, subtype: str = "html") -> bytes:
    """A minimal message whose single body is `body` (UTF-8, base64)."""
    import base64

    encoded = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    return (b"From: Reference <reference@example.com>\r\nTo: user@example.com\r\n"
            b"Subject: reference\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
            b"Message-ID: <reference@example.com>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/" + subtype.encode() + b"; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded)


class HtmlPane(Showing):
    """A browser tab: a message is its HTML body, as a webmail shows it."""

    engine = "browser"

    def begin_message(self, raw: bytes) -> None:
        markup = html_of(raw)
        if markup is None:
            raise ValueError("the message has no HTML body a browser would show")
        self.begin_html(markup)


def die_with_parent() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: the engine gets SIGTERM when the test
    process dies, however it dies (Linux `PR_SET_PDEATHSIG`): no browser is left behind."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def required() -> bool:
    """CI installs every engine (.ci/run sets MIMEOPS_REQUIRE_ENGINES): there a missing
    one is a fault, not a skip."""
    return bool(os.environ.get("MIMEOPS_REQUIRE_ENGINES") or os.environ.get("CI"))
