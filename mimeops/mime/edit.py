"""Insert a banner and/or a footer into one text/plain or text/html part.

Only that part's body and its Content-Type / Content-Transfer-Encoding fields
change. Where the part's charset keeps ASCII as ASCII (nearly all mail), the
decoded bytes are spliced without ever being decoded as text, so bytes that
contradict their label survive untouched. Transcoding to UTF-8 happens only
when plain text to insert does not fit the charset; HTML never needs it,
since characters that do not fit become character references.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mimeops.errors import UndecodableBody
from mimeops.mime import charset, html, text, transfer
from mimeops.mime.headers import Field
from mimeops.mime.model import Part

_ASCII_AGAIN = b"\x1b(B"  # ISO-2022: designate ASCII
_SHIFT_IN = b"\x0f"  # ISO-2022-KR: back to ASCII
_BREAKS = re.compile(r"\r\n|\r|\n")
_CHARSET_PARAM = re.compile(rb'(;\s*charset\s*=\s*)("[^"]*"|[^\s;]*)', re.IGNORECASE)


def insert(
    part: Part, banner: str | None, footer: str | None, above_reply: bool = False,
    guard_token: str | None = None,
) -> None:
    """Add `banner` at the top and `footer` at the bottom of `part`'s body; with
    `guard_token` (a per-message secret), HTML is guarded by `mimeops.mime.guard`.

    Raises UndecodableBody when the body cannot be decoded for editing.
    """
    label = part.cte
    cte = transfer.canonical(label)
    if cte is None:
        # x-uuencode, x-gzip64, binhex: no text to splice into.
        raise UndecodableBody(f"unknown transfer encoding {label}")
    decoded = part.decoded()
    codec = charset.lookup(part.charset_label)
    eol = part.header.eol.decode("ascii")
    flowed = part.params.get("format", "").lower() == "flowed"

    def splice(body: str, top: str | None, bottom: str | None) -> str:
        if part.subtype == "html":
            if guard_token:
                # Imported on the first guarded HTML body (the HTML5 reader and CSS
                # scoping): an outbound footer or plain text never pays for it.
                from mimeops.mime import guard

                return guard.insert(body, guard_token, top, bottom, above_reply)
            return html.insert(body, top, bottom, above_reply)
        return text.insert(body, top, bottom, eol, flowed, above_reply)

    new_label = None
    # Bytes that contradict their label (latin-1 labelled utf-8): adding non-ASCII
    # text in the label's encoding would mix two encodings in one part.
    readable = _decodes(decoded, codec)
    spliced = _stateful_splice(part, decoded, codec, banner, footer, splice)
    if spliced is not None:
        _store(part, cte, spliced, codec, None)
        return
    if not readable and not charset.ascii_transparent(codec):
        lenient = charset.decode_lenient(decoded, codec)
        if lenient is None:
            # UTF-16, ISO-2022-JP, ... that do not decode: no safe place to splice.
            raise UndecodableBody(f"body does not decode as {part.charset_label}")
        _store(part, cte, splice(lenient, banner, footer).encode("utf-8"), codec, "utf-8")
        return
    if part.subtype == "html":
        refs = codec if readable else None  # else ASCII character references only
        top, bottom = _as_charrefs(banner, refs), _as_charrefs(footer, refs)
    else:
        top, bottom = _fitting(banner, codec), _fitting(footer, codec)
        if not readable and not all(v is None or v.isascii() for v in (top, bottom)):
            top = bottom = None  # transcode what the bytes say to UTF-8 instead
    fits = (top is not None or not banner) and (bottom is not None or not footer)
    if fits and charset.ascii_transparent(codec):
        # latin-1 maps bytes 1:1 to characters: a byte-exact splice.
        result = splice(decoded.decode("latin-1"), _latin1(top, codec), _latin1(bottom, codec))
        out = result.encode("latin-1")
    elif fits and codec is not None:
        result = splice(decoded.decode(codec, "surrogateescape"), top, bottom)
        out = result.encode(codec, "surrogateescape")
    else:
        original, _ = charset.decode_lossless(decoded, codec)
        out = splice(original, banner, footer).encode("utf-8")
        new_label = "utf-8"

    _store(part, cte, out, codec, new_label)


def confine(part: Part, guard_token: str) -> bool:
    """Guard an HTML part without adding text (`mimeops.mime.guard`); False when it is no
    HTML, is guarded already, or is in a transfer encoding no client decodes (x-gzip64,
    x-uuencode: its markup never reaches a page, so neither do its stylesheets). Raises
    UndecodableBody when its transfer encoding does not decode."""
    from mimeops.mime import guard

    if part.subtype != "html" or transfer.canonical(part.cte) is None:
        return False
    if guard.guarded(text_of(part), guard_token):
        return False
    insert(part, None, None, False, guard_token)
    return True


def text_of(part: Part) -> str:
    """The decoded text of a text part: its charset, else UTF-8, else windows-1252 (no
    byte is ever dropped). Raises UndecodableBody when the transfer encoding is unknown or
    does not decode."""
    if transfer.canonical(part.cte) is None:
        raise UndecodableBody(f"unknown transfer encoding {part.cte}")
    return charset.decode_lossless(part.decoded(), charset.lookup(part.charset_label))[0]


def replace(part: Part, new: str) -> bool:
    """Make `new` the text of `part`: encoded in the part's charset when it fits (else
    UTF-8, and the label says so), in the part's transfer encoding (or the one
    `transfer.target` picks for 8-bit data in a 7bit part), line breaks written as the
    part's own. Only this part's body and its Content-Type / Content-Transfer-Encoding
    fields change. False (and nothing changes) when `new` is the text it already has.

    Raises UndecodableBody when the body cannot be decoded for editing."""
    eol = part.header.eol.decode("ascii")
    new = _BREAKS.sub(eol, new)
    if new == text_of(part):
        return False
    cte = transfer.canonical(part.cte)
    assert cte is not None  # text_of checked it
    codec = charset.lookup(part.charset_label)
    out = charset.encode(new, codec)
    if out is None:
        _store(part, cte, new.encode("utf-8"), codec, "utf-8")
    else:
        _store(part, cte, out, codec, None)
    return True


def _store(part: Part, cte: str, out: bytes, codec: str | None, new_label: str | None) -> None:
    """The edited decoded bytes into the part, encoded as its CTE allows."""
    # In UTF-16/32 a 0x0A byte is not a line break: quoted-printable must keep it.
    textual = charset.encode("\n", new_label or codec) == b"\n"
    new_cte = transfer.target(cte, out, textual)
    if part.cte != cte:
        new_cte = cte  # a sloppy label is kept as it is: never relabelled
    if transfer.reversible(new_cte, out, part.header.eol, textual):
        # Encoded when written: a footer after a banner decodes and encodes it once.
        part.set_decoded(new_cte, out, part.header.eol, textual)
    else:
        part.set_body(transfer.encode_as(new_cte, out, part.header.eol, textual))
    if new_cte != cte:
        part.header.set("Content-Transfer-Encoding", new_cte)
    if new_label:
        _set_charset(part, new_label)


def _stateful_splice(
    part: Part, decoded: bytes, codec: str | None, banner: str | None, footer: str | None,
    splice: Callable[[str, str | None, str | None], str],
) -> bytes | None:
    """ISO-2022 plain text (-JP, -KR, ...), edited in its own bytes: the banner, encoded
    line by line, goes before the first line (the text starts in ASCII), the footer after
    the last, behind what returns to ASCII (ESC ( B; SI in ISO-2022-KR) in case the text
    ends in another set. Nothing of the original is decoded, so text Python's strict
    codec refuses (clients display it: NEC row 13, stray shifts, 8-bit bytes) keeps every
    byte. None when this does not apply or the inserted text does not fit the charset."""
    if part.subtype != "plain" or codec is None or not charset.stateful(codec):
        return None
    top = charset.encode_lines(banner, codec) if banner else None
    bottom = charset.encode_lines(footer, codec) if footer else None
    if (banner and top is None) or (footer and bottom is None):
        return None
    if bottom is not None:
        again = _SHIFT_IN if codec.startswith("iso2022_kr") else _ASCII_AGAIN
        bottom = again.decode("latin-1") + bottom
    return splice(decoded.decode("latin-1"), top, bottom).encode("latin-1")


def _decodes(data: bytes, codec: str | None) -> bool:
    try:
        data.decode(codec or "ascii")
    except UnicodeDecodeError:
        return False
    return True


def _fitting(value: str | None, codec: str | None) -> str | None:
    if value is None or charset.encode(value, codec) is None:
        return None
    return value


def _as_charrefs(value: str | None, codec: str | None) -> str | None:
    if value is None:
        return None
    return value.encode(codec or "ascii", "xmlcharrefreplace").decode(codec or "ascii")


def _latin1(value: str | None, codec: str | None) -> str | None:
    """`value` as the bytes it has in `codec`, viewed through latin-1."""
    if value is None:
        return None
    return value.encode(codec or "ascii").decode("latin-1")


def _set_charset(part: Part, label: str) -> None:
    field = part.header.field("content-type")
    if field is None:
        part.header.add("Content-Type", f"text/{part.subtype}; charset={label}")
        return
    raw = field.raw
    new, count = _CHARSET_PARAM.subn(lambda m: m.group(1) + label.encode(), raw, count=1)
    if not count:
        body = raw.rstrip(b"\r\n")
        new = body + b";" + part.header.eol + b" charset=" + label.encode() + part.header.eol
    part.header.set_raw(field, Field(field.name, new))
    part.params["charset"] = label
