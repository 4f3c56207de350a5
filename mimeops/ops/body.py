"""banner and footer: text at the top / bottom of every body a client shows."""

from __future__ import annotations

import html
from collections.abc import Mapping

from mimeops.flow.marker import GUARD_VALUE
from mimeops.flow.template import Template
from mimeops.mime import Message, edit, transfer
from mimeops.ops.base import Op


class Insert(Op):
    """Add rendered text to the plain-text body and HTML to the HTML body.

    With only `text`, HTML bodies get that text, escaped, in a <div>; with only
    `html`, plain-text bodies are left as they are. A footer with `above_reply`
    goes right above the quoted message of a reply (one disclaimer under each
    message of a thread, instead of a pile at the bottom). With `guard` True, HTML gets
    the sender-proof treatment of `mimeops.mime.guard`; None (auto) guards inbound mail,
    where an outsider may write the HTML the text lands in, and leaves our own users'
    outbound HTML exactly as they wrote it.
    """

    touches_body = True

    def __init__(self, name: str, text: Template | None, html_: Template | None,
                 above_reply: bool = False, guard: bool | None = None) -> None:
        self.name = name
        self.text = text
        self.html = html_
        self.above_reply = above_reply
        self.guard = guard

    def render(self, kind: str, values: Mapping[str, str]) -> str | None:
        if kind == "html":
            if self.html is not None:
                return self.html.render(values, escape_html=True)
            if self.text is not None:
                lines = html.escape(self.text.render(values)).splitlines()
                return "<div>" + "<br>".join(lines) + "</div>"
            return None
        return self.text.render(values) if self.text is not None else None

    def apply(self, message: Message, values: Mapping[str, str]) -> bool:
        changed = False
        guarded = self.guard if self.guard is not None else values.get("direction") == "INBOUND"
        token = values.get(GUARD_VALUE) if guarded else None
        for kind, part in message.bodies().items():
            rendered = self.render(kind, values)
            if not rendered:
                continue
            top, bottom = (rendered, None) if self.name == "banner" else (None, rendered)
            try:
                edit.insert(part, top, bottom, self.above_reply, token)
            except transfer.UndecodableBody:
                continue  # that part stays as it was; the others still get the text
            changed = True
        return changed
