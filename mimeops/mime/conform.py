"""Make an edited message acceptable to WorkMail without changing what it says.

WorkMail rejects an updated message with a line over 998 octets, and real mail
has them: a 1242-character `X-UI-Filterresults`, a 15 kB `DKIM-Signature`, an
HTML attachment sent as one 8bit line. Once a flow changes a message, every
such line has to go, or the whole update is refused and the message arrives
with no warning at all (a sender could add one on purpose). So:

- a header field with an over-long line is folded at whitespace (folding is
  invisible once the field is unfolded); DKIM and ARC signatures, which allow
  folding whitespace inside their tag values, also between those values' characters;
- a leaf part with an over-long line is re-encoded, losslessly: quoted-printable
  for text whose line breaks survive it, base64 for everything else. It decodes
  to exactly the bytes it had.

What cannot be made acceptable this way (an attached message or an opaque
multipart with a long line, a field with no place to fold, a part whose
transfer encoding we cannot decode) is named, and the flow then delivers the
message unchanged.
"""

from __future__ import annotations

from mimeops.errors import UndecodableBody
from mimeops.mime import transfer
from mimeops.mime.header_rules import MERGED
from mimeops.mime.headers import MAX_LINE, Field, HeaderBlock
from mimeops.mime.model import Part
from mimeops.mime.validate import has_long_line

_WSP = b" \t"
_SIGNATURES = frozenset({"dkim-signature", "arc-message-signature", "arc-seal"})


def conform(root: Part) -> str | None:
    """Fold and re-encode in place what WorkMail would refuse; why not, when impossible.

    Repeated unique fields are always merged (`merge_repeated`); the line work walks the
    whole message, so callers that already know every line is short can skip it."""
    merge_repeated(root.header)
    for part in root.walk():
        reason = _fold_block(part.header)
        if reason:
            return f"{part.ctype} header: {reason}"
        reason = _gaps(part) if part.children else _reencode(part)
        if reason:
            return f"{part.ctype}: {reason}"
    return None


def merge_repeated(block: HeaderBlock) -> None:
    """A unique field the sender repeated (WorkMail refuses it): address lists and
    message-id lists are merged into the first copy, every address kept; of several
    Subjects the first (the one that got the prefix) stays. The immutable fields
    (`header_rules.IMMUTABLE`) cannot change: those stay, and are reported."""
    for key, separator in MERGED.items():
        copies = [f for f in block.fields if f.key == key]
        if len(copies) < 2:
            continue
        first = copies[0]
        raw = first.raw.rstrip(b"\r\n")
        for other in copies[1:]:
            value = other.raw[other.raw.index(b":") + 1 :].strip()
            if not value or separator is None:
                continue
            empty = not raw[raw.index(b":") + 1 :].strip()
            raw += (b"" if empty or separator is None else separator) + block.eol + b" " + value
        block.fields = [f for f in block.fields if f.key != key or f is first]
        block.set_raw(first, Field(first.name, raw + block.eol))




def _fold_block(block: HeaderBlock) -> str | None:
    for field in list(block.fields):
        if not has_long_line(field.raw):
            continue
        folded = fold_long(field, block.eol)
        if folded is None:
            return f"field {field.name or '(unnamed)'} has a line over {MAX_LINE} octets " \
                "with no place to fold it"
        block.set_raw(field, folded)
    if block.prefix:
        block.dirty = True
    return None


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
