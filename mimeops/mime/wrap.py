"""New structure around a message: `wrap` it whole, or put a text part in `front`.

`protected: wrap` (and the fallback ladder's wrap): a message we must not or cannot
edit, attached whole to a new one.

Exchange's "wrap" fallback for mail a disclaimer cannot enter: the signed,
encrypted, report or invitation message becomes an attachment, byte for byte (so its
signature still verifies there), and a new text part in front of it is where the
banner goes. The outer header keeps every field of the original in order and byte for
byte (From, Date, Message-ID, To, Cc, Subject, Received, DKIM-Signature, ...) except
the MIME fields that describe the old body, so WorkMail accepts the update; the
Subject prefix and the other header ops apply to it as usual.

The attachment is a `message/rfc822` part only when that is safe to show: Thunderbird
shows an attached message inline, in the same page as the banner, whatever its
Content-Disposition, so an original with HTML (`mimeops.mime.display.draws_html`) would
bring its stylesheet to the banner (`.moz-text-html{display:none!important}` hides it).
Such an original, and one with a line no folding can shorten (an attached message or a
preamble with a 2,000-octet line), is attached as an `original-message.eml` file in
base64 instead: it decodes to the same bytes, and Thunderbird lists it as a file (it
does not read a base64 .eml as a message).

`front` and `front_before`: an empty text part shown before a body the banner cannot
enter (no text at all, an unknown transfer encoding, text that does not decode, a
multipart nested past the limit), so that the banner still comes first.
"""

from __future__ import annotations

import hashlib
from itertools import pairwise

from mimeops.mime import headers, transfer
from mimeops.mime.conform import fold_long
from mimeops.mime.display import draws_html
from mimeops.mime.headers import HeaderBlock
from mimeops.mime.model import MAX_DEPTH, Part
from mimeops.mime.validate import has_long_line

# Fields that describe the body; the new body has its own.
_BODY_FIELDS = frozenset({"mime-version", "content-type", "content-transfer-encoding",
                          "content-disposition", "content-id", "content-description",
                          "content-language", "content-location", "content-md5"})
_ATTACHED = b"original-message.eml"


def wrap(raw: bytes, root: Part) -> bytes:
    """A new message: the header of `root` (the tree of `raw`, its header as edited so
    far) less its body fields, a text/plain part for the banner and `raw` attached whole:
    as message/rfc822 when a client may show it inline with the banner, else as a base64
    .eml file (HTML inside, or a line too long for WorkMail even after folding)."""
    header = root.header
    eol = header.eol
    boundary = _boundary(raw)
    folded = _fold_header(raw)
    disposition = b'Content-Disposition: attachment; filename="' + _ATTACHED + b'"' + eol
    if has_long_line(folded) or draws_html(root):  # exactly, in lines base64 keeps short
        attached = (b'Content-Type: application/octet-stream; name="' + _ATTACHED + b'"' + eol
                    + disposition + b"Content-Transfer-Encoding: base64" + eol + eol
                    + transfer.encode_as("base64", raw, eol).rstrip(b"\r\n"))
    else:
        attached = b"Content-Type: message/rfc822" + eol + disposition
        if not folded.isascii():
            attached += b"Content-Transfer-Encoding: 8bit" + eol
        attached += eol + folded
    return _mixed(header, boundary, attached)


def _boundary(raw: bytes) -> bytes:
    """A boundary that cannot occur in `raw` by chance: a digest of it."""
    return b"=_mimeops_" + hashlib.sha256(raw).hexdigest()[:24].encode()


def _ended(fields: list[bytes], eol: bytes) -> bytes:
    """Header fields as one block, the last one ended by a line break too."""
    if fields and not fields[-1].endswith((b"\n", b"\r")):
        fields[-1] += eol
    return b"".join(fields)


def _empty_text(eol: bytes, subtype: bytes = b"plain") -> bytes:
    """The header of an empty text part, blank line included: the banner's place."""
    return (b"Content-Type: text/" + subtype + b"; charset=utf-8" + eol
            + b"Content-Transfer-Encoding: 7bit" + eol + eol)


def _parts(boundary: bytes, eol: bytes, second: bytes, subtype: bytes = b"plain") -> bytes:
    """The body of a multipart/mixed: an empty text part, then the entity `second` (its
    header, blank line and body), then the close delimiter (no line break after)."""
    delimiter = b"--" + boundary
    return (delimiter + eol + _empty_text(eol, subtype)
            + eol  # the empty body, then the line break that belongs to the delimiter
            + delimiter + eol + second + eol + delimiter + b"--")


def _mixed(header: HeaderBlock, boundary: bytes, second: bytes) -> bytes:
    """`header` less its body fields (MIME-Version stays where it is, or is added) over a
    multipart/mixed of an empty text/plain part and the entity `second`."""
    eol = header.eol
    kept = [f.raw for f in header if f.key not in _BODY_FIELDS or f.key == "mime-version"]
    version = b"" if header.field("mime-version") else b"MIME-Version: 1.0" + eol
    return (_ended(kept, eol) + version
            + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"' + eol + eol
            + _parts(boundary, eol, second) + eol)


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


