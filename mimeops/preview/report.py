"""The `mimeops preview --report` page: one self-contained HTML file.

No network and no external resource: inline CSS, one small inline script for
the filters (allowed by its hash in the page's Content-Security-Policy, which
also forbids every fetch). Each changed message shows its displayed body
before and after, side by side, in iframes with `sandbox` (no scripts, no
same-origin) and `srcdoc`, so a hostile message can neither run script nor
reach the report; the header lines that changed are shown as a diff. Every
value taken from a message is HTML-escaped.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from mimeops.errors import UndecodableBody
from mimeops.mime import Message, charset
from mimeops.preview.tally import Outcome, Tally

# Inherited by the srcdoc iframes too: nothing is fetched, not even by a message.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# The first previews are frames in the page; later ones wait in a <template> until
# they scroll into view (the inline script): a frame costs Chromium ~30 ms to create,
# so a mailbox of thousands of changed messages must not open thousands at once.
EAGER_PAIRS = 10
# Past this many, changed messages are listed with their header diff only: the page
# must stay small enough for a browser to open (each pair holds two whole bodies).
MAX_PAIRS = 1000
# A message's own fetches are blocked by the policy above; made inert first, they do
# not even try (no console noise): scripts, links, metas, imports, remote URLs dropped.
_DEAD = re.compile(r"(?is)<script\b.*?</script\s*>|<script\b[^>]*>|<(?:link|meta|base)\b[^>]*>"
                   r"|@import[^;]*;?")
_TAG = re.compile(r"<[A-Za-z][^>]*>")
_FETCHING = re.compile(
    r"""(?i)(\s)(src|srcset|lowsrc|background|poster|data|xlink:href|on[a-z]+)(\s*=\s*)"""
    r"""("[^"]*"|'[^']*'|[^\s>]*)""")
_SVG_FETCH = re.compile(r"(?i)<(?:image|use|feimage|script)\b")
_SVG_HREF = re.compile(r"(?i)(\s)href(?=\s*=)")
# A previewed message must not move the report's focus (the guarded banner carries
# autofocus against a sender's own); the sandbox refuses it, but logs an error.
_AUTOFOCUS = re.compile(r"(?i)(\s)autofocus\b")
_CSS_URL = re.compile(r"""(?i)url\(\s*(?!["']?data:)[^)]*\)""")

