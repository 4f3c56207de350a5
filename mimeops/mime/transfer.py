"""Content-Transfer-Encoding: decode a body for editing, encode it back safely.

Encoded output keeps every line within 998 octets and carries 8-bit content
only inside quoted-printable or base64, as WorkMail asks of updated MIME.
"""

from __future__ import annotations

import base64
import binascii
import re

IDENTITY = frozenset({"7bit", "8bit", "binary"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_MAX_LINE = 998


class UndecodableBody(ValueError):
    """The body's bytes do not decode under its Content-Transfer-Encoding."""


KNOWN = frozenset({*IDENTITY, "quoted-printable", "base64"})
# Labels no decoder reads as text: uuencode, binhex, gzip64 and every x- extension.
_OPAQUE = frozenset({"uuencode", "uue", "binhex", "gzip64", "mac-binhex40"})


def canonical(label: str) -> str | None:
    """What a transfer-encoding label means, the way mail clients read it.

    Sloppy spellings of a known encoding ("quoted printable", "quoted-printable;")
    mean that encoding; uuencode, binhex and x- extensions (x-gzip64) cannot be read
    (None); any other unknown label ("8bits", "7-bit", "plain") is read as identity,
    as Python and mail clients do. The label itself is never rewritten.
    """
    name = re.sub(r"[\s_]+", "-", label.strip().lower().rstrip(";").strip())
    if name in KNOWN:
        return name
    if name.startswith("x-") or name in _OPAQUE:
        return None
    return "8bit"


def decode(cte: str, data: bytes) -> bytes:
    cte = canonical(cte) or cte
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    if cte == "base64":
        try:
            return binascii.a2b_base64(data)
        except binascii.Error:
            # Mail clients decode what they can; so do we, if nothing is lost.
            clean = _NOT_BASE64.sub(b"", data)
            try:
                return base64.b64decode(clean + b"=" * (-len(clean) % 4))
            except binascii.Error as error:
                raise UndecodableBody(f"invalid base64 body: {error}") from error
    return data


def needs_reencoding(data: bytes) -> bool:
    """True when raw `data` is not safe as 7bit: 8-bit bytes, NUL or over-long lines."""
    if not data.isascii() or b"\0" in data:
        return True
    return any(len(line) > _MAX_LINE for line in data.splitlines())


def target(cte: str, data: bytes, text: bool = True) -> str:
    """The CTE for edited `data` in a part that was `cte`.

    base64 stays base64; quoted-printable stays quoted-printable; an identity
    encoding stays when the bytes are 7-bit clean with short lines, and becomes
    quoted-printable otherwise. `text` is False when line-break bytes in `data`
    are not line breaks (UTF-16): quoted-printable then encodes them.
    """
    if cte == "base64":
        return cte
    if cte in IDENTITY and text and not needs_reencoding(data):
        return cte
    # Unknown labels and unsafe identity data become quoted-printable.
    return "quoted-printable"


def encode_as(cte: str, data: bytes, eol: bytes, text: bool = True) -> bytes:
    """`data` encoded as `cte`, a CTE chosen by `target`."""
    if cte == "base64":
        lines = base64.encodebytes(data)
        return lines.replace(b"\n", eol) if eol != b"\n" else lines
    if cte == "quoted-printable":
        return qp(data, eol, text)
    return data


def reversible(cte: str, data: bytes, eol: bytes, text: bool = True) -> bool:
    """True when `decode(cte, encode_as(cte, data, eol, text)) == data`, checked cheaply.

    base64 and identity always give the bytes back; quoted-printable does when
    every line break in `data` is already `eol` (no bare CR or LF to normalize).
    """
    if cte != "quoted-printable":
        return True
    if not text:
        return False
    crs = data.count(b"\r")
    if eol == b"\r\n":
        return crs == data.count(b"\n") == data.count(b"\r\n")
    return crs == 0


def qp(data: bytes, eol: bytes, text: bool = True) -> bytes:
    """Quoted-printable with soft breaks at 76 columns and `eol` hard breaks."""
    normalized = data.replace(b"\r\n", b"\n") if text else data
    encoded = binascii.b2a_qp(normalized, quotetabs=False, istext=text, header=False)
    return encoded.replace(b"\n", eol) if eol != b"\n" else encoded
