"""Checks WorkMail applies to the MIME of a PutRawMessageContent.

WorkMail answers ``MessageRejected`` when the updated message breaks one of the rules
listed in the API reference (RawMessageContent). The list of immutable headers is not
published; the emulator enforces the ones a rewrite must never touch (From, Date,
Message-ID, and the other originator/identification fields below). Each check returns a
reason that names the rule, like the real service's error message, so a handler's logs
say what to fix.

The checks are deliberately not stricter than real mail needs: a missing closing
boundary (``CloseBoundaryNotFoundDefect``) is common in mail that WorkMail itself
delivers, so it is accepted; encapsulated ``message/*`` parts are not inspected because
a forwarded attachment's own defects are not the rewriter's doing.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator
from email import errors as email_errors
from email.message import Message
from email.parser import BytesParser

MAX_LINE_OCTETS = 998
"""RFC 5321/5322 limit: 1000 octets per line including CRLF."""

UNIQUE_HEADERS = (
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
)
"""RFC 5322 section 3.6: fields that may occur at most once in a message header."""

IMMUTABLE_HEADERS = ("From", "Date", "Message-ID", "Sender")
"""Fields whose (unfolded, whitespace-normalised) value must survive an update."""

_STRUCTURAL_DEFECTS: tuple[type[email_errors.MessageDefect], ...] = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
)

_LINE_SPLIT = re.compile(rb"\r?\n")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def rejection_reason(original: bytes, updated: bytes) -> str | None:
    """Why WorkMail would reject ``updated`` as the new content of ``original``.

    Returns ``None`` when the update is acceptable. The checks run cheapest first and
    the first failure wins, as one error message names one problem.
    """
    if not updated.strip():
        return "the message is empty"
    reason = _long_line(updated)
    if reason:
        return reason
    new = _parse(updated)
    if not new.keys():
        return "the message has no header fields (no header block before the body)"
    reason = _duplicated_unique_header(new)
    if reason:
        return reason
    reason = _changed_immutable_header(_parse(_header_block(original)), new)
    if reason:
        return reason
    return _malformed_structure(new)


def _parse(raw: bytes) -> Message:
    return BytesParser(policy=email.policy.compat32).parsebytes(raw)


def _header_block(raw: bytes) -> bytes:
    """The header section only: the original's body is irrelevant to header checks."""
    end = _BLANK_LINE.search(raw)
    return raw if end is None else raw[: end.end()]


def _long_line(raw: bytes) -> str | None:
    if max(map(len, raw.split(b"\n"))) <= MAX_LINE_OCTETS:  # fast path; CR counted here
        return None
    for number, line in enumerate(_LINE_SPLIT.split(raw), start=1):
        if len(line) > MAX_LINE_OCTETS:
            return (
                f"line {number} is {len(line)} octets long; lines must not exceed "
                f"{MAX_LINE_OCTETS} octets plus CRLF (RFC 5321 section 4.5.3.1.6)"
            )
    return None


def _duplicated_unique_header(message: Message) -> str | None:
    names = [name.lower() for name in message]
    for unique in UNIQUE_HEADERS:
        count = names.count(unique.lower())
        if count > 1:
            return f"unique header {unique} appears {count} times; it may appear only once"
    return None


def _normalised(message: Message, name: str) -> list[str]:
    return [" ".join(str(value).split()) for value in message.get_all(name, [])]


def _changed_immutable_header(original: Message, updated: Message) -> str | None:
    for name in IMMUTABLE_HEADERS:
        before = _normalised(original, name)
        after = _normalised(updated, name)
        if before == after:
            continue
        if before and not after:
            return f"immutable header {name} was removed"
        if after and not before:
            return f"immutable header {name} was added"
        return f"immutable header {name} was changed"
    return None


def _mime_parts(message: Message, path: str = "1") -> Iterator[tuple[str, Message]]:
    """The message and its multipart descendants, not descending into message/*."""
    yield path, message
    if message.get_content_maintype() != "multipart":
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for index, part in enumerate(payload, start=1):
            if isinstance(part, Message):
                yield from _mime_parts(part, f"{path}.{index}")


def _malformed_structure(message: Message) -> str | None:
    for path, part in _mime_parts(message):
        for defect in part.defects:
            if isinstance(defect, _STRUCTURAL_DEFECTS):
                where = "the top-level part" if path == "1" else f"MIME part {path}"
                return (
                    f"malformed MIME structure in {where} ({part.get_content_type()}): "
                    f"{_describe(defect)}"
                )
    return None


def _describe(defect: email_errors.MessageDefect) -> str:
    if isinstance(defect, email_errors.NoBoundaryInMultipartDefect):
        return "multipart content without a boundary parameter"
    if isinstance(defect, email_errors.StartBoundaryNotFoundDefect):
        return "the multipart boundary never occurs in the body"
    return "a multipart part without any subparts"