_SCRIPT = """
const q = document.getElementById('q'), status = document.getElementById('status'),
      rule = document.getElementById('rule'), shown = document.getElementById('shown');
function filter() {
  const text = q.value.trim().toLowerCase();
  let count = 0;
  for (const m of document.querySelectorAll('section.msg')) {
    const ok = (!status.value || m.dataset.flags.split(' ').includes(status.value))
      && (!rule.value || m.dataset.rules.split(' ').includes(rule.value))
      && (!text || m.dataset.text.includes(text));
    m.hidden = !ok;
    if (ok) count++;
  }
  shown.textContent = count;
}
for (const c of [q, status, rule]) c.addEventListener('input', filter);
filter();
const seen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    e.target.replaceChildren(e.target.querySelector('template').content.cloneNode(true));
    e.target.removeAttribute('data-deferred');
    seen.unobserve(e.target);
  }
}, {rootMargin: '800px'});
for (const d of document.querySelectorAll('.pair[data-deferred]')) seen.observe(d);
"""

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
header{position:sticky;top:0;background:#fff;padding:.6em 0;border-bottom:1px solid #ccc;z-index:1}
h1{font-size:1.3em;margin:.2em 0} .tally{font-family:monospace;font-size:12px;word-break:break-all}
section.msg{border:1px solid #ccc;border-radius:4px;margin:1em 0;padding:.5em .8em}
section.msg h2{font-size:1em;margin:.2em 0;word-break:break-all}
.badge{display:inline-block;border-radius:3px;padding:0 .4em;margin-right:.3em;font-size:12px;
 background:#eee} .b-changed{background:#cfe8ff} .b-error{background:#ffd0d0}
.b-skipped{background:#fff0c0} .b-bare{background:#ffe0b0} .b-audited{background:#e6d9ff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:0 .8em;margin:.3em 0}
dt{font-weight:600} dd{margin:0;word-break:break-all}
pre.diff{background:#f7f7f7;padding:.4em;overflow:auto;font-size:12px}
.add{color:#075e00} .del{color:#a40000}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
.pair figure{margin:0} .pair iframe{width:100%;height:420px;border:1px solid #bbb;
 resize:vertical;background:#fff}
"""


def _document(body: str) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_POLICY}\">"
            f"</head><body>{body}</body></html>")


def _inert_tag(tag: re.Match[str]) -> str:
    text = _AUTOFOCUS.sub(r"\1data-inert-autofocus", _FETCHING.sub(_inert_attribute, tag.group(0)))
    # SVG fetches through plain href too.
    return _SVG_HREF.sub(r"\1data-inert-href", text) if _SVG_FETCH.match(text) else text


def _inert_attribute(match: re.Match[str]) -> str:
    space, name, equals, value = match.groups()
    if name.lower() != "data" and value.strip("'\"").lower().startswith("data:"):
        return match.group(0)
    return f"{space}data-inert-{name}{equals}{value}"


def inert(html: str) -> str:
    """The HTML with what would fetch or run renamed or removed (display stays)."""
    html = _CSS_URL.sub("none", _DEAD.sub("", html))
    return _TAG.sub(_inert_tag, html)


def rendered_body(raw: bytes) -> str:
    """The body a mail client would show, as a complete HTML document for `srcdoc`:
    the HTML body made inert (the iframe sandbox contains it anyway), else the text escaped."""
    bodies = Message(raw).bodies()
    part = bodies.get("html") or bodies.get("plain")
    if part is None:
        return _document("<p><em>(no displayed text or HTML body)</em></p>")
    try:
        data = part.decoded()
    except UndecodableBody as error:
        return _document(f"<p><em>(body does not decode: {escape(str(error))})</em></p>")
    text, _ = charset.decode_lossless(data, charset.lookup(part.charset_label))
    if part.subtype == "html":
        return _document(inert(text))
    style = "white-space:pre-wrap;font:13px monospace"
    return _document(f'<pre style="{style}">{escape(text)}</pre>')


def _header_lines(raw: bytes) -> list[str]:
    match = _HEADER_END.search(raw)
    block = raw[: match.start()] if match else raw
    return block.decode("utf-8", "replace").splitlines()


def header_diff(before: bytes, after: bytes) -> list[str]:
    """The header lines removed (-) and added (+), with one line of context."""
    lines = difflib.unified_diff(_header_lines(before), _header_lines(after), lineterm="", n=1)
    return [line for line in lines if not line.startswith(("---", "+++"))]


def _fields(raw: bytes, *names: str) -> list[str]:
    """Decoded header values ('' when absent) of the message."""
    header = Message(raw).root.header
    found = [header.field(name) for name in names]
    return [f.decoded() if f else "" for f in found]


def _frames(before: bytes, after: bytes, label: str) -> str:
    """The before/after figures: sandboxed srcdoc iframes, no scripts, no same origin."""
    return "".join(
        f"<figure><figcaption>{side.capitalize()}</figcaption>"
        f'<iframe class="{side}" data-side="{side}" title="{side}: {escape(label)}" '
        f'sandbox="" referrerpolicy="no-referrer" srcdoc="{escape(rendered_body(raw))}">'
        f"</iframe></figure>"
        for side, raw in (("before", before), ("after", after)))


@dataclass
class Report:
    """Entries rendered as messages come (their bytes are not kept), written at the end."""

    title: str
    entries: list[str] = field(default_factory=list)
    pairs: int = 0
    rules: dict[str, None] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        """Render one message's entry; one the report cannot render is still listed."""
        try:
            self.entries.append(self._entry(outcome))
        except Exception as error:  # a rendering fault must not lose the other messages
            label = escape(outcome.label)
            self.entries.append(
                f'<section class="msg" data-flags="error" data-rules="" data-text="{label}">'
                f'<h2><span class="badge b-error">error</span>{label}</h2><p>The report '
                f"could not render this message: {escape(type(error).__name__)}: "
                f"{escape(str(error))}</p></section>")

    def _entry(self, outcome: Outcome) -> str:
        result = outcome.result
        flags: list[str] = []
        if result is not None:
            flags.append("changed" if result.changed else "unchanged")
            if result.matched:
                flags.append("matched")
            if result.skipped:
                flags.append("skipped")
        if outcome.bare:
            flags.append("bare")
        if outcome.audited_rules:
            flags.append("audited")
        if outcome.error is not None:
            flags.append("error")
        names = [*(result.matched if result else []), *outcome.audited_rules]
        for name in names:
            self.rules[name] = None
        subject, sender = _fields(outcome.before, "subject", "from")
        facts: list[tuple[str, str]] = [("Subject", subject), ("From", sender)]
        if outcome.envelope is not None:
            facts += [("Envelope", f"{outcome.envelope.mail_from or '(empty)'} \u2192 "
                                   f"{', '.join(outcome.envelope.recipients) or '(none)'}"),
                      ("Size", f"{len(outcome.before)} bytes")]
        if result is not None:
            facts += [("Rules matched", ", ".join(result.matched) or "none"),
                      ("Applied", ", ".join(result.applied) or "nothing"),
                      ("Actions", ", ".join(a["action"]["type"] for a in result.actions))]
            if result.audited:
                facts.append(("Audited (not applied)", ", ".join(result.audited)))
            if result.skipped:
                facts.append(("Skipped", result.skipped))
        if outcome.bare:
            facts.append(("Bare", "; ".join(outcome.bare)))
        if outcome.error is not None:
            facts.append(("Error", outcome.error))
        text = f"{outcome.label} {subject} {sender}".lower()
        html = [f'<section class="msg" data-flags="{escape(" ".join(flags))}" '
                f'data-rules="{escape(" ".join(names))}" data-text="{escape(text)}">',
                "<h2>" + "".join(f'<span class="badge b-{f}">{f}</span>' for f in flags)
                + f"{escape(outcome.label)}</h2><dl>"]
        html += [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts]
        html.append("</dl>")
        if result is not None and result.changed:
            html.append(self._changes(outcome.before, result.message, outcome.label))
        html.append("</section>")
        return "".join(html)

    def _changes(self, before: bytes, after: bytes, label: str) -> str:
        self.pairs += 1
        diff = "\n".join(
            f'<span class="{"add" if line[:1] == "+" else "del" if line[:1] == "-" else ""}">'
            f"{escape(line)}</span>" for line in header_diff(before, after))
        if self.pairs > MAX_PAIRS:
            pair = f"<p>(before/after shown for the first {MAX_PAIRS} changed messages)</p>"
        elif self.pairs > EAGER_PAIRS:
            pair = (f'<div class="pair" data-deferred><template>{_frames(before, after, label)}'
                    "</template><p>(the before/after preview appears when scrolled into view)"
                    "</p></div>")
        else:
            pair = f'<div class="pair">{_frames(before, after, label)}</div>'

        return (f'<details open><summary>Header changes</summary><pre class="diff">{diff}</pre>'
                f"</details>{pair}")

    def page(self, tally: Tally, summary: str) -> str:
        """The whole page."""
        digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
        policy = f"{_POLICY}; script-src 'sha256-{digest}'"
        options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in
                          [*tally.rules, *(n for n in tally.audited if n not in tally.rules)])
        statuses = "".join(f'<option value="{s}">{s}</option>' for s in
                           ("changed", "unchanged", "matched", "skipped", "bare", "audited",
                            "error"))
        return (
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"
            f"<title>{escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>{escape(self.title)}</h1>"
            f'<p class="tally">{escape(summary)}</p><p>'
            '<label>Status <select id="status"><option value="">all</option>'
            f"{statuses}</select></label> "
            '<label>Rule <select id="rule"><option value="">any</option>'
            f"{options}</select></label> "
            '<label>Search <input id="q" type="search" placeholder="file, subject, sender">'
            f'</label> <span id="shown">{len(self.entries)}</span> of {len(self.entries)} '
            "messages shown</p></header><main>"
            + "".join(self.entries)
            + f"</main><script>{_SCRIPT}</script></body></html>")

    def write(self, path: str, tally: Tally, summary: str) -> None:
        """Write the page (UTF-8; a lone surrogate from an undecodable header becomes U+FFFD)."""
        page = self.page(tally, summary).encode("utf-8", "surrogatepass")
        Path(path).write_bytes(page.decode("utf-8", "replace").encode("utf-8"))
