"""banner and footer: text at the top / bottom of every body a client shows."""

from __future__ import annotations

import html
from collections.abc import Mapping

from mimeops.errors import UndecodableBody
from mimeops.mail import Context, Mail
from mimeops.mail.template import Template
from mimeops.mime import Message, Part, edit, guard
from mimeops.ops import thread
from mimeops.ops.base import Op


class Insert(Op):
    """Add rendered text to the plain-text body and HTML to the HTML body.

    With only `text`, HTML bodies get that text, escaped, in a <div>; with only
    `html`, plain-text bodies are left as they are. A footer with `above_reply`
    goes right above the quoted message of a reply (one disclaimer under each
    message of a thread, instead of a pile at the bottom). With `once_per_thread`,
    an outbound reply that already shows the rendered text (a user's signature quoted
    from their earlier message) does not get it again (see mimeops.ops.thread). A
    footer whose {sender.*} fields are all empty (a sender not in the directory) is
    not added. With `guard` True, HTML gets the sender-proof treatment of `mimeops.mime.guard`;
    None (auto) guards inbound mail, where an outsider may write the HTML the text
    lands in, and leaves our own users' outbound HTML exactly as they wrote it.
    A text part the flow put in front of everything a client shows (`Message.front`)
    gets the banner (and the footer only when there is no other body to end).
    """

    touches_body = True

    def __init__(self, name: str, text: Template | None, html_: Template | None,
                 above_reply: bool = False, once_per_thread: bool = False,
                 guard: bool | None = None) -> None:
        self.name = name
        self.text = text
        self.html = html_
        self.above_reply = above_reply
        self.once_per_thread = once_per_thread
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

    def apply(self, mail: Mail, context: Context) -> bool:
        message, values = mail.message, context.values
        if self.name == "footer" and self._nobody(values):
            return False
        if self.once_per_thread and self._in_thread(message, values):
            return False
        changed = False
        unreachable = message.unreachable()
        message.bare.extend(unreachable)
        guarded = self.guard if self.guard is not None else context.direction == "INBOUND"
        token = context.guard_token if guarded else None
        bodies = message.sender_bodies()
        if not bodies and not unreachable and message.front is None:
            # No text a client shows and no part in front (the flow adds one where the
            # structure has room): said, never silent.
            message.bare.append(f"{message.root.ctype}: no text part a client shows")
        targets = list(bodies.items())
        if message.front is not None and (self.name == "banner" or not bodies):
            # The part in front of everything a client shows gets the banner first; the
            # footer only when the sender wrote no body of their own to end.
            targets.insert(0, ("plain", message.front))
        if token:
            changed = self._confine_others(message, [part for _, part in targets], token)
        for kind, part in targets:
            rendered = self.render(kind, values)
            if not rendered:
                continue
            top, bottom = (rendered, None) if self.name == "banner" else (None, rendered)
            try:
                edit.insert(part, top, bottom, self.above_reply, token)
            except UndecodableBody as error:
                # That part stays as it was, and the result says so; the others still
                # get the text.
                message.bare.append(f"{part.ctype}: {error}")
                continue
            changed = True
        return changed

    def _confine_others(self, message: Message, targets: list[Part], token: str) -> bool:
        """Guard every other HTML part a client shows (a second body, an unreferenced
        /related page) without adding text: Thunderbird renders all parts into one
        document, where an unguarded part's stylesheet or fixed box reaches our banner.
        Once per part: a part already guarded is left as it is."""
        wrapper = f'<{guard.names(token).wrapper} id="'.encode()
        changed = False
        for part in message.shown_html():
            if any(part is target for target in targets):
                continue
            try:
                if wrapper in part.decoded():
                    continue
                edit.insert(part, None, None, False, token)
            except UndecodableBody as error:
                message.bare.append(f"{part.ctype}: {error}")
                continue
            changed = True
        return changed

    def _nobody(self, values: Mapping[str, str]) -> bool:
        """A signature for a sender the directory does not know: every {sender.*}
        field it uses is empty (a shared mailbox, an unknown sender)."""
        templates = [t for t in (self.text, self.html) if t is not None and t.directory]
        return bool(templates) and not any(t.directory_values(values) for t in templates)

    def _in_thread(self, message: Message, values: Mapping[str, str]) -> bool:
        """An outbound reply already showing this text (never on inbound mail)."""
        if values.get("direction") != "OUTBOUND":
            return False
        needles = []
        if self.text is not None:
            needles.append(thread.fingerprint(self.text.render(values)))
        if self.html is not None:
            needles.append(thread.fingerprint(self.html.render(values, escape_html=True),
                                              markup=True))
        return thread.carries(message, needles)
