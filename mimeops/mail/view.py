"""`Mail`: one message as transforms and conditions see it, built-in or plugin."""

from __future__ import annotations

from mimeops.errors import UndecodableBody
from mimeops.mail.headers import Headers
from mimeops.mail.parts import Attachment, Body
from mimeops.mime import Message, transfer
from mimeops.mime.model import Part

_NESTING = 8  # attached messages inside attached messages, listed up to this depth


class Mail:
    """The message in transit, for a transform to read and edit.

    Every edit keeps all other bytes as they were (the MIME model re-emits only what
    changed), so a transform can never re-encode what it did not touch:

    - `headers`: the top-level header fields (`Headers`);
    - `bodies`: one `Body` per text body a mail client shows (the plain-text and the
      HTML alternative; never an attachment, never inside an attached message), and
      `front`, the text part the flow put in front of everything, if it did;
    - `attachments`: every `Attachment` a client lists, attached messages' included.

    Conditions get the message as it arrived; transforms get it as the rule's earlier
    transforms left it.
    """

    __slots__ = ("_message",)

    def __init__(self, message: Message | bytes) -> None:
        self._message = message if isinstance(message, Message) else Message(message)

    @property
    def headers(self) -> Headers:
        """The top-level header (`Headers`): get, get_all, add, set, prefix, remove."""
        return Headers(self._message.root.header)

    @property
    def bodies(self) -> list[Body]:
        """The text bodies a client shows, in message order (at most one of each kind):
        the sender's, not the part the flow put in `front`."""
        return [Body(part) for part in self._message.sender_bodies().values()]

    @property
    def front(self) -> Body | None:
        """The empty text/plain part the flow put in front of everything a client shows
        (where something of the sender's would show before the first body, or where
        there is no body): the banner goes there first. None when there is none."""
        front = self._message.front
        return None if front is None else Body(front)

    @property
    def shown_html(self) -> list[Body]:
        """Every HTML part a client that shows every inline part (Thunderbird, Apple
        Mail) may show, the HTML body among them: a second body, an unreferenced
        /related page. Thunderbird renders them all into one document."""
        return [Body(part) for part in self._message.shown_html()]

    @property
    def unconfined(self) -> list[str]:
        """"<content-type>: <why>" for each part Thunderbird shows as HTML in the same
        page as the bodies that no guard can confine: an attached message with HTML (its
        bytes stay as sent), an attachment it reads as HTML from its name. Its stylesheet
        can hide a banner there; a transform that guards its banner reports these in
        `bare`, and the flow then attaches the message whole (docs/rendering.md)."""
        return self._message.unconfined()

    @property
    def attachments(self) -> list[Attachment]:
        """Every part a client lists as an attachment, in order; an attached message's
        own attachments follow it (`nested`)."""
        out: list[Attachment] = []
        _collect(self._message.root, out, 0)
        return out

    @property
    def content_type(self) -> str:
        """The message's own type ("multipart/mixed", "text/plain", ...)."""
        return self._message.root.ctype

    @property
    def size(self) -> int:
        """The message's size in octets, as received."""
        return len(self._message.raw)

    @property
    def changed(self) -> bool:
        """Whether any edit was made so far."""
        return self._message.changed

    @property
    def unreachable(self) -> list[str]:
        """"<content-type>: <reason>" for each part on the way to the shown body that
        cannot be read (nested too deep, no delimiter found): a body there is not in
        `bodies`, and a transform that writes every body cannot reach it."""
        return self._message.unreachable()

    @property
    def bare(self) -> list[str]:
        """What the flow reports as `result.bare`: a transform that could not edit a body
        it meant to appends "<content-type>: <reason>" here (the banner did not go in)."""
        return self._message.bare

    def to_bytes(self) -> bytes:
        """The message as it stands (the received bytes when nothing changed)."""
        return self._message.to_bytes()


def _collect(root: Part, out: list[Attachment], depth: int) -> None:
    for part in root.walk():
        if part.filename or part.is_attachment:
            out.append(Attachment(part, nested=depth > 0))
        if part.ctype == "message/rfc822" and depth < _NESTING:
            try:
                inner = transfer.decode(part.cte, part.body())
            except UndecodableBody:
                continue
            _collect(Message(inner).root, out, depth + 1)
