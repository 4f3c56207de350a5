"""The reading panes themselves: every engine renders with page scripts and the network
off, at the pane size the judgement assumes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.panes import HEIGHT, WIDTH, Pane

pytestmark = pytest.mark.browser

FACTS = """function (doc) {
  const t = doc.getElementById("t");
  return [t.textContent, t.getBoundingClientRect().height > 0,
          doc.documentElement.clientWidth, doc.defaultView.innerHeight];
}"""


@pytest.fixture(scope="module")
def listener() -> Iterator[list[str]]:
    """A loopback HTTP server (on a free port) that records every request it gets."""
    seen: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen.append(str(server.server_address[1]))
    try:
        yield seen
    finally:
        server.shutdown()


def _page(port: str) -> str:
    url = f"http://127.0.0.1:{port}"
    return (f'<!DOCTYPE html><html><head><link rel=stylesheet href="{url}/s.css"></head>'
            f'<body style="margin:0"><p id=t>hello</p><img src="{url}/i.png">'
            "<script>document.getElementById('t').textContent='js'</script></body></html>")


def _check(pane: Pane, listener: list[str], bars: int = 0) -> None:
    """`bars`: how much of the pane a client's notification bars may take."""
    port = listener[0]
    pane.show_html(_page(port))
    text, rendered, width, height = pane.run(FACTS)
    assert text == "hello"  # the script did not run
    assert rendered
    assert WIDTH - 20 <= width <= WIDTH and HEIGHT - bars <= height <= HEIGHT
    pane.shot()
    assert listener[1:] == [], "the pane fetched from the network"


def test_browser_panes_run_no_script_and_fetch_nothing(pane: Pane,
                                                       listener: list[str]) -> None:
    _check(pane, listener)


def test_thunderbird_pane_runs_no_script_and_fetches_nothing(thunderbird: Pane,
                                                             listener: list[str]) -> None:
    # Its "remote content blocked" bar takes the top of the message pane.
    _check(thunderbird, listener, bars=80)
