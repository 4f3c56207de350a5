"""WebKitGTK reading panes, driven over stdin/stdout: run by the SYSTEM Python.

python3-gi (PyGObject) and the WebKit2 4.1 typelib are Debian packages, importable by
/usr/bin/python3 only; the project's virtualenv (another interpreter, maybe another
Python version) cannot load them. So tests/panes/webkit.py starts this file with the
system Python under `xvfb-run` and talks JSON to it, one request and one answer per
line. It imports nothing but the standard library and gi.

Requests: {"op": "open", "width": w, "height": h} -> {"page": n};
{"op": "begin", "page": n, "html": markup} (starts loading, answers at once: the pages
load together); {"op": "settle", "page": n} (loaded and painted);
{"op": "run", "page": n, "script": source}
-> {"value": <JSON the script returned>}; {"op": "shot", "page": n} -> {"png": base64};
{"op": "quit"}. A failure answers {"error": "..."}.

Pages have page scripts off (`enable-javascript-markup` false: our own scripts still
run, in an isolated world) and every request goes to a closed loopback port. A shot
is the composited window as the X server holds it (WebKit's own snapshot API paints a
flattened page, wrong for 3D transforms), taken once it stopped changing.
"""

import base64
import hashlib
import json
import sys
import time

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gdk, GLib, Gtk, WebKit2  # noqa: E402

WORLD = "mimeops"
_STABLE = 3          # identical grabs in a row before a shot counts as painted
_GRAB_EVERY = 0.02   # seconds between grabs
_PAINT_TIMEOUT = 5.0
_LOAD_TIMEOUT = 30.0
_GAP = 10  # pixels between the windows of two pages
_FRAMES = ("await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"
           " return null;")


def _context():
    """A web context whose every request goes nowhere."""
    context = WebKit2.WebContext.new_ephemeral()
    proxy = WebKit2.NetworkProxySettings.new("http://127.0.0.1:9", None)
    context.get_website_data_manager().set_network_proxy_settings(
        WebKit2.NetworkProxyMode.CUSTOM, proxy)
    return context


class Page:
    def __init__(self, context, width, height, slot):
        self.view = WebKit2.WebView.new_with_context(context)
        settings = self.view.get_settings()
        settings.set_enable_javascript_markup(False)
        settings.set_hardware_acceleration_policy(WebKit2.HardwareAccelerationPolicy.ALWAYS)
        self.window = Gtk.Window()
        self.window.set_default_size(width, height)
        self.window.set_resizable(False)
        self.window.add(self.view)
        # Side by side on the X screen: a grab of a window another one overlaps would
        # take that one's pixels (no compositing window manager under Xvfb).
        self.window.move(slot * (width + _GAP), 0)
        self.window.show_all()
        self.loaded = False
        self.view.connect("load-changed", self._changed)
        self.view.connect("decide-policy", self._decide)

    def _changed(self, _view, event):
        if event == WebKit2.LoadEvent.FINISHED:
            self.loaded = True

    def _decide(self, _view, decision, kind):
        # A sender's <meta refresh> or link may not take the pane elsewhere.
        if kind == WebKit2.PolicyDecisionType.NAVIGATION_ACTION and self.loaded:
            decision.ignore()
            return True
        return False

    def begin(self, html):
        self.loaded = False
        # As bytes: load_html takes a C string, which a NUL in the markup would cut short.
        # Empty bytes never finish loading: one space is the same (empty) document.
        data = html.encode("utf-8") or b" "
        self.view.load_bytes(GLib.Bytes.new(data), "text/html", "UTF-8", "about:blank")

    def settle(self):
        _spin(lambda: self.loaded, _LOAD_TIMEOUT, "load")
        self.script(_FRAMES)

    def script(self, body):
        """Run an async function body in our isolated world; its JSON result."""
        box = {}

        def finished(view, result):
            try:
                box["value"] = view.call_async_javascript_function_finish(result)
            except GLib.Error as error:
                box["error"] = error.message

        self.view.call_async_javascript_function(
            f"return JSON.stringify(await (async () => {{ {body} }})());", -1, None, WORLD,
            None, None, finished)
        _spin(lambda: box, _LOAD_TIMEOUT, "script")
        if "error" in box:
            raise RuntimeError(box["error"])
        text = box["value"].to_string()
        return None if text in (None, "undefined") else json.loads(text)

    def shot(self):
        # A frame after whatever changed last (a scroll), then the window once it holds
        # still: under load the compositor can lag behind the page.
        self.script(_FRAMES)
        last, same, deadline = None, 0, time.monotonic() + _PAINT_TIMEOUT
        while same < _STABLE and time.monotonic() < deadline:
            _drain()
            time.sleep(_GRAB_EVERY)
            _drain()
            window = self.view.get_window()
            pixbuf = Gdk.pixbuf_get_from_window(window, 0, 0, window.get_width(),
                                                window.get_height())
            digest = hashlib.sha1(pixbuf.get_pixels()).digest()
            same = same + 1 if digest == last else 0
            last = digest
        _, png = pixbuf.save_to_bufferv("png", [], [])
        return base64.b64encode(png).decode()


def _drain():
    context = GLib.MainContext.default()
    while context.pending():
        context.iteration(False)


def _spin(done, timeout, what):
    deadline = time.monotonic() + timeout
    context = GLib.MainContext.default()
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"WebKit {what} timed out")
        context.iteration(False) or time.sleep(0.001)


def main():
    context = _context()
    pages = []
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "quit":
                break
            if op == "open":
                pages.append(Page(context, request["width"], request["height"], len(pages)))
                answer = {"page": len(pages) - 1}
            elif op == "begin":  # returns at once: other pages load meanwhile
                pages[request["page"]].begin(request["html"])
                answer = {}
            elif op == "settle":
                pages[request["page"]].settle()
                answer = {}
            elif op == "run":
                answer = {"value": pages[request["page"]].script(request["script"])}
            elif op == "shot":
                answer = {"png": pages[request["page"]].shot()}
            else:
                answer = {"error": f"unknown op {op!r}"}
        except Exception as error:  # answered, not fatal: the next request still works
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
