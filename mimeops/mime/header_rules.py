"""Which header fields an update may add, change or remove: the engine's one list.

WorkMail refuses an updated message that changes an immutable field or repeats a unique
one (the list is not published; its error names the field). The flow loader refuses an
op that would do it, `Mail.headers` refuses the edit, the output check
(`mimeops.mime.validate`) refuses the result, `conform` merges what a sender repeated,
and the processed marker binds to the identity fields: all of them read this module, so
a field can never be allowed in one place and refused in another.
"""

from __future__ import annotations

import re

IMMUTABLE_NAMES = ("From", "Date", "Message-ID", "Sender", "Return-Path")
"""Fields whose (unfolded, whitespace-normalised) value must survive an update."""

UNIQUE_NAMES = ("Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID",
                "In-Reply-To", "References", "Subject")
"""RFC 5322 section 3.6: fields that may occur at most once in a message header."""

IMMUTABLE = frozenset(name.lower() for name in IMMUTABLE_NAMES)
UNIQUE = frozenset(name.lower() for name in UNIQUE_NAMES)

MERGED: dict[str, bytes | None] = {
    "to": b",", "cc": b",", "bcc": b",", "reply-to": b",",
    "in-reply-to": b"", "references": b"", "subject": None,
}
"""Unique fields a sender repeated, merged into the first copy by `conform`: the separator
between the values, or None (Subject: the first copy stays alone). The immutable ones
cannot be merged: a message repeating them goes out unchanged."""

IDENTITY = ("message-id", "date", "from")
"""The immutable fields the processed marker and the guard's token are bound to."""

MARKER = "X-Mimeops-Processed"
"""The processed marker (`mimeops.flow.marker`): mimeops' own; no op or plugin edits it."""

FIELD_NAME = re.compile(r"^[!-9;-~]{1,76}$")
"""A header field name: printable ASCII but the colon, at most 76 characters."""
VERBS = ("add", "set", "remove")


def structural(key: str) -> bool:
    """A field that describes the MIME structure (Content-*, MIME-Version): editing it
    would change how every byte of the body is read."""
    return key.startswith("content-") or key == "mime-version"


def refusal(name: object, verb: str) -> str | None:
    """Why `verb` ("add", "set" or "remove") of the top-level field `name` is not
    allowed, in words (starting with the field's name); None when it is allowed."""
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        return f"expected a header field name, got {name!r}"
    key = name.lower()
    if key in IMMUTABLE:
        return f"{name} cannot be changed (WorkMail rejects the message)"
    if key == MARKER.lower():
        return f"{name} is mimeops' own marker"
    if structural(key):
        return f"{name} describes the MIME structure; it is not editable"
    if verb == "add" and key in UNIQUE:
        return f"{name} may appear only once; set it instead of adding a second one"
    return None
