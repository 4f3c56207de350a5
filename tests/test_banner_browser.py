"""The external-warning banner in a real browser: visible and first, whatever the sender writes.

Each message (a catalogue attack from tests/banner_attacks.py, or an HTML message of the
shared corpus) goes through the external-warning recipe plus a footer, and headless
Chromium (JavaScript and network off, a 900x700 reading pane) renders it. A banner passes
when it is the first box of the page (top-left, nothing of the sender's above it), full
width, and its pixels match the same banner rendered alone on a clean page: that one
comparison catches hiding, shrinking, recolouring, low contrast, clipping, covering and
moving, and it needs real ink on screen. The footer must match its clean rendering the
same way, and every word the original showed must still be shown.
"""

from __future__ import annotations

import base64
import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from mimeops import Envelope, load_flow
from mimeops.flow import Flow, marker
from mimeops.mime import Message, charset, guard, transfer
from tests.banner_attacks import ATTACKS, FOOTER_ATTACKS, FOOTER_INSIDE
from tests.browser import VIEWPORT
from tests.conftest import corpus_params
from tests.test_guard import BANNER, FRAGMENTS, TOKEN

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "flows" / "external-warning.yaml"
KEY = b"browser-test-key"
FOOTER_HTML = ('<div style="border-top:1px solid #888888;color:#333333;font-family:Arial,'
               'sans-serif;font-size:12px;padding:6px 0">Scanned by Example Corp. Report '
               "phishing to security@example.com.</div>")
ENVELOPE = Envelope("INBOUND", "billing@outside.example.net", ["user@example.com"])
# A pixel differs when a channel is off by more than this; a box passes with at most
# MAX_DIFFERENT of its pixels differing from the clean rendering (anti-aliasing noise).
CHANNEL_TOLERANCE = 60
MAX_DIFFERENT = 0.02
MIN_INK = 150  # dark pixels: the banner's text is really painted


def _flow() -> Flow:
    spec = yaml.safe_load(RECIPE.read_text())
    spec["rules"][0]["apply"].append({"footer": {"text": "Scanned.", "html": FOOTER_HTML}})
    return load_flow(yaml.safe_dump(spec), marker_key=KEY)


FLOW = _flow()