def front(raw: bytes, root: Part) -> bytes:
    """`raw` with an empty text/plain part first, where a banner can go: for a message
    whose body has no text a client shows (only an attached message, only attachments,
    a digest, a single part of another type, an /alternative or /related without text),
    whose body the banner cannot enter, or where a client shows something before the
    body the banner enters (an inline image, an attached message, an unreferenced
    /related part: see `mimeops.mime.display`).

    A multipart/mixed (or digest, or unknown multipart) gets the new part as its first
    child, the rest byte for byte. Any other message becomes a multipart/mixed of the
    new part and the old body, which keeps its own MIME fields and every byte: a
    single part, a multipart whose delimiter was not found, and a /alternative,
    /related or /signed whose own first child would be shown instead of (not before)
    the sender's.
    """
    eol = root.header.eol
    if root.maintype == "multipart" and root.subtype not in _NOT_IN_FRONT \
            and root.children:
        delimiter = b"--" + root.params["boundary"].encode("utf-8", "surrogateescape")
        at = raw.rfind(delimiter, root.body_start, root.children[0].start)
        if at >= 0 and (at == root.body_start or raw[at - 1] == 0x0A):
            return raw[:at] + delimiter + eol + _empty_text(eol) + eol + raw[at:]
    moved = [f.raw for f in root.header if f.key in _BODY_FIELDS and f.key != "mime-version"]
    return _mixed(root.header, _boundary(raw), _ended(moved, eol) + eol + raw[root.body_start:])


def front_before(raw: bytes, root: Part, targets: list[Part]) -> bytes:
    """`raw` with an empty text/plain part that clients show right before each of
    `targets` (parts of `root`, the tree of `raw`): bodies a banner cannot enter.

    Each target becomes, in place, a multipart/mixed of the new part and the target
    byte for byte, so the banner shows first wherever the target shows: inline in a
    /mixed, or as its alternative in an /alternative (the new part is HTML before HTML,
    so an /alternative keeps one body of each kind: its plain text keeps its banner). The
    root of a /related is found
    by its Content-ID, so the whole /related goes inside instead; a multipart nested
    past the limit takes no new level, so its parent does; a target that is the message
    itself gets `front`.
    """
    html = {id(_place(root, t)) for t in targets if t.ctype == "text/html"}
    places = _outermost([_place(root, target) for target in targets])
    if any(place is root for place in places):
        return front(raw, root)
    boundary = _boundary(raw)
    out: list[bytes] = []
    pos = 0
    for index, place in enumerate(sorted(places, key=lambda p: p.start), start=1):
        eol = place.header.eol
        mark = boundary + b"_" + str(index).encode()
        subtype = b"html" if id(place) in html else b"plain"
        entity = (b'Content-Type: multipart/mixed; boundary="' + mark + b'"' + eol + eol
                  + _parts(mark, eol, raw[place.start:place.end], subtype))
        # An empty part had no line of its own: the next delimiter needs one.
        out += [raw[pos:place.start], entity + (eol if place.start == place.end else b"")]
        pos = place.end
    out.append(raw[pos:])
    return b"".join(out)


def _place(root: Part, target: Part) -> Part:
    """The part that takes the new text part in front of it for `target`."""
    chain = _chain(root, target) or [root]
    at = len(chain) - 1
    if chain[at].maintype == "multipart" and chain[at].depth >= MAX_DEPTH:
        at -= 1
    while at > 0 and chain[at - 1].ctype == "multipart/related":
        at -= 1
    return chain[max(at, 0)]


def _chain(part: Part, target: Part) -> list[Part] | None:
    """The parts from `part` down to `target`, both included; None when not below."""
    if part is target:
        return [part]
    for child in part.children or ():
        below = _chain(child, target)
        if below is not None:
            return [part, *below]
    return None


def _outermost(places: list[Part]) -> list[Part]:
    """`places` without duplicates and without those inside another one."""
    unique = list({id(place): place for place in places}.values())
    return [p for p in unique
            if not any(o is not p and o.start <= p.start and p.end <= o.end
                       and (o.start, o.end) != (p.start, p.end) for o in unique)]


def path_of(root: Part, part: Part) -> tuple[int, ...] | None:
    """Where `part` is in the tree of `root`: the child index at each level."""
    chain = _chain(root, part)
    if chain is None:
        return None
    return tuple((parent.children or []).index(child) for parent, child in pairwise(chain))


def part_at(root: Part, path: tuple[int, ...]) -> Part | None:
    """The part at `path` (from `path_of`) in the tree of `root`, if it is there."""
    part = root
    for index in path:
        if not part.children or index >= len(part.children):
            return None
        part = part.children[index]
    return part
