"""Header blocks kept as raw lines, so that untouched fields serialize byte-for-byte.

A field is its exact bytes (name, colon, value, folded continuation lines and
line break). Reading a value unfolds and decodes it; editing replaces or adds
whole fields, written in the block's own line-ending style. Nothing is ever
re-folded or re-encoded unless it is the field being edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from mimeops.mime import words

# Printable ASCII as RFC 5322 says, and 8-bit bytes as real mail has them.
_FIELD_NAME = re.compile(rb"[!-9;-~\x80-\xff]+[ \t]*:")
_LINE_BREAKS = re.compile(r"[\r\n]+")
FOLD_AT = 78
MAX_LINE = 998


@dataclass(slots=True)
class Field:
    """One header field: `name` as written, `raw` its exact bytes."""

    name: str
    raw: bytes
    #: `name` lower-cased, once: every lookup in a block compares it.
    key: str = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = self.name.lower()

    def raw_value(self) -> bytes:
        """The bytes after the colon, line breaks of folding removed."""
        value = self.raw[self.raw.index(b":") + 1 :] if self.name else self.raw
        return value.replace(b"\r\n", b"").replace(b"\n", b"").replace(b"\r", b"")

    def value(self) -> str:
        """Unfolded value as text; 8-bit bytes (RFC 6532) read as UTF-8."""
        return self.raw_value().decode("utf-8", "surrogateescape").strip()

    def decoded(self) -> str:
        """Unfolded value with RFC 2047 encoded words decoded."""
        return words.decode(self.value())


class HeaderBlock:
    """The header fields of one entity, in order, plus line-ending style."""

    __slots__ = ("defect", "dirty", "eol", "fields", "prefix")

    def __init__(self, fields: list[Field], eol: bytes, prefix: bytes = b"") -> None:
        self.fields = fields
        self.eol = eol
        self.dirty = False
        #: Bytes before the first field that are no field (a UTF-8 byte order mark).
        self.prefix = prefix
        #: Why the block cannot be read with certainty (then nothing is rewritten).
        self.defect: str | None = None

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def get(self, name: str) -> str | None:
        key = name.lower()
        for field in self.fields:
            if field.key == key:
                return field.value()
        return None

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [f.value() for f in self.fields if f.key == key]

    def field(self, name: str) -> Field | None:
        key = name.lower()
        return next((f for f in self.fields if f.key == key), None)

    def to_bytes(self) -> bytes:
        return b"".join(f.raw for f in self.fields)

    # -- edits ---------------------------------------------------------------

    def render(self, name: str, value: str) -> Field:
        """A new field in this block's line-ending style, folded, never over 998 octets."""
        return Field(name, fold(name, value, self.eol))

    def set(self, name: str, value: str) -> None:
        """Replace the first field called `name` in place (or append), drop later copies."""
        new = self.render(name, value)
        key = name.lower()
        for i, field in enumerate(self.fields):
            if field.key == key:
                self.fields[i] = new
                self.fields[i + 1 :] = [f for f in self.fields[i + 1 :] if f.key != key]
                self.dirty = True
                return
        self.append(new)

    def set_raw(self, old: Field, new: Field) -> None:
        self.fields[self.fields.index(old)] = new
        self.dirty = True

    def add(self, name: str, value: str) -> None:
        self.append(self.render(name, value))

    def append(self, field: Field) -> None:
        if self.fields and not self.fields[-1].raw.endswith((b"\n", b"\r")):
            last = self.fields[-1]
            self.fields[-1] = Field(last.name, last.raw + self.eol)
        # Append after the last real field: a trailing junk line stays last.
        self.fields.append(field)
        self.dirty = True

    def prepend(self, name: str, text: str) -> None:
        """Put `text` before the value of the first field called `name` (or add the field
        with `text` as its value), keeping that value's bytes as they were: its encoded
        words, folding and 8-bit text. `text` is RFC 2047-encoded when not ASCII, and the
        line is folded after it when the first line would pass 78 columns."""
        field = self.field(name)
        if field is None:
            self.add(name, text)
            return
        self.set_raw(field, _prefixed(field, text, self.eol))

    def remove(self, name: str) -> int:
        key = name.lower()
        before = len(self.fields)
        self.fields = [f for f in self.fields if f.key != key]
        removed = before - len(self.fields)
        if removed:
            self.dirty = True
        return removed


def _prefixed(field: Field, text: str, eol: bytes) -> Field:
    colon = field.raw.index(b":")
    name = field.raw[:colon]
    # Leading whitespace and folding before the first word carry no meaning.
    value = field.raw[colon + 1 :].lstrip(b" \t\r\n")
    encoded_next = value.startswith(b"=?")
    if text.isascii():
        head, separator = text.encode("ascii"), b" "
    elif encoded_next:
        # Whitespace between two encoded words is dropped: keep the space inside.
        head, separator = " ".join(words.encode(text + " ")).encode("ascii"), b""
    else:
        head, separator = " ".join(words.encode(text)).encode("ascii"), b" "
    if not value:
        return Field(field.name, name + b": " + head + eol)
    first_line = len(name) + 2 + len(head) + 1 + len(value.split(b"\n", 1)[0].rstrip())
    joint = eol + b" " if first_line > FOLD_AT else separator
    return Field(field.name, name + b": " + head + joint + value)


def clean(value: str) -> str:
    """A header value from untrusted text: CR/LF can never start a new field."""
    return _LINE_BREAKS.sub(" ", value).strip()


