"""subject_prefix: tag the Subject, once, keeping the original value's bytes."""

from __future__ import annotations

from mimeops.mail import Context, Mail
from mimeops.mail.template import Template
from mimeops.mime import headers, words
from mimeops.mime.headers import Field
from mimeops.ops.base import Op


class SubjectPrefix(Op):
    """Put `prefix` before the Subject unless it already appears anywhere in it.

    "Anywhere" covers replies ("Re: [EXTERNAL] ...") and retries. The original
    value is kept byte for byte (its encoded words, folding, 8-bit text); the
    prefix goes in front, RFC 2047-encoded when not ASCII, and the line is
    folded after it when the first line would pass 78 columns.
    """

    name = "subject_prefix"

    def __init__(self, prefix: Template) -> None:
        self.prefix = prefix

    def apply(self, mail: Mail, context: Context) -> bool:
        prefix = headers.clean(self.prefix.render(context.values))
        if not prefix:
            return False
        block = mail.message.root.header
        field = block.field("subject")
        if field is None:
            block.add("Subject", prefix)
            return True
        if prefix.casefold() in field.decoded().casefold():
            return False
        eol = block.eol
        colon = field.raw.index(b":")
        name = field.raw[:colon]
        # Leading whitespace and folding before the first word carry no meaning.
        value = field.raw[colon + 1 :].lstrip(b" \t\r\n")
        encoded_next = value.startswith(b"=?")
        if prefix.isascii():
            head, separator = prefix.encode("ascii"), b" "
        elif encoded_next:
            # Whitespace between two encoded words is dropped: keep the space inside.
            head, separator = " ".join(words.encode(prefix + " ")).encode("ascii"), b""
        else:
            head, separator = " ".join(words.encode(prefix)).encode("ascii"), b" "
        if not value:
            new = name + b": " + head + eol
        else:
            first_line = len(name) + 2 + len(head) + 1 + len(value.split(b"\n", 1)[0].rstrip())
            joint = eol + b" " if first_line > headers.FOLD_AT else separator
            new = name + b": " + head + joint + value
        block.set_raw(field, Field(field.name, new))
        return True
