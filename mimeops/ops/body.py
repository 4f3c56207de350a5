"""banner and footer: text at the top / bottom of every body a client shows."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from mimeops.errors import FlowError, UndecodableBody
from mimeops.mail import Body, Context, Mail, Template
from mimeops.ops import thread
from mimeops.ops.base import Op, no_unknown

PLACEMENTS = ("end", "above_reply")


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

    Where the flow put a text part in front of everything a client shows (`Mail.front`),
    the banner goes there too, first (the footer only when there is no body of the
    sender's to end). A guarded banner also confines every other HTML part a client
    shows (`Mail.shown_html`): Thunderbird renders all parts into one document, where an
    unguarded part's stylesheet or fixed box would reach the banner; what it cannot
    confine (`Mail.unconfined`: an attached message with HTML) it names in `Mail.bare`.

    Written on the public API alone (`Mail.bodies`, `Mail.front`, `Body.insert`,
    `Body.confine`, `Mail.unconfined`, `Mail.bare`), as a plugin would be.
    """

    touches_body = True

    def __init__(self, name: str, text: Template | None, html_: Template | None,
                 above_reply: bool = False, once_per_thread: bool = False,
                 guard: bool | None = None) -> None:
        self.name = name
        # A banner warns the reader; a footer (a disclaimer, a signature) does not.
        self.warns = name == "banner"
        self.text = text
        self.html = html_
        self.above_reply = above_reply
        self.once_per_thread = once_per_thread
        self.guard = guard
        self.needs_directory = any(t is not None and t.directory for t in (text, html_))

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
        values = context.values
        if self.name == "footer" and self._nobody(values):
            return False
        if self.once_per_thread and self._in_thread(mail, values):
            return False
        changed = False
        unreachable = mail.unreachable
        mail.bare.extend(unreachable)
        guarded = self.guard if self.guard is not None else context.direction == "INBOUND"
        token = context.guard_token if guarded else None
        bodies = mail.bodies
        front = mail.front
        if not bodies and not unreachable and front is None:
            # No text a client shows and no part in front (the flow adds one where the
            # structure has room): said, never silent.
            mail.bare.append(f"{mail.content_type}: no text part a client shows")
        if front is not None and (self.name == "banner" or not bodies):
            bodies = [front, *bodies]
        if token:
            changed = self._confine_others(mail, bodies, token)
            # What no guard confines can hide the banner in Thunderbird: said, so the
            # flow attaches the message whole instead (a lesser rewrite, never unwarned).
            mail.bare.extend(mail.unconfined)
        for body in bodies:
            rendered = self.render(body.kind, values)
            if not rendered:
                continue
            top, bottom = (rendered, None) if self.name == "banner" else (None, rendered)
            try:
                body.insert(top, bottom, above_reply=self.above_reply, guard_token=token)
            except UndecodableBody as error:
                # That part stays as it was, and the result says so; the others still
                # get the text.
                mail.bare.append(f"{body.content_type}: {error}")
                continue
            changed = True
        return changed

    @staticmethod
    def _confine_others(mail: Mail, targets: list[Body], token: str) -> bool:
        """Confine every other HTML part a client shows (a second body, an unreferenced
        /related page), adding no text; each once."""
        changed = False
        for body in mail.shown_html:
            if body in targets:
                continue
            try:
                changed = body.confine(token) or changed
            except UndecodableBody as error:
                mail.bare.append(f"{body.content_type}: {error}")
        return changed

    def _nobody(self, values: Mapping[str, str]) -> bool:
        """A signature for a sender the directory does not know: every {sender.*}
        field it uses is empty (a shared mailbox, an unknown sender)."""
        templates = [t for t in (self.text, self.html) if t is not None and t.directory]
        return bool(templates) and not any(t.directory_values(values) for t in templates)

    def _in_thread(self, mail: Mail, values: Mapping[str, str]) -> bool:
        """An outbound reply already showing this text (never on inbound mail)."""
        if values.get("direction") != "OUTBOUND":
            return False
        needles = []
        if self.text is not None:
            needles.append(thread.fingerprint(self.text.render(values)))
        if self.html is not None:
            needles.append(thread.fingerprint(self.html.render(values, escape_html=True),
                                              markup=True))
        return thread.carries(mail, needles)


def build(kind: str, arg: Any, where: str) -> Op:
    """`banner` or `footer` from the flow file: a string (the text) or a mapping."""
    if isinstance(arg, str):
        arg = {"text": arg}
    if not isinstance(arg, dict) or not arg:
        raise FlowError(f"{where}: expected text and/or html")
    allowed = (("text", "html", "placement", "once_per_thread", "guard") if kind == "footer"
               else ("text", "html", "guard"))
    no_unknown(arg, allowed, where)
    if "text" not in arg and "html" not in arg:
        raise FlowError(f"{where}: expected text and/or html")
    text = Template(arg["text"], f"{where}.text") if "text" in arg else None
    markup = Template(arg["html"], f"{where}.html") if "html" in arg else None
    placement = arg.get("placement", "end")
    if placement not in PLACEMENTS:
        raise FlowError(f"{where}.placement: expected end or above_reply, got {placement!r}")
    # A footer with the sender's directory fields is a signature: once per thread
    # unless the flow says otherwise.
    signature = any(t is not None and t.directory for t in (text, markup))
    once = arg.get("once_per_thread", signature)
    if not isinstance(once, bool):
        raise FlowError(f"{where}.once_per_thread: expected true or false, got {once!r}")
    guard = arg.get("guard", "auto")
    if not isinstance(guard, bool) and guard != "auto":
        raise FlowError(f"{where}.guard: expected auto, true or false, got {guard!r}")
    return Insert(kind, text, markup, placement == "above_reply", once,
                  None if guard == "auto" else guard)
