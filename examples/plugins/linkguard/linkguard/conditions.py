"""Conditions: objects with `matches(mail, context) -> bool`."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from mimeops import Context, Mail
from mimeops.errors import UndecodableBody

# A domain name as a reader sees one in link text: "paypal.com", "www.bank.example".
_SHOWN = re.compile(r"(?<![\w.@-])((?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w-])", re.IGNORECASE)


class DeceptiveLink:
    """`deceptive_link: true`: an HTML link whose text shows one domain and which goes
    to another (`<a href="http://evil.example">www.bank.example</a>`), the oldest
    phishing trick. `false` holds for mail without one."""

    def __init__(self, wanted: bool) -> None:
        if not isinstance(wanted, bool):
            raise ValueError(f"expected true or false, got {wanted!r}")
        self.wanted = wanted

    def matches(self, mail: Mail, context: Context) -> bool:
        return self.found(mail) == self.wanted

    @staticmethod
    def found(mail: Mail) -> bool:
        for body in mail.bodies:
            if body.kind != "html":
                continue
            try:
                links = _Links.read(body.text)
            except UndecodableBody:
                continue
            if any(_deceptive(href, text) for href, text in links):
                return True
        return False


def _deceptive(href: str, text: str) -> bool:
    target = (urlsplit(href.strip()).hostname or "").lower().rstrip(".")
    if not target:
        return False
    for shown in _SHOWN.findall(text):
        shown = shown.lower().rstrip(".")
        if target != shown and not target.endswith("." + shown):
            return True
    return False


class _Links(HTMLParser):
    """(href, visible text) of every <a href> in an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._open: tuple[str, list[str]] | None = None

    @classmethod
    def read(cls, markup: str) -> list[tuple[str, str]]:
        parser = cls()
        parser.feed(markup)
        parser.close()
        return parser.links

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self._open = (href, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            href, text = self._open
            self.links.append((href, "".join(text)))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)
