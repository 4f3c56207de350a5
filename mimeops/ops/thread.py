"""Does this reply already carry a text (a user's signature) from earlier in the thread?

`footer: {once_per_thread: true}` asks this before inserting. The check reads what a
person reads: the plain-text body with `>` quote markers removed and the HTML body's
visible text (no markup, styles or scripts), both case-folded with whitespace
collapsed, so a client that re-wraps, re-quotes or converts the quoted message does not
hide the earlier signature. The signature is found when each of its lines that holds a
letter or digit appears in that text, in order.

What it trusts, and why that is enough: it runs only on OUTBOUND mail (our own user
wrote and sent it; on inbound mail a sender could quote a text to dodge it) and only
on replies and forwards (In-Reply-To or References present, or a Re:/Fwd: subject).
The lines carry this user's directory fields (name, title, telephone), so a
colleague's signature in the thread does not count. Someone outside who pastes this
user's signature into a message can at most make the user's reply to it go without
a second copy of the signature, which the quoted text then shows anyway.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

from mimeops.errors import UndecodableBody
from mimeops.mail import Mail

_SPACE = re.compile(r"\s+")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_REPLY = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:re|fwd?|aw|wg|sv|vs|tr|rv|r|i|rif|enc)\s*"
                    r"(?:\[\d+\])?\s*:", re.IGNORECASE)


def fingerprint(rendered: str, markup: bool = False) -> list[str]:
    """The normalized lines of a rendered signature (text, or HTML line by line)."""
    lines = (_normal(visible_text(line) if markup else line) for line in rendered.splitlines())
    return [line for line in lines if any(c.isalnum() for c in line)]


def carries(mail: Mail, needles: list[list[str]]) -> bool:
    """Whether the message is a reply whose bodies already show one of `needles`
    (each a list of lines, found in order)."""
    needles = [lines for lines in needles if lines]
    if not needles or not in_thread(mail):
        return False
    for body in mail.bodies:
        try:
            decoded = body.text
        except UndecodableBody:
            continue
        shown = visible_text(decoded) if body.kind == "html" else _QUOTE.sub("", decoded)
        haystack = _normal(shown)
        if any(_in_order(haystack, lines) for lines in needles):
            return True
    return False


def in_thread(mail: Mail) -> bool:
    """A reply or forward: In-Reply-To / References, or a Re:/Fwd: subject (also the
    German, French, Nordic, Spanish and Italian prefixes clients write)."""
    headers = mail.headers
    if headers.get("in-reply-to") or headers.get("references"):
        return True
    subject = headers.get("subject")
    return bool(subject and _REPLY.match(subject))


def _normal(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _in_order(haystack: str, lines: list[str]) -> bool:
    position = 0
    for line in lines:
        found = haystack.find(line, position)
        if found < 0:
            return False
        position = found + len(line)
    return True


class _Text(HTMLParser):
    """Visible text of an HTML document: no tags, comments, styles or scripts."""

    _HIDDEN = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A tag separates words (`<br>`, `<td>`), and may start hidden content."""
        if tag in self._HIDDEN:
            self.hidden += 1
        self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        """A tag separates words, and may end hidden content."""
        if tag in self._HIDDEN and self.hidden:
            self.hidden -= 1
        self.out.append(" ")

    def handle_data(self, data: str) -> None:
        """Text outside styles and scripts is what a reader sees."""
        if not self.hidden:
            self.out.append(data)


def visible_text(markup: str) -> str:
    """The text an HTML body shows, words separated by spaces."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)
