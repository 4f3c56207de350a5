"""Make an edited message acceptable to WorkMail without changing what it says.

WorkMail rejects an updated message with a line over 998 octets, and real mail
has them: a 1242-character `X-UI-Filterresults`, a 15 kB `DKIM-Signature`, an
HTML attachment sent as one 8bit line. Once a flow changes a message, every
such line has to go, or the whole update is refused and the message arrives
with no warning at all (a sender could add one on purpose). So:

- a header field with an over-long line is folded at whitespace (folding is
  invisible once the field is unfolded); DKIM and ARC signatures, which allow
  folding whitespace inside their tag values, also between those values' characters;
- an unstructured field with no place to fold (Subject, Comments, Keywords, X-*, ...)
  is written again as RFC 2047 encoded words over several lines: it decodes to the
  same text;
- any other field with no place to fold (References, In-Reply-To, List-*, Received,
  ...) is removed and named (`removed`: the flow writes a trace field and reports it),
  except the fields an update may not change and those that describe the MIME
  structure;
- a leaf part with an over-long line is re-encoded, losslessly: quoted-printable
  for text whose line breaks survive it, base64 for everything else. It decodes
  to exactly the bytes it had.

What cannot be made acceptable this way (an immutable field or a Content-* field with
no place to fold, an attached message or an opaque multipart with a long line, a part
whose transfer encoding we cannot decode) is named; the flow then falls back to a
lesser rewrite (the message attached whole) or its fallback action.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mimeops.errors import UndecodableBody
from mimeops.mime import charset, headers, transfer
from mimeops.mime.header_rules import IMMUTABLE, MERGED, structural, unstructured
from mimeops.mime.headers import MAX_LINE, Field, HeaderBlock
from mimeops.mime.model import Part
from mimeops.mime.validate import has_long_line

_WSP = b" \t"
_SIGNATURES = frozenset({"dkim-signature", "arc-message-signature", "arc-seal"})
_UNFOLDABLE = f"a line over {MAX_LINE} octets with no place to fold it"
_SURROGATE = re.compile("[\udc80-\udcff]")


def conform(root: Part, removed: list[str]) -> str | None:
    """Fold, re-encode or remove in place what WorkMail would refuse; why not, when
    impossible. Each field removed is added to `removed` as "<field>: <why>".

    Repeated unique fields are always merged (`merge_repeated`); the line work walks the
    whole message, so callers that already know every line is short can skip it."""
    removed.extend(merge_repeated(root.header))
    for where, part in _walk(root, ""):
        reason = _fold_block(part.header, where, removed)
        if reason:
            return f"{part.ctype} header: {reason}"
        reason = _gaps(part) if part.children else _reencode(part)
        if reason:
            return f"{part.ctype}: {reason}"
    return None


def _walk(part: Part, path: str) -> Iterator[tuple[str, Part]]:
    """Each part with where it is: "" for the message itself, " (part 1.2)" below it."""
    yield (f" (part {path})" if path else ""), part
    for index, child in enumerate(part.children or (), start=1):
        yield from _walk(child, f"{path}.{index}" if path else str(index))


def merge_repeated(block: HeaderBlock) -> list[str]:
    """A unique field the sender repeated (WorkMail refuses it): address lists and
    message-id lists are merged into the first copy, every address kept; of several
    Subjects the first (the one that got the prefix) stays, and the others are returned
    as "<field>: <why>". The immutable fields (`header_rules.IMMUTABLE`) cannot change:
    those stay, and are reported."""
    dropped: list[str] = []
    for key, separator in MERGED.items():
        copies = [f for f in block.fields if f.key == key]
        if len(copies) < 2:
            continue
        first = copies[0]
        raw = first.raw.rstrip(b"\r\n")
        for other in copies[1:]:
            value = other.raw[other.raw.index(b":") + 1 :].strip()
            if separator is None:
                dropped.append(f"{other.name}: repeated; the first is kept")
                continue
            if not value:
                continue
            empty = not raw[raw.index(b":") + 1 :].strip()
            raw += (b"" if empty else separator) + block.eol + b" " + value
        block.fields = [f for f in block.fields if f.key != key or f is first]
        block.set_raw(first, Field(first.name, raw + block.eol))
    return dropped




def _fold_block(block: HeaderBlock, where: str, removed: list[str]) -> str | None:
    for field in list(block.fields):
        if not has_long_line(field.raw):
            continue
        fixed = fold_long(field, block.eol)
        if fixed is None and unstructured(field.key):
            fixed = Field(field.name, headers.encoded(field.name, _text(field), block.eol))
        if fixed is not None:
            block.set_raw(field, fixed)
            continue
        if field.key in IMMUTABLE or structural(field.key) or not field.name:
            return f"field {field.name or '(unnamed)'} has {_UNFOLDABLE}"
        block.fields.remove(field)
        block.dirty = True
        removed.append(f"{field.name}{where}: {_UNFOLDABLE}")
    if block.prefix:
        block.dirty = True
    return None


def _text(field: Field) -> str:
    """The field's decoded value; an 8-bit byte that is no UTF-8 read as windows-1252
    (what clients show), since an encoded word cannot carry a stray byte."""
    return _SURROGATE.sub(
        lambda m: charset.decode_lossless(bytes([ord(m.group()) - 0xDC00]), None)[0],
        field.decoded())


def fold_long(field: Field, eol: bytes) -> Field | None:
    """`field` with every physical line over 998 octets folded; None when impossible."""
    out: list[bytes] = []
    for line in field.raw.splitlines(keepends=True):
        content = line.rstrip(b"\r\n")
        pos = 0
        while len(content) - pos > MAX_LINE:
            # A piece that does not start with whitespace gets a space: one octet less.
            room = MAX_LINE - (0 if pos == 0 or content[pos] in _WSP else 1)
            cut = _fold_point(content, pos, room, field.key)
            if cut is None:
                return None
            out.append((b"" if pos == 0 or content[pos] in _WSP else b" ")
                       + content[pos:cut] + eol)
            pos = cut
        out.append((b"" if pos == 0 or content[pos] in _WSP else b" ") + content[pos:]
                   + line[len(content):])
    return Field(field.name, b"".join(out))


def _fold_point(content: bytes, pos: int, room: int, key: str) -> int | None:
    """Where to end the piece that starts at `pos` so that it fits in `room`: before
    whitespace that has text after it, or (signatures) where RFC 6376 allows FWS."""
    for i in range(pos + room, pos, -1):
        if content[i] in _WSP and content[pos:i].strip() and content[i:].strip():
            return i
    if key not in _SIGNATURES:
        return None
    for i in range(pos + room - 1, pos, -1):
        if content[i - 1 : i] in (b";", b":"):
            return i  # FWS may follow a tag or an h= separator
        tag = content[content.rfind(b";", 0, i) + 1 : i].partition(b"=")
        if tag[1] and tag[0].strip() in (b"b", b"bh") and tag[2].strip():
            return i  # inside a base64 value: FWS is allowed between any two characters
    return None


def _gaps(part: Part) -> str | None:
    """Preamble, delimiters and epilogue are kept as they are: they must already fit."""
    pos = part.body_start
    assert part.children is not None
    for child in part.children:
        if has_long_line(memoryview(part.buf)[pos : child.start]):
            return f"a line over {MAX_LINE} octets in the preamble or a delimiter"
        pos = child.end
    if has_long_line(memoryview(part.buf)[pos : part.end]):
        return f"a line over {MAX_LINE} octets in the epilogue"
    return None


def _reencode(part: Part) -> str | None:
    body = part.body() if part.dirty else memoryview(part.buf)[part.body_start : part.end]
    if not has_long_line(body):
        return None
    cte = part.cte
    if part.maintype in ("message", "multipart"):
        return f"a line over {MAX_LINE} octets inside an entity that cannot be re-encoded"
    if transfer.canonical(cte) is None:  # x-uuencode, binhex, x-*: nothing to decode
        return f"a line over {MAX_LINE} octets in a body encoded as {cte}"
    try:
        data = part.decoded()
    except UndecodableBody as error:
        return str(error)
    eol = part.header.eol
    textual = part.maintype == "text"
    new = "quoted-printable" if textual and transfer.reversible(
        "quoted-printable", data, eol) else "base64"
    part.set_decoded(new, data, eol, textual if new == "quoted-printable" else True)
    part.header.set("Content-Transfer-Encoding", new)
    return None
