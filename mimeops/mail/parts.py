"""The parts of a message a transform reads and edits: displayed bodies and attachments."""

from __future__ import annotations

from mimeops.mime import edit, transfer
from mimeops.mime.model import Part


class Body:
    """One text body a mail client shows: the plain-text or the HTML alternative.

    `text` is the decoded text; assigning a new `str` re-encodes this part only (in its
    charset when the text fits, else UTF-8; in its transfer encoding, quoted-printable
    lines the edit did not reach kept as they were). `insert` adds text at the top and
    bottom the way `banner` and `footer` do. Either raises `mimeops.errors.UndecodableBody`
    (a ValueError) when the body does not decode as its labels say; the part is then left
    as it was.
    """

    __slots__ = ("_part",)

    def __init__(self, part: Part) -> None:
        self._part = part

    def __repr__(self) -> str:
        return f"<Body {self.content_type}>"

    def __eq__(self, other: object) -> bool:
        """Two views of the same part are the same body."""
        return isinstance(other, Body) and other._part is self._part

    def __hash__(self) -> int:
        return id(self._part)

    @property
    def kind(self) -> str:
        """"plain" or "html"."""
        return self._part.subtype

    @property
    def content_type(self) -> str:
        """"text/plain" or "text/html"."""
        return self._part.ctype

    @property
    def charset(self) -> str | None:
        """The charset label as written (None when the part names none)."""
        return self._part.charset_label

    @property
    def text(self) -> str:
        """The decoded text, line breaks as in the message (usually CRLF)."""
        return edit.text_of(self._part)

    @text.setter
    def text(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"body.text takes a str, got {type(value).__name__}")
        edit.replace(self._part, value)

    def insert(self, top: str | None = None, bottom: str | None = None, *,
               above_reply: bool = False, guard_token: str | None = None) -> None:
        """Add `top` at the top and `bottom` at the bottom of this body, as the built-in
        `banner` and `footer` do. Give plain text to a plain body and HTML to an HTML
        body (escape any value you put in it: `html.escape` or
        `context.render(template, html=True)`).

        HTML goes right after where the browser's <body> begins and before its end,
        never inside a comment, a <style> or an Outlook-only block. `above_reply` puts
        `bottom` above the quoted message of a reply instead. `guard_token` (pass
        `context.guard_token`) inserts HTML the sender's markup and CSS cannot hide, move
        or restyle (`mimeops.mime.guard`): what `banner` does on inbound mail. Plain text
        keeps the body's charset (UTF-8 when the text does not fit), its line breaks and
        format=flowed.
        """
        edit.insert(self._part, top, bottom, above_reply, guard_token)

    def confine(self, guard_token: str) -> bool:
        """Give this HTML body the guard without adding text: its stylesheet, `<link>`s and
        fixed boxes then reach only its own content (what a guarded banner does to
        every other HTML part a client shows, since Thunderbird renders all parts into
        one document). False when it is confined already (or is no HTML)."""
        return edit.confine(self._part, guard_token)


class Attachment:
    """A part a mail client lists as an attachment (read-only).

    Attachments of an attached message (message/rfc822) are listed too, with `nested`
    True: what is inside a forwarded message is still sent.
    """

    __slots__ = ("_part", "nested")

    def __init__(self, part: Part, nested: bool = False) -> None:
        self._part = part
        #: Inside an attached message, not an attachment of this message itself.
        self.nested = nested

    def __repr__(self) -> str:
        return f"<Attachment {self.filename!r} {self.content_type}>"

    @property
    def filename(self) -> str | None:
        """The file name as the sender wrote it (RFC 2231/2047 decoded), or None."""
        return self._part.filename

    @property
    def content_type(self) -> str:
        """"type/subtype", lower-cased."""
        return self._part.ctype

    @property
    def data(self) -> bytes:
        """The decoded content. Raises UndecodableBody when its transfer encoding does not
        decode."""
        return transfer.decode(self._part.cte, self._part.body())
