"""Whether a reader sees the warning: one judgement, run unchanged in every engine.

A message goes through the external-warning recipe plus a footer, and a `Pane`
(tests/panes: Chromium, Gecko, WebKit, Thunderbird) shows the original and the result.
The result passes when:

- **visible and first**: the first warning on the page (the guarded HTML banner, or in
  Thunderbird the plain-text banner of a front part) sits exactly where it sits when
  rendered alone in the same engine, with nothing of the sender's painted above it,
  and the sender's content starts below it;
- **legible**: its pixels match that clean rendering (one comparison catches hiding,
  shrinking, recolouring, low contrast, clipping, covering and moving; it needs real ink
  on screen); the footer the same way, scrolled into view;
- **content kept**: every word the original showed where a reader can reach it is still
  shown where a reader can reach it (rendered, visible, not clipped away by an
  `overflow` box, not above or left of the page, not under our boxes); when the flow
  attached the original whole as an .eml file (a wrap: its HTML would share the page
  with the banner), the client lists that file instead.

The DOM questions are one JavaScript function (`PROBE`) over the pane's document,
evaluated by each engine's own driver; the pixels are each engine's own paint.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, ImageChops

from mimeops import Envelope, load_flow
from mimeops.flow import Flow, Result, marker
from mimeops.mime import Message, guard, transfer
from tests.conftest import corpus_params
from tests.invariants import wrapped
from tests.panes import Pane, eml, html_of
from tests.panes.batch import Steps, drive, show

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
MIN_INK = 150  # dark pixels: the warning's text is really painted
_SHOT_HEIGHT = 600  # at most this much of a tall box is compared
# How much of the plain-text banner's first line locates it in the page.
_PLAIN_KEY = 30


def recipe_flow(guarded: bool = True) -> Flow:
    """The shipped external-warning recipe plus an HTML footer."""
    spec = yaml.safe_load(RECIPE.read_text())
    spec["rules"][0]["apply"][0]["banner"]["guard"] = guarded
    spec["rules"][0]["apply"].append({"footer": {"text": "Scanned.", "html": FOOTER_HTML}})
    return load_flow(yaml.safe_dump(spec), marker_key=KEY)


FLOW = recipe_flow()


def corpus_cases(keep: Callable[[bytes, Result], bool]) -> list[Any]:
    """pytest params of the corpus messages for which `keep(raw, what the recipe made of
    it)` holds (the one "corpus not found" skip when there is no corpus)."""
    params = []
    for param in corpus_params():
        path = param.values[0]
        if path is None or keep(path.read_bytes(), FLOW.apply(path.read_bytes(), ENVELOPE)):
            params.append(param)
    return params


def build(markup: str, name: str) -> bytes:
    """A message from outside whose single body is the HTML `markup`."""
    body = base64.encodebytes(markup.encode("utf-8")).replace(b"\n", b"\r\n")
    return ("From: Billing <billing@outside.example.net>\r\nTo: user@example.com\r\n"
            "Subject: Invoice\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
            f"Message-ID: <{name}@outside.example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body


# The one question asked of every engine. `arg.marks`: how to find our boxes ({id} of an
# element, or {text}: the start of a line in a text node); `arg.wrapper`: the guard's
# wrapper id. Returns each mark's box, what is painted above the first mark, and the
# words a reader can reach outside our boxes.
PROBE = r"""function (doc, arg) {
  const win = doc.defaultView, root = doc.documentElement, body = doc.body || root;
  const styles = new Map(), alphas = new Map();
  const style = el => {
    let s = styles.get(el);
    if (!s) { s = win.getComputedStyle(el); styles.set(el, s); }
    return s;
  };
  const alpha = el => {
    if (!el || el.nodeType !== 1) return 1;
    let a = alphas.get(el);
    if (a === undefined) {
      a = parseFloat(style(el).opacity) * alpha(el.parentElement);
      alphas.set(el, a);
    }
    return a;
  };
  const visible = el => style(el).visibility === "visible" && alpha(el) > 0.05;
  const box = r => ({l: r.left, t: r.top, r: r.right, b: r.bottom});
  const out = r => r && {x: r.l, y: r.t, w: r.r - r.l, h: r.b - r.t};
  const locate = mark => {
    if (mark.id) {
      const el = doc.getElementById(mark.id);
      if (!el) return null;
      const shown = el.getClientRects().length > 0 && visible(el);
      return {el, node: null, kind: mark.kind, rect: box(el.getBoundingClientRect()), shown};
    }
    const walker = doc.createTreeWalker(body, 4);
    for (let n; (n = walker.nextNode());) {
      const at = n.data.indexOf(mark.text);
      if (at < 0) continue;
      let end = n.data.indexOf("\n", at);
      if (end < 0) end = n.data.length;
      const range = doc.createRange();
      range.setStart(n, at);
      range.setEnd(n, end);
      const r = range.getBoundingClientRect();
      const shown = r.width > 0 && r.height > 0 && visible(n.parentElement);
      return {el: n.parentElement, node: n, kind: mark.kind, start: at, end, rect: box(r), shown};
    }
    return null;
  };
  const marks = arg.marks.map(locate);
  const ours = marks.filter(m => m);
  // The viewport scrolls unless the root (or the body, through it) clips.
  const rootStyle = style(root), bodyStyle = style(body);
  const viewportClips = (rootStyle.overflowY !== "visible" ? rootStyle : bodyStyle)
      .overflowY.match(/hidden|clip/) !== null;
  const scrollX = win.scrollX, scrollY = win.scrollY;
  const viewW = root.clientWidth, viewH = win.innerHeight;
  // Where a rect starting at `el` can be seen: clipped by overflow boxes (a scroll box
  // shows what is scrolled into it, if it is big enough to scroll), not above or left
  // of the page; a fixed box stays in the viewport. null: nowhere.
  const reach = (el, r) => {
    let fixed = false;
    for (let a = el; a && a !== root; a = a.parentElement) {
      const s = style(a);
      if (s.position === "fixed") fixed = true;
      if (s.transform !== "none" || /layout|paint|strict|content/.test(s.contain)
          || s.filter !== "none") fixed = false;  // a containing block for fixed boxes
      if (a === body || (s.overflowX === "visible" && s.overflowY === "visible"
                         && a.localName !== "marquee")) continue;
      const b = box(a.getBoundingClientRect());
      // A scroll box (or a <marquee>, which scrolls by itself) shows what is in it.
      if (/auto|scroll/.test(s.overflowX + s.overflowY) || a.localName === "marquee") {
        if (b.r - b.l < 10 || b.b - b.t < 10) return null;
        r = b;
      } else {
        r = {l: Math.max(r.l, b.l), t: Math.max(r.t, b.t),
             r: Math.min(r.r, b.r), b: Math.min(r.b, b.b)};
      }
      if (r.r - r.l < 1 || r.b - r.t < 1) return null;
    }
    const top = fixed ? 0 : -scrollY, left = fixed ? 0 : -scrollX;
    r = {l: Math.max(r.l, left), t: Math.max(r.t, top), r: r.r, b: r.b};
    if (fixed || viewportClips) {
      r = {l: r.l, t: r.t, r: Math.min(r.r, viewW), b: Math.min(r.b, viewH)};
    }
    return r.r - r.l >= 1 && r.b - r.t >= 1 ? r : null;
  };
  const area = r => Math.max(0, r.r - r.l) * Math.max(0, r.b - r.t);
  const overlap = (a, b) => area({l: Math.max(a.l, b.l), t: Math.max(a.t, b.t),
                                  r: Math.min(a.r, b.r), b: Math.min(a.b, b.b)});
  const underOurs = r => ours.some(m => m.node === null && overlap(r, m.rect) > area(r) / 2);
  const inOurs = n => ours.some(m => m.node === null && m.el.contains(n));
  const first = ours.filter(m => m.shown && m.kind === "banner")
      .sort((a, b) => a.rect.t - b.rect.t)[0];
  const textOf = n => {
    let data = n.data;
    for (const m of ours) {
      if (m.node === n) data = data.slice(0, m.start) + " " + data.slice(m.end);
    }
    return data;
  };
  const REPLACED = new RegExp("^(img|svg|video|canvas|iframe|object|embed|input|textarea"
                              + "|select|button|hr|meter|progress)$");
  const painted = el => {
    if (REPLACED.test(el.localName)) return true;
    const s = style(el);
    const opaque = c => c && !/^(transparent|rgba\([^)]*,\s*0\))$/.test(c);
    return opaque(s.backgroundColor) || s.backgroundImage !== "none"
        || ["Top", "Right", "Bottom", "Left"].some(
             side => parseFloat(s["border" + side + "Width"]) > 0
                     && opaque(s["border" + side + "Color"]));
  };
  const words = [], above = [];
  const walker = doc.createTreeWalker(body, 5);
  for (let n = walker.currentNode; n; n = walker.nextNode()) {
    if (inOurs(n)) continue;
    const el = n.nodeType === 3 ? n.parentElement : n;
    if (!el || !visible(el)) continue;
    let r = null, what = null;
    if (n.nodeType === 3) {
      const text = textOf(n);
      if (!text.trim()) continue;
      const range = doc.createRange();
      range.selectNodeContents(n);
      r = reach(el, box(range.getBoundingClientRect()));
      // Words split at markup shown as text too: Thunderbird shows what follows a
      // <plaintext> escaped, with the end tags it adds glued to the sender's last word.
      if (r && !underOurs(r)) words.push(...text.split(/\s+|(?=<|&lt;)/).filter(w => w));
      what = "text " + JSON.stringify(text.trim().slice(0, 40));
    } else if (n !== body && !(first && n.contains(first.el)) && painted(n)
               && n.getClientRects().length) {
      r = reach(n, box(n.getBoundingClientRect()));
      what = "<" + n.localName + (n.className && n.className.baseVal === undefined
                                  ? " class=" + n.className : "") + ">";
    }
    if (first && r && r.t < first.rect.t - 1 && r.r > 0 && r.l < viewW) above.push(what);
  }
  const wrapper = arg.wrapper && doc.getElementById(arg.wrapper);
  return {
    marks: marks.map(m => m && {rect: out(m.rect), shown: m.shown}),
    above: above.slice(0, 8),
    words,
    scroll: [scrollX, scrollY],
    view: [viewW, viewH],
    standards: doc.compatMode === "CSS1Compat",
    scrollbar: win.innerWidth - viewW > 0,
    wrapper: wrapper ? out(box(wrapper.getBoundingClientRect())) : null,
  };
}"""

SCROLL_TO = """function (doc, y) {
  doc.defaultView.scrollTo(0, y);
  return doc.defaultView.scrollY;
}"""


@dataclass(frozen=True)
class Mark:
    """How the probe finds one of our boxes: by element id, or by a line's start."""

    kind: str  # "banner" or "footer"
    id: str | None = None
    text: str | None = None

    def arg(self) -> dict[str, str]:
        found = {"id": self.id} if self.id else {"text": self.text or ""}
        return found | {"kind": self.kind}


