"""subject_prefix: tag the Subject, once, keeping the original value's bytes."""

from __future__ import annotations

from typing import Any

from mimeops.mail import Context, Mail, Template
from mimeops.mime.headers import clean
from mimeops.ops.base import Op


class SubjectPrefix(Op):
    """Put `prefix` before the Subject unless it already appears anywhere in it.

    "Anywhere" covers replies ("Re: [EXTERNAL] ...") and retries. The original value is
    kept byte for byte (`mail.headers.prefix`: its encoded words, folding, 8-bit text).
    """

    name = "subject_prefix"

    def __init__(self, prefix: Template) -> None:
        self.prefix = prefix
        self.needs_directory = prefix.directory

    def apply(self, mail: Mail, context: Context) -> bool:
        prefix = clean(self.prefix.render(context.values))
        subject = mail.headers.get("Subject")
        if not prefix or (subject is not None and prefix.casefold() in subject.casefold()):
            return False
        return mail.headers.prefix("Subject", prefix)


def build(arg: Any, where: str) -> Op:
    """`subject_prefix: TEXT` from the flow file."""
    return SubjectPrefix(Template(arg, where))
