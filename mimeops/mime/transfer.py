"""Content-Transfer-Encoding: decode a body for editing, encode it back safely.

Encoded output keeps every line within 998 octets and carries 8-bit content
only inside quoted-printable or base64, as WorkMail asks of updated MIME.
"""

from __future__ import annotations

import base64
import binascii
import re

from mimeops.errors import UndecodableBody

IDENTITY = frozenset({"7bit", "8bit", "binary"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_MAX_LINE = 998
# `requote` pays off from a few KiB; it walks at most this many lines from each end.
_REQUOTE_MIN, _REQUOTE_LINES = 4096, 512


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
            if len(clean) % 4 == 1:
                clean = clean[:-1]  # one stray character carries 6 bits: no whole byte
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


def requote(encoded: bytes, before: bytes, after: bytes, eol: bytes) -> bytes | None:
    """`after` as quoted-printable text, keeping the lines of `encoded` (which decodes
    to `before`) that did not change, or None when that saves nothing.

    A banner and a footer change the first and last lines of a body: only the hard
    lines before and after the unchanged run in the middle are encoded again (a
    120 KiB HTML part costs a few lines instead of a `b2a_qp` of all of it), and
    the sender's own line breaks and escapes stay as they were. The result is
    decoded again and must give `after` exactly, or the caller encodes it all.
    """
    if len(after) < _REQUOTE_MIN:
        return None
    run = _common_run(before, after)
    if run is None:
        return None
    first, last, shift = run  # after[first + shift : last + shift] == before[first:last]
    # Whole hard lines inside the run: where the re-encoded head ends, the tail starts.
    head_end = _hard_boundary(encoded, first + (first > 0 or shift != 0), forward=True)
    tail_start = _hard_boundary(encoded, len(before) - last, forward=False)
    if head_end is None or tail_start is None:
        return None
    (start, kept), (stop, kept_tail) = head_end, tail_start
    end = len(before) - kept_tail
    if end - kept < len(after) // 2:
        return None
    out = (qp(after[: kept + shift], eol) + encoded[start:stop]
           + qp(after[end + shift :], eol))
    return out if binascii.a2b_qp(out) == after else None


def _common_run(before: bytes, after: bytes) -> tuple[int, int, int] | None:
    """The unchanged run around the middle of `before`: (first, last, shift) with
    ``after[first + shift : last + shift] == before[first:last]``, found from a probe
    in the middle and widened by binary searches of memcmp'd slices."""
    middle = len(before) // 2
    probe = before[middle : middle + 64]
    found = after.find(probe)
    if len(probe) < 64 or found < 0:
        return None
    shift = found - middle
    low, high = 0, min(middle, middle + shift)
    while low < high:  # how far the run reaches back
        mid = (low + high + 1) // 2
        if before[middle - mid : middle] == after[found - mid : found]:
            low = mid
        else:
            high = mid - 1
    first = middle - low
    low, high = 0, min(len(before) - middle, len(after) - found)
    while low < high:  # and forward
        mid = (low + high + 1) // 2
        if before[middle : middle + mid] == after[found : found + mid]:
            low = mid
        else:
            high = mid - 1
    return first, middle + low, shift


def _hard_boundary(encoded: bytes, least: int, forward: bool) -> tuple[int, int] | None:
    """The first hard line break of QP `encoded` after which at least `least` decoded
    octets lie behind (`forward`, from the start) or ahead (from the end): (its offset,
    those octets). Soft breaks (``=`` ending a line) join lines. None when not within
    `_REQUOTE_LINES` physical lines."""
    edge = pos = 0 if forward else len(encoded)
    decoded = 0
    for _ in range(_REQUOTE_LINES):
        if decoded >= least:
            return edge, decoded
        if forward:
            newline = encoded.find(b"\n", pos)
            if newline < 0:
                return None
            pos = newline + 1
            if encoded.endswith((b"=\n", b"=\r\n"), 0, pos):
                continue  # a soft break: the hard line goes on
            decoded += len(binascii.a2b_qp(encoded[edge:pos]))
        else:
            if pos == 0:
                return None
            pos = encoded.rfind(b"\n", 0, pos - 1) + 1
            if pos and encoded.endswith((b"=\n", b"=\r\n"), 0, pos):
                continue
            decoded += len(binascii.a2b_qp(encoded[pos:edge]))
        edge = pos
    return None


def qp(data: bytes, eol: bytes, text: bool = True) -> bytes:
    """Quoted-printable with soft breaks at 76 columns and `eol` hard breaks."""
    normalized = data.replace(b"\r\n", b"\n") if text else data
    encoded = binascii.b2a_qp(normalized, quotetabs=False, istext=text, header=False)
    return encoded.replace(b"\n", eol) if eol != b"\n" else encoded