def fold(name: str, value: str, eol: bytes) -> bytes:
    """`Name: value` + eol, RFC 2047-encoded when not ASCII, folded at whitespace.

    Lines stay within 78 columns where words allow and never pass 998 octets:
    an over-long ASCII run is carried in encoded words, which may be split.
    """
    value = clean(value)
    tokens = value.split(" ") if value else []
    if not value.isascii() or any(len(t) > MAX_LINE - len(name) - 4 for t in tokens):
        tokens = words.encode(value)
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > FOLD_AT and line.strip() and line != f"{name}:":
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    return eol.join(x.encode("ascii") for x in lines) + eol


def parse(
    buf: bytes, start: int, end: int, default_eol: bytes = b"\r\n"
) -> tuple[HeaderBlock, int, int]:
    """Read the header block at buf[start:end], as tolerant MTAs do.

    Returns the block, where it ends (the blank separator line starts there) and
    where the body starts. `default_eol` is the style when the block has no
    line break of its own (an enclosing entity's).

    A UTF-8 byte order mark before the first field is kept aside (`prefix`) and
    dropped when the block is rewritten. A field name may be non-ASCII and its
    colon may follow on an indented continuation line (`From\n : x`). A line
    that is neither a field nor an indented continuation is read as an
    unindented continuation of the field before it when more fields follow it
    before the blank line, so a sloppy `Received:` never cuts the block short.
    Only when no field follows does such a line start the body, with no
    separator (a message that has no blank line after its header). When junk
    lines inside the block outnumber the fields around them, or no blank line
    ends the block, the block is ambiguous: `defect` says so and a flow leaves
    the message unchanged.
    """
    prefix = b""
    pos = start
    if buf.startswith(_BOM, pos, end):
        prefix, pos = _BOM, pos + len(_BOM)
    eol: bytes | None = None
    # Physical lines up to the blank separator line: (start, end, kind).
    lines: list[tuple[int, int, int]] = []
    separator = -1
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        if eol is None and nl >= 0:
            eol = b"\r\n" if nl > start and buf[nl - 1] == 0x0D else b"\n"
        first = buf[pos]
        if first in (0x0D, 0x0A) and not buf[pos:line_end].strip(b"\r\n"):
            separator = pos
            break
        if first in (0x20, 0x09):
            kind = _CONT
        elif _FIELD_NAME.match(buf, pos, line_end) or (
                not lines and buf.startswith(b"From ", pos, line_end)):
            kind = _FIELD
        else:
            kind = _JUNK
        lines.append((pos, line_end, kind))
        pos = line_end
    _colon_on_next_line(buf, lines)
    last_field = max((i for i, (_, _, k) in enumerate(lines) if k == _FIELD), default=-1)
    # Junk after the last field starts the body (no separator); junk before it is inside.
    inside = lines[: last_field + 1]
    while last_field + 1 < len(lines) and lines[last_field + 1][2] == _CONT:
        last_field += 1
        inside.append(lines[last_field])
    fields: list[Field] = []
    junk = 0
    for line_start, line_end, kind in inside:
        if kind == _FIELD or not fields:
            match = _FIELD_NAME.match(buf, line_start, line_end) if kind == _FIELD else None
            if kind == _FIELD and match is None:  # the colon is on a continuation line
                match = _FIELD_NAME.match(_unfolded_head(buf, line_start, line_end, end))
            name = "" if match is None else \
                match.group()[:-1].rstrip().decode("utf-8", "surrogateescape")
            fields.append(Field(name, buf[line_start:line_end]))
            junk += kind == _JUNK
            continue
        junk += kind == _JUNK
        last = fields[-1]
        fields[-1] = Field(last.name, last.raw + buf[line_start:line_end])
    block = HeaderBlock(fields, eol or default_eol, prefix)
    leading = bool(inside) and inside[0][2] == _JUNK  # text before the first field
    if junk and (leading or junk * 2 > len(fields)
                 or (separator < 0 and len(inside) < len(lines))):
        block.defect = "malformed-header"
    if len(inside) < len(lines):
        body_start = lines[len(inside)][0]
        return block, body_start, body_start
    header_end = pos
    body_start = pos
    if pos < end:
        nl = buf.find(b"\n", pos, end)
        body_start = end if nl < 0 else nl + 1
    return block, header_end, body_start


_FIELD, _CONT, _JUNK = 0, 1, 2
_BOM = b"\xef\xbb\xbf"


def _unfolded_head(buf: bytes, start: int, line_end: int, end: int) -> bytes:
    """The start of the logical line at `start`: its first line plus indented ones."""
    out = buf[start:line_end]
    pos = line_end
    while pos < end and buf[pos] in (0x20, 0x09) and len(out) < 2000:
        nl = buf.find(b"\n", pos, end)
        nxt = end if nl < 0 else nl + 1
        out += buf[pos:nxt]
        pos = nxt
    return out.replace(b"\r", b"").replace(b"\n", b"")


def _colon_on_next_line(buf: bytes, lines: list[tuple[int, int, int]]) -> None:
    """`From` + an indented ` : x`: a field whose colon was folded (obsolete syntax)."""
    for i, (line_start, line_end, kind) in enumerate(lines):
        if kind != _JUNK or i + 1 >= len(lines) or lines[i + 1][2] != _CONT:
            continue
        if _FIELD_NAME.match(_unfolded_head(buf, line_start, line_end, lines[-1][1])):
            lines[i] = (line_start, line_end, _FIELD)
