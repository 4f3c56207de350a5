"""The `mimeops preview --report` pages: self-contained HTML, grouped, paged past a size.

No network and no external resource: inline CSS, one small inline script for the
filters (allowed by its hash in each page's Content-Security-Policy, which also
forbids every fetch). Each changed message shows its displayed body before and
after, side by side, in iframes with `sandbox` (no scripts, no same-origin) and
`srcdoc`, so a hostile message can neither run script nor reach the report; the
header fields that changed are shown, decoded, as a diff. Every value taken from a
message is HTML-escaped.

Messages are grouped — errors, changed, matched but not changed, no rule matched —
so what needs a look comes first. Up to `PAGE_SIZE` messages the report is one page;
past that, REPORT.html is an index (the tally, the rules, each group's pages) and the
pages, `PAGE_SIZE` messages each, go into the folder `REPORT-pages/` beside it. Entries
are rendered as messages come and spooled to temporary files, so memory stays flat
however many messages are previewed.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import IO

from mimeops.mime.headers import HeaderBlock
from mimeops.preview import render
from mimeops.preview.tally import Outcome, Tally

# The first previews of a page are frames in it; later ones wait in a <template> until
# they scroll into view (the inline script): a frame costs Chromium ~30 ms to create,
# so a page of hundreds of changed messages must not open them all at once.
EAGER_PAIRS = 10
# Past this many, changed messages are listed with their header diff only: each pair
# holds two whole bodies, and the report must stay a size one can keep and open.
MAX_PAIRS = 1000
# Messages per page: past this many, the report is an index and pages.
PAGE_SIZE = 250
# Group key -> heading, in the order the report shows them.
GROUPS = {"error": "Errors", "changed": "Changed", "matched": "Matched, not changed",
          "untouched": "No rule matched"}
_NONE = "\u2014"
STATUSES = ("changed", "unchanged", "matched", "skipped", "bare", "audited", "error")

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
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
header{position:sticky;top:0;background:#fff;padding:.6em 0;border-bottom:1px solid #ccc;z-index:1}
h1{font-size:1.3em;margin:.2em 0} h2.group{font-size:1.1em;margin:1.2em 0 .3em}
table.tally{border-collapse:collapse;margin:.3em 1.5em .3em 0;font-size:13px;display:inline-table;
 vertical-align:top} table.tally th,table.tally td{border:1px solid #ccc;padding:.1em .5em;
 text-align:left} table.tally td.n{text-align:right;font-variant-numeric:tabular-nums}
section.msg{border:1px solid #ccc;border-radius:4px;margin:1em 0;padding:.5em .8em}
section.msg h2{font-size:1em;margin:.2em 0;word-break:break-all}
.badge{display:inline-block;border-radius:3px;padding:0 .4em;margin-right:.3em;font-size:12px;
 background:#eee} .b-changed{background:#cfe8ff} .b-error{background:#ffd0d0}
.b-skipped{background:#fff0c0} .b-bare{background:#ffe0b0} .b-audited{background:#e6d9ff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:0 .8em;margin:.3em 0}
dt{font-weight:600} dd{margin:0;word-break:break-all}
pre.diff{background:#f7f7f7;padding:.4em;overflow:auto;font-size:12px}
.add{color:#075e00} .del{color:#a40000} nav a{margin-right:.6em}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
.pair figure{margin:0} .pair iframe{width:100%;height:420px;border:1px solid #bbb;
 resize:vertical;background:#fff}
"""


def group_of(outcome: Outcome) -> str:
    """Which group of the report a message is listed in."""
    result = outcome.result
    if outcome.error is not None or result is None:
        return "error"
    if result.changed:
        return "changed"
    if result.matched or result.audited or result.skipped or result.actions or outcome.bare:
        return "matched"
    return "untouched"


def _flags(outcome: Outcome) -> list[str]:
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
    return flags


def _facts(outcome: Outcome, subject: str, sender: str) -> list[tuple[str, str]]:
    facts = [("Subject", subject), ("From", sender)]
    if outcome.envelope is not None:
        facts += [("Envelope", f"{outcome.envelope.mail_from or '(empty)'} \u2192 "
                               f"{', '.join(outcome.envelope.recipients) or '(none)'}"),
                  ("Size", f"{len(outcome.before)} bytes")]
    result = outcome.result
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
    return facts


def _frames(before: bytes, after: bytes, label: str) -> str:
    """The before/after figures: sandboxed srcdoc iframes, no scripts, no same origin."""
    return "".join(
        f"<figure><figcaption>{side.capitalize()}</figcaption>"
        f'<iframe class="{side}" data-side="{side}" title="{side}: {escape(label)}" '
        f'sandbox="" referrerpolicy="no-referrer" srcdoc="{escape(render.rendered_body(raw))}">'
        f"</iframe></figure>"
        for side, raw in (("before", before), ("after", after)))


