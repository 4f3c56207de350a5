"""New structure around a message: `protected: wrap`, and a text part in `front`.

`protected: wrap`: a message we must not touch, attached whole to a new one.

Exchange's "wrap" fallback for mail a disclaimer cannot enter: the signed,
encrypted, report or invitation message becomes a `message/rfc822`
attachment, byte for byte (so its signature still verifies there), and a new
text part in front of it is where the banner goes. The outer header keeps
every field of the original in order and byte for byte (From, Date,
Message-ID, To, Cc, Subject, Received, DKIM-Signature, ...) except the MIME
fields that describe the old body, so WorkMail accepts the update; the
Subject prefix and the other header ops apply to it as usual.
"""

from __future__ import annotations

import hashlib

from mimeops.mime import headers
from mimeops.mime.conform import fold_long
from mimeops.mime.headers import HeaderBlock
from mimeops.mime.model import Part
from mimeops.mime.validate import has_long_line

# Fields that describe the body; the new body has its own.
_BODY_FIELDS = frozenset({"mime-version", "content-type", "content-transfer-encoding",
                          "content-disposition", "content-id", "content-description",
                          "content-language", "content-location", "content-md5"})


def wrap(raw: bytes, header: HeaderBlock) -> bytes:
    """A new message: `header` less its body fields, a text/plain part for the banner
    and `raw` attached whole as message/rfc822."""
    eol = header.eol
    boundary = _boundary(raw)
    raw = _fold_header(raw)
    attached = (b"Content-Type: message/rfc822" + eol
                + b'Content-Disposition: attachment; filename="original-message.eml"' + eol)
    if not raw.isascii():
        attached += b"Content-Transfer-Encoding: 8bit" + eol
    return _mixed(header, boundary, attached, raw)


def _boundary(raw: bytes) -> bytes:
    """A boundary that cannot occur in `raw` by chance: a digest of it."""
    return b"=_mimeops_" + hashlib.sha256(raw).hexdigest()[:24].encode()


def _ended(fields: list[bytes], eol: bytes) -> bytes:
    """Header fields as one block, the last one ended by a line break too."""
    if fields and not fields[-1].endswith((b"\n", b"\r")):
        fields[-1] += eol
    return b"".join(fields)


def _empty_text(eol: bytes) -> bytes:
    """The header of an empty text/plain part, blank line included: the banner's place."""
    return (b"Content-Type: text/plain; charset=utf-8" + eol
            + b"Content-Transfer-Encoding: 7bit" + eol + eol)


def _mixed(header: HeaderBlock, boundary: bytes, second_header: bytes, second: bytes) -> bytes:
    """`header` less its body fields over a multipart/mixed of an empty text/plain part
    and a part of `second_header` (its fields, line breaks included) and body `second`.
    A MIME-Version field stays where it was (every field keeps its order)."""
    eol = header.eol
    delimiter = b"--" + boundary
    kept = [f.raw for f in header if f.key not in _BODY_FIELDS or f.key == "mime-version"]
    version = b"" if header.field("mime-version") else b"MIME-Version: 1.0" + eol
    return (_ended(kept, eol) + version
            + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"' + eol + eol
            + delimiter + eol + _empty_text(eol)
            + eol  # the empty body, then the line break that belongs to the delimiter
            + delimiter + eol + second_header + eol
            + second + eol + delimiter + b"--" + eol)


def _fold_header(raw: bytes) -> bytes:
    """The attached message with header lines over 998 octets folded at whitespace, as
    WorkMail requires of every line (folding whitespace is unfolded again by readers
    and by DKIM's relaxed canonicalization; the body a signature covers is untouched)."""
    block, header_end, _ = headers.parse(raw, 0, len(raw))
    if not any(has_long_line(field.raw) for field in block):
        return raw
    fields = []
    for field in block:
        folded = fold_long(field, block.eol) if has_long_line(field.raw) else field
        fields.append((folded or field).raw)
    return b"".join(fields) + raw[header_end:]


# Multiparts in which a new first child would not be shown before the rest: an
# alternative to the sender's body, the root of a /related, or signed content.
_NOT_IN_FRONT = frozenset({"alternative", "related", "signed", "encrypted"})


def front(raw: bytes, root: Part) -> bytes | None:
    """`raw` with an empty text/plain part in front of everything a client shows, where
    a banner can go: for a message whose body has no text a client shows (only an
    attached message, only attachments, a digest, a single part of another type), and
    for one where a client shows something before the body the banner enters (an
    inline image, an attached message, an unreferenced /related part: see
    `mimeops.mime.display`).

    A multipart/mixed (or digest, or unknown multipart) gets the new part as its first
    child, the rest byte for byte. Any other message becomes a multipart/mixed of the
    new part and the old body, which keeps its own MIME fields and every byte: a
    single part, and a /alternative, /related or /signed whose own first child would be
    shown instead of (not before) the sender's. None when no delimiter line was found.
    """
    eol = root.header.eol
    if root.maintype == "multipart" and root.subtype not in _NOT_IN_FRONT:
        if not root.children:
            return None
        delimiter = b"--" + root.params["boundary"].encode("utf-8", "surrogateescape")
        at = raw.rfind(delimiter, root.body_start, root.children[0].start)
        if at < 0 or (at > root.body_start and raw[at - 1] != 0x0A):
            return None
        return raw[:at] + delimiter + eol + _empty_text(eol) + eol + raw[at:]
    moved = [f.raw for f in root.header if f.key in _BODY_FIELDS and f.key != "mime-version"]
    return _mixed(root.header, _boundary(raw), _ended(moved, eol), raw[root.body_start:])