def build(markup: str, name: str) -> bytes:
    body = base64.encodebytes(markup.encode("utf-8")).replace(b"\n", b"\r\n")
    return ("From: Billing <billing@outside.example.net>\r\nTo: user@example.com\r\n"
            "Subject: Invoice\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
            f"Message-ID: <{name}@outside.example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body


def html_of(raw: bytes) -> str | None:
    part = Message(raw).bodies().get("html")
    if part is None:
        return None
    data = transfer.decode(part.cte, part.body())
    return charset.decode_lossless(data, charset.lookup(part.charset_label))[0]


def image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def different(a: Image.Image, b: Image.Image) -> float:
    """Share of pixels that differ visibly between two same-size images."""
    diff = ImageChops.difference(a, b).convert("L").point(
        lambda v: 255 if v > CHANNEL_TOLERANCE // 3 else 0)
    histogram = diff.histogram()
    return 1 - histogram[0] / (a.width * a.height)


def ink(img: Image.Image) -> int:
    return sum(img.convert("L").point(lambda v: 255 if v < 110 else 0).histogram()[255:])


_CLEAN: dict[tuple[str, bool], Image.Image] = {}


def clean(page: Any, box_markup: str, element_id: str) -> list[Image.Image]:
    """The box rendered alone, in standards and in quirks mode (a message may be either)."""
    shots = []
    for standards in (True, False):
        key = (box_markup, standards)
        if key not in _CLEAN:
            doctype = "<!DOCTYPE html>" if standards else ""
            show(page, f'{doctype}<html><body style="margin:0">{box_markup}</body></html>')
            _CLEAN[key] = image(page.locator(f"#{element_id}").screenshot())
        shots.append(_CLEAN[key])
    return shots


def box_markup(markup: str, element_id: str, end: str) -> str:
    start = markup.index(f'<div id="{element_id}"')
    return markup[start:markup.index(end, start)]


def matches(shot: Image.Image, references: list[Image.Image]) -> str | None:
    """None when `shot` looks like one of the clean renderings, else what differs."""
    best = "never compared"
    for ref in references:
        if abs(ref.width - shot.width) > 2 or abs(ref.height - shot.height) > 2:
            best = f"size {shot.size} instead of {ref.size}"
            continue
        width, height = min(ref.width, shot.width), min(ref.height, shot.height) - 1
        # A box at a fractional position is painted up to a pixel off: try both.
        share = min(different(shot.crop((0, a, width, a + height)),
                              ref.crop((0, b, width, b + height)))
                    for a, b in ((0, 0), (1, 0), (0, 1)))
        if share <= MAX_DIFFERENT:
            return None
        best = f"{share:.0%} of its pixels differ from the clean rendering"
    return best


def show(page: Any, markup: str) -> None:
    """A new document (set_content alone keeps the last one's scroll position)."""
    page.goto("about:blank")
    page.set_content(markup)


def visible_words(page: Any, markup: str, selector: str) -> Counter[str]:
    show(page, markup)
    return Counter(page.inner_text(selector).split())


def judge(page: Any, raw: bytes, footer: bool = True) -> list[str]:
    """What is wrong with the guarded rendering of `raw` (empty: nothing)."""
    result = FLOW.apply(raw, ENVELOPE)
    out = html_of(result.message)
    original = html_of(raw)
    assert out is not None and original is not None
    ids = guard.names(marker.token(KEY, Message(raw), ENVELOPE.direction))
    banner_markup = box_markup(out, ids.banner, f"<{ids.wrapper} ")
    references = clean(page, banner_markup, ids.banner)
    footer_refs: list[Image.Image] = []
    if footer:
        footer_markup = box_markup(out, ids.footer, "</div>") + "</div>"
        footer_refs = clean(page, footer_markup, ids.footer)
    before = visible_words(page, original, "html")

    problems = []
    show(page, out)
    banner = page.locator(f"#{ids.banner}")
    box = banner.bounding_box()
    if box is None or not banner.is_visible():
        return ["banner not rendered"]
    if box["y"] > 1 or box["x"] > 1:
        problems.append(f"banner not first: at ({box['x']:.0f}, {box['y']:.0f})")
    if box["width"] < VIEWPORT["width"] - 2:
        problems.append(f"banner only {box['width']:.0f}px wide")
    shot = image(page.screenshot(clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                       "height": max(1, min(box["height"], 600))}))
    problem = matches(shot, references)
    if problem:
        problems.append(f"banner: {problem}")
    if ink(shot) < MIN_INK:
        problems.append("banner: no text painted")
    wrapper = page.locator(f"#{ids.wrapper}").bounding_box()
    if wrapper is not None and wrapper["y"] < box["y"] + box["height"] - 1:
        problems.append("sender content starts above the banner's bottom")
    if footer:
        foot = page.locator(f"#{ids.footer}")
        if not foot.is_visible():
            problems.append("footer not rendered")
        else:
            problem = matches(image(foot.screenshot()), footer_refs)
            if problem:
                problems.append(f"footer: {problem}")
    after = Counter(page.inner_text("html").split())
    after -= Counter(banner.inner_text().split())
    if footer:
        after -= Counter(page.locator(f"#{ids.footer}").inner_text().split())
    lost = before - after
    if lost:
        problems.append(f"original text lost: {' '.join(sorted(lost))[:120]}")
    return problems


@pytest.mark.parametrize(("name", "why", "markup"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_banner_withstands(module_page: Any, name: str, why: str, markup: str) -> None:
    assert judge(module_page, build(markup, name), footer=name not in FOOTER_INSIDE) == [], why


@pytest.mark.parametrize(("name", "why", "markup"), FOOTER_ATTACKS,
                         ids=[a[0] for a in FOOTER_ATTACKS])
def test_footer_withstands(module_page: Any, name: str, why: str, markup: str) -> None:
    assert judge(module_page, build(markup, "footer-" + name)) == [], why


def test_the_judge_fails_an_unguarded_banner(page: Any) -> None:
    """Without the guard the same catalogue hides the banner: the judge can fail."""
    spec = yaml.safe_load(RECIPE.read_text())
    spec["rules"][0]["apply"][0]["banner"]["guard"] = False
    unguarded = load_flow(yaml.safe_dump(spec), marker_key=KEY)
    hidden = 0
    for name, _, markup in ATTACKS[:6]:
        out = html_of(unguarded.apply(build(markup, name), ENVELOPE).message)
        assert out is not None
        page.set_content(out)
        caution = page.get_by_text("CAUTION:")
        if not caution.count() or not caution.first.is_visible():
            hidden += 1
    assert hidden >= 4


def _corpus_html() -> list[Any]:
    params = []
    for param in corpus_params():
        path = param.values[0]
        if path is None:
            params.append(param)
            continue
        raw = path.read_bytes()
        before = Message(raw).bodies().get("html")
        if before is None:
            continue
        after = Message(FLOW.apply(raw, ENVELOPE).message).bodies().get("html")
        if after is not None and after.body() != before.body():
            params.append(param)
    return params


@pytest.mark.parametrize("path", _corpus_html())
def test_corpus_banner_visible_and_first(module_page: Any, path: Path) -> None:
    assert judge(module_page, path.read_bytes()) == []


# The parser differential: for random tricky markup, Chromium's own tree must have our
# stylesheet, the banner and the wrapper as the body's only children, in that order, with
# no text before them (the browser, not our scanner, decides).
STRUCTURE = """(ids) => {
  const body = document.body;
  if (!body) return 'no body';
  const kids = Array.from(body.childNodes).filter(
      n => n.nodeType !== 8 && !(n.nodeType === 3 && !n.textContent.trim()));
  return kids.map(n => n.nodeType === 3 ? '#text' : (n.id || n.localName)).join(' ');
}"""


@settings(max_examples=int(os.environ.get("MIMEOPS_BROWSER_FUZZ", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join))
def test_browser_puts_banner_first_in_any_markup(module_page: Any, markup: str) -> None:
    ids = guard.names(TOKEN)
    module_page.goto("about:blank")
    out = guard.insert(markup, TOKEN, BANNER, None)
    # A client decodes the part's bytes, and the decoder drops a leading byte order mark;
    # set_content takes text, so drop it here as the decoder would.
    module_page.set_content(out.removeprefix("\ufeff"))
    kids = module_page.evaluate(STRUCTURE, None)
    assert kids.split() == [f"{ids.wrapper}s", ids.banner, ids.wrapper], (markup, kids)


def test_absolutely_laid_out_mail_is_not_clipped(module_page: Any) -> None:
    """Mail whose content is all absolutely positioned gives the wrapper no height: its
    text must still be painted (nothing of the sender's is clipped)."""
    markup = ('<!DOCTYPE html><html><body><div style="position:absolute;top:0;left:0;'
              'width:600px"><p>One.</p><p>Two.</p><p>Three.</p>'
              '<p id=t>Please review the attached invoice.</p></div></body></html>')
    out = html_of(FLOW.apply(build(markup, "absolute-layout"), ENVELOPE).message)
    assert out is not None
    show(module_page, out)
    box = module_page.locator("#t").bounding_box()
    assert box is not None
    shot = image(module_page.screenshot(clip=box))
    assert ink(shot) >= 50