@dataclass
class Reference:
    """One of our boxes rendered alone in an engine: where it sits, what it looks like."""

    x: float
    y: float
    pixels: Image.Image


def probe(pane: Pane, marks: list[Mark], wrapper: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = pane.run(PROBE, {"marks": [m.arg() for m in marks],
                                             "wrapper": wrapper})
    return result


def crop(shot: Image.Image, rect: dict[str, float]) -> Image.Image:
    left, top = max(0, round(rect["x"])), max(0, round(rect["y"]))
    right = min(shot.width, round(rect["x"] + rect["w"]))
    bottom = min(shot.height, top + min(round(rect["h"]), _SHOT_HEIGHT))
    return shot.crop((left, top, max(left + 1, right), max(top + 1, bottom)))


def different(a: Image.Image, b: Image.Image) -> float:
    """Share of pixels that differ visibly between two same-size images."""
    diff = ImageChops.difference(a, b).convert("L").point(
        lambda v: 255 if v > CHANNEL_TOLERANCE // 3 else 0)
    histogram = diff.histogram()
    return 1 - histogram[0] / (a.width * a.height)


def ink(img: Image.Image) -> int:
    return sum(img.convert("L").point(lambda v: 255 if v < 110 else 0).histogram()[255:])


def matches(shot: Image.Image, references: list[Reference]) -> str | None:
    """None when `shot` looks like one of the clean renderings, else what differs from
    the closest one."""
    sizes, shares = [], []
    for ref in references:
        pixels = ref.pixels
        if abs(pixels.width - shot.width) > 2 or abs(pixels.height - shot.height) > 2:
            sizes.append(pixels.size)
            continue
        width, height = min(pixels.width, shot.width), min(pixels.height, shot.height) - 1
        # A box at a fractional position is painted up to a pixel off: try both.
        share = min(different(shot.crop((0, a, width, a + height)),
                              pixels.crop((0, b, width, b + height)))
                    for a, b in ((0, 0), (1, 0), (0, 1)))
        if share <= MAX_DIFFERENT:
            return None
        shares.append(share)
    if shares:
        return f"{min(shares):.0%} of its pixels differ from the clean rendering"
    return f"size {shot.size} instead of {' or '.join(map(str, sorted(set(sizes))))}"


_REFERENCES: dict[tuple[str, str, str, bool, bool], Reference] = {}
_TALL = '<div style="height:3000px"></div>'


def reference(pane: Pane, mark: Mark, markup: str, standards: bool,
              scrollbar: bool) -> Steps[Reference]:
    """`markup` (an HTML box, or a plain-text line) rendered alone in `pane`'s engine, in
    the document mode and with (or without) the scroll bar of the page it is compared
    with. Cached per engine; the box's per-message id does not change how it looks."""
    key = (pane.engine, mark.kind, re.sub(r'id="k[a-z2-7-]+"', "", markup), standards,
           scrollbar)
    if key not in _REFERENCES:
        if mark.text is not None:
            yield from show(pane, eml(markup + ("\n" * 300 if scrollbar else ""), "plain"))
        else:  # in the flex column the guard puts it in (its margins stay inside)
            yield from show(pane, markup=(
                f'{"<!DOCTYPE html>" if standards else ""}<html><body style="margin:0">'
                f'<div style="display:flex;flex-direction:column">{markup}</div>'
                f"{_TALL if scrollbar else ''}</body></html>"))
        seen = probe(pane, [mark])["marks"][0]
        assert seen and seen["shown"], f"{pane.engine}: the clean {mark.kind} not rendered"
        _REFERENCES[key] = Reference(seen["rect"]["x"], seen["rect"]["y"],
                                     crop(pane.shot(), seen["rect"]))
    return _REFERENCES[key]


def reachable_words(pane: Pane, raw: bytes) -> Steps[Counter[str]]:
    """The words a reader of `raw` in `pane` can reach."""
    yield from show(pane, raw)
    return Counter(probe(pane, [])["words"])


@dataclass
class Output:
    """What the recipe made of one message, and how to find our boxes in it."""

    raw: bytes
    banners: list[tuple[Mark, str]]  # (how to find it, its markup or text), first first
    footer: tuple[Mark, str] | None
    wrapper: str
    # A wrap whose original is attached as an .eml file: listed beside the page, not in it.
    filed: bool = False


def rewrite(raw: bytes, flow: Flow = FLOW, footer: bool = True) -> Output:
    result = flow.apply(raw, ENVELOPE)
    out = result.message
    ids = guard.names(marker.token(KEY, Message(raw), ENVELOPE.direction))
    banners: list[tuple[Mark, str]] = []
    plain = _plain_banner(out)
    if plain:
        banners.append((Mark("banner", text=plain[:_PLAIN_KEY]), plain))
    html = html_of(out) or ""
    if f'<div id="{ids.banner}"' in html:
        banners.append((Mark("banner", id=ids.banner),
                        _box(html, ids.banner, f"<{ids.wrapper} ")))
    footer_box = None
    if footer and f'<div id="{ids.footer}"' in html:
        footer_box = (Mark("footer", id=ids.footer), _box(html, ids.footer, "</div>") + "</div>")
    return Output(out, banners, footer_box, ids.wrapper, _filed_original(out))


def _filed_original(out: bytes) -> bool:
    """A wrap whose original is attached as an .eml file, not as a message."""
    root = Message(out).root
    return wrapped(out) is not None and root.children is not None \
        and root.children[1].ctype != "message/rfc822"


def _box(markup: str, element_id: str, end: str) -> str:
    start = markup.index(f'<div id="{element_id}"')
    return markup[start:markup.index(end, start)]


def _plain_banner(raw: bytes) -> str | None:
    """The plain-text banner line of the first text/plain body, when it has one."""
    part = Message(raw).bodies().get("plain")
    if part is None:
        return None
    text = transfer.decode(part.cte, part.body()).decode("utf-8", "replace")
    line = text.lstrip("\r\n").split("\n")[0].rstrip("\r")
    return line if line.startswith("CAUTION:") else None


def judge(pane: Pane, raw: bytes, flow: Flow = FLOW, footer: bool = True,
          baseline: Pane | None = None) -> list[str]:
    """What is wrong with how `pane` shows the rewritten `raw` (empty: nothing)."""
    return drive(judging(pane, raw, flow, footer, baseline))


def judging(pane: Pane, raw: bytes, flow: Flow = FLOW, footer: bool = True,
            baseline: Pane | None = None) -> Steps[list[str]]:
    """`judge` as steps (tests/panes/batch.py runs many at once).

    With `baseline` (a browser), a word counts as shown by the original only when that
    browser shows it in the original's HTML body too: a sender rule that reaches a mail
    client's own markup around the body (Thunderbird's header tables are the body's
    first children there) is no content of the sender's the guard must keep."""
    output = rewrite(raw, flow, footer)
    # Browsers show the HTML body alone: only Thunderbird shows a plain-text front part.
    banners = [(m, s) for m, s in output.banners
               if m.id or pane.engine == "thunderbird"]
    if not banners:
        return ["no banner in the rewritten message"]
    before: Counter[str] = Counter()  # a filed original: its words are a click away
    if not output.filed:
        before = yield from reachable_words(pane, raw)
        if baseline is not None and html_of(raw) is not None:
            before &= drive(reachable_words(baseline, raw))

    yield from show(pane, output.raw)
    marks = [m for m, _ in banners] + ([output.footer[0]] if output.footer else [])
    seen = probe(pane, marks, output.wrapper)
    unlisted = _listed(pane) if output.filed else []  # before another page replaces it
    shown = [(m, markup, box) for (m, markup), box in zip(banners, seen["marks"], strict=False)
             if box and box["shown"]]
    if not shown:
        return ["banner not rendered"]
    mark, markup, box = min(shown, key=lambda found: found[2]["rect"]["y"])
    rect = box["rect"]
    banner_shot = crop(pane.shot(), rect)
    footer_shot: Image.Image | str | None = None
    if output.footer:
        footer_shot = _footer_shot(pane, output.footer[0], seen["marks"][-1])
    # Now the clean renderings (each replaces the page, so after the shots above).
    variant = (seen["standards"], seen["scrollbar"])
    ref = yield from reference(pane, mark, markup, *variant)
    problems = _first(rect, ref, seen)
    problem = matches(banner_shot, [ref])
    if problem:
        problems.append(f"banner: {problem}")
    if ink(banner_shot) < MIN_INK:
        problems.append("banner: no text painted")
    wrapper = seen["wrapper"]
    if mark.id and wrapper is not None and wrapper["y"] < rect["y"] + rect["h"] - 1:
        problems.append("sender content starts above the banner's bottom")
    if isinstance(footer_shot, str):
        problems.append(footer_shot)
    elif footer_shot is not None and output.footer:
        footer_ref = yield from reference(pane, *output.footer, *variant)
        problem = matches(footer_shot, [footer_ref])
        if problem:
            problems.append(f"footer: {problem}")
    lost = before - Counter(seen["words"])
    if lost:
        problems.append(f"original text lost: {' '.join(sorted(lost))[:120]}")
    return problems + unlisted


def _listed(pane: Pane) -> list[str]:
    """The original attached as a file is listed for the reader to open."""
    listed = getattr(pane, "attachments", None)
    if listed is None:
        return [f"{pane.engine} lists no attachments: a wrap is judged in a mail client"]
    names = listed()
    return [] if "original-message.eml" in names else [f"original not listed: {names}"]


def _first(rect: dict[str, float], ref: Reference, seen: dict[str, Any]) -> list[str]:
    problems = []
    if seen["scroll"][1] > 0:
        problems.append(f"page opened scrolled down by {seen['scroll'][1]:.0f}px")
    # Where it sits alone, or further up and left (a later body's <body style> can take
    # the page's margin away in Thunderbird, which puts every part in one document).
    if rect["y"] > ref.y + 1 or not -1 <= rect["x"] <= ref.x + 1:
        problems.append(f"banner not first: at ({rect['x']:.0f}, {rect['y']:.0f}) instead of "
                        f"({ref.x:.0f}, {ref.y:.0f})")
    if seen["above"]:
        problems.append(f"painted above the banner: {', '.join(seen['above'])}")
    return problems


def _footer_shot(pane: Pane, mark: Mark, box: dict[str, Any] | None) -> Image.Image | str:
    """The footer's pixels, scrolled into view (or what is wrong)."""
    if not box or not box["shown"]:
        return "footer not rendered"
    pane.run(SCROLL_TO, max(0, box["rect"]["y"] - 20))
    box = probe(pane, [mark])["marks"][0]
    if not box:
        return "footer gone after scrolling"
    return crop(pane.shot(), box["rect"])