def _changes(before: bytes, header: HeaderBlock, after: bytes, label: str,
             position: int) -> str:
    """The header diff and, for the first MAX_PAIRS changed messages, the body pair;
    `position` is the message's place among the changed ones (0-based)."""
    changes = render.header_diff(header, render.header_block(after))
    diff = "\n".join(
        f'<span class="{"add" if line[:1] == "+" else "del" if line[:1] == "-" else ""}">'
        f"{escape(line)}</span>" for line in changes)
    if position >= MAX_PAIRS:
        pair = f"<p>(before/after shown for the first {MAX_PAIRS} changed messages)</p>"
    elif position % PAGE_SIZE >= EAGER_PAIRS:
        pair = (f'<div class="pair" data-deferred><template>{_frames(before, after, label)}'
                "</template><p>(the before/after preview appears when scrolled into view)"
                "</p></div>")
    else:
        pair = f'<div class="pair">{_frames(before, after, label)}</div>'
    return (f'<details open><summary>Header changes</summary><pre class="diff">{diff}</pre>'
            f"</details>{pair}")


def entry(outcome: Outcome, position: int) -> tuple[str, list[str]]:
    """One message's section of the page, and the rule names it carries."""
    result = outcome.result
    flags = _flags(outcome)
    names = [*(result.matched if result else []), *outcome.audited_rules]
    header = render.header_block(outcome.before)
    subject, sender = render.fields(header, "subject", "from")
    text = f"{outcome.label} {subject} {sender}".lower()
    html = [f'<section class="msg" data-flags="{escape(" ".join(flags))}" '
            f'data-rules="{escape(" ".join(names))}" data-text="{escape(text)}">',
            "<h2>" + "".join(f'<span class="badge b-{f}">{f}</span>' for f in flags)
            + f"{escape(outcome.label)}</h2><dl>"]
    html += [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
             for k, v in _facts(outcome, subject, sender)]
    html.append("</dl>")
    if result is not None and result.changed:
        html.append(_changes(outcome.before, header, result.message, outcome.label, position))
    html.append("</section>")
    return "".join(html), names


def unrendered(outcome: Outcome, error: Exception) -> str:
    """The entry of a message the report could not render: still listed, with why."""
    label = escape(outcome.label)
    return (f'<section class="msg" data-flags="error" data-rules="" data-text="{label}">'
            f'<h2><span class="badge b-error">error</span>{label}</h2><p>The report '
            f"could not render this message: {escape(type(error).__name__)}: "
            f"{escape(str(error))}</p></section>")


def _utf8(text: str) -> bytes:
    """UTF-8; a lone surrogate from an undecodable header becomes U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode()


@dataclass
class _Group:
    """One group's entries, spooled to one file per page."""

    key: str
    count: int = 0
    pages: list[Path] = field(default_factory=list)
    handle: IO[bytes] | None = None

    def add(self, html: str, spool: Path) -> None:
        if self.count % PAGE_SIZE == 0:
            self.close()
            self.pages.append(spool / f"{self.key}-{len(self.pages) + 1}.part")
            self.handle = self.pages[-1].open("wb")
        assert self.handle is not None
        self.handle.write(_utf8(html))
        self.count += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def page_sizes(self) -> Iterator[tuple[int, int]]:
        """(page number, messages on it)."""
        for index in range(len(self.pages)):
            yield index + 1, min(PAGE_SIZE, self.count - index * PAGE_SIZE)


class Report:
    """Entries rendered as messages come (their bytes are not kept), written at the end.

    Use as a context manager (or call `close()`): the spool is removed at the end.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.groups = {key: _Group(key) for key in GROUPS}
        self.rules: dict[str, None] = {}
        self._spool: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Report:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def messages(self) -> int:
        return sum(group.count for group in self.groups.values())

    def add(self, outcome: Outcome) -> None:
        """Render one message's entry; one the report cannot render is still listed."""
        group = self.groups[group_of(outcome)]
        try:
            html, names = entry(outcome, group.count)
        except Exception as error:  # a rendering fault must not lose the other messages
            group = self.groups["error"]
            html, names = unrendered(outcome, error), []
        self.rules.update(dict.fromkeys(names))
        if self._spool is None:
            self._spool = tempfile.TemporaryDirectory(prefix="mimeops-report-")
        group.add(html, Path(self._spool.name))

    def close(self) -> None:
        """Drop the spooled entries."""
        for group in self.groups.values():
            group.close()
        if self._spool is not None:
            self._spool.cleanup()
            self._spool = None

    # -- writing -------------------------------------------------------------------------

    def write(self, path: str, tally: Tally) -> None:
        """Write the report to `path` (and its pages beside it when there are many
        messages); OSError when it cannot be written."""
        for group in self.groups.values():
            group.close()
        target = Path(path)
        folder = target.with_name(f"{target.stem}-pages")
        _clear_pages(folder)  # a previous, larger report's pages are not this one's
        if self.messages <= PAGE_SIZE:
            with target.open("wb") as out:
                self._page(out, tally, [(g, 0) for g in self.groups.values() if g.count], "")
            return
        folder.mkdir(exist_ok=True)
        with target.open("wb") as out:
            out.write(_utf8(self._head(self.title, tally, scripted=False)))
            out.write(_utf8(self._index(folder.name) + "</body></html>"))
        for group in self.groups.values():
            for number, _ in group.page_sizes():
                with (folder / f"{group.key}-{number}.html").open("wb") as out:
                    self._page(out, tally, [(group, number - 1)],
                               self._nav(group, number, f"../{target.name}"))

    def _page(self, out: IO[bytes], tally: Tally, parts: list[tuple[_Group, int]],
              nav: str) -> None:
        """A page of entries: the head, the filters, each part's spooled entries."""
        count = sum(min(PAGE_SIZE, g.count - index * PAGE_SIZE) for g, index in parts)
        out.write(_utf8(self._head(self.title, tally, scripted=True) + nav
                        + "<header>" + self._filters(tally, count) + "</header><main>"))
        for group, index in parts:
            out.write(_utf8(f'<h2 class="group" id="{group.key}">{GROUPS[group.key]} '
                            f"({group.count})</h2>"))
            with group.pages[index].open("rb") as spooled:
                shutil.copyfileobj(spooled, out)
        out.write(_utf8(f"</main><script>{_SCRIPT}</script></body></html>"))

    @staticmethod
    def _head(title: str, tally: Tally, scripted: bool) -> str:
        policy = render.POLICY + (f"; script-src 'sha256-{_SCRIPT_HASH}'" if scripted else "")
        return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"
                f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
                f"<h1>{escape(title)}</h1>{tally_tables(tally)}")

    def _filters(self, tally: Tally, count: int) -> str:
        names = [*tally.rules, *(n for n in tally.audited if n not in tally.rules)]
        names += [n for n in self.rules if n not in names]
        options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in names)
        statuses = "".join(f'<option value="{s}">{s}</option>' for s in STATUSES)
        return ('<p><label>Status <select id="status"><option value="">all</option>'
                f"{statuses}</select></label> "
                '<label>Rule <select id="rule"><option value="">any</option>'
                f"{options}</select></label> "
                '<label>Search <input id="q" type="search" placeholder="file, subject, sender">'
                f'</label> <span id="shown">{count}</span> of {count} messages shown</p>')

    def _index(self, folder: str) -> str:
        rows = []
        for key, heading in GROUPS.items():
            group = self.groups[key]
            links = " ".join(
                f'<a href="{escape(folder)}/{key}-{number}.html">page {number} ({size})</a>'
                for number, size in group.page_sizes())
            rows.append(f'<tr><th>{heading}</th><td class="n">{group.count}</td>'
                        f"<td>{links or _NONE}</td></tr>")
        return (f"<p>{self.messages} messages, in pages of up to {PAGE_SIZE}: open a group's "
                "page to see its messages, with filters by status, rule and text.</p>"
                '<main><table class="tally groups"><tr><th>Group</th><th>Messages</th>'
                f"<th>Pages</th></tr>{''.join(rows)}</table></main>")

    def _nav(self, group: _Group, number: int, index: str) -> str:
        pages = len(group.pages)
        links = [f'<a href="{escape(index)}">index</a>']
        if number > 1:
            links.append(f'<a href="{group.key}-{number - 1}.html" rel="prev">previous</a>')
        if number < pages:
            links.append(f'<a href="{group.key}-{number + 1}.html" rel="next">next</a>')
        return (f"<nav><p>{GROUPS[group.key]}: page {number} of {pages} "
                f"{' '.join(links)}</p></nav>")


def _clear_pages(folder: Path) -> None:
    """Remove the pages a report wrote in `folder` (only those), and the folder if empty."""
    if not folder.is_dir():
        return
    for stale in folder.glob("*-[0-9]*.html"):
        group, _, number = stale.stem.rpartition("-")
        if group in GROUPS and number.isdigit():
            stale.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def tally_tables(tally: Tally) -> str:
    """The tally as tables: the counts, and messages per rule (enforced and audit)."""
    counts = [("Messages", tally.messages), ("Changed", tally.changed),
              *((f"Skipped: {reason}", n) for reason, n in sorted(tally.skipped.items())),
              ("Bare (a body no banner could enter)", tally.bare), ("Errors", tally.errors)]
    rules = [*((name, "enforce", n) for name, n in tally.rules.items()),
             *((name, "audit", n) for name, n in tally.audited.items())]
    first = "".join(f'<tr><th>{escape(k)}</th><td class="n">{n}</td></tr>' for k, n in counts)
    second = "".join(f'<tr><th>{escape(name)}</th><td>{mode}</td><td class="n">{n}</td></tr>'
                     for name, mode, n in rules)
    return (f'<table class="tally counts"><caption>Tally</caption>{first}</table>'
            '<table class="tally rules"><caption>Messages per rule</caption>'
            f"<tr><th>Rule</th><th>Mode</th><th>Messages</th></tr>{second}</table>")
