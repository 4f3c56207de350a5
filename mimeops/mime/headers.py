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

from mimeops.mime import words

_FIELD_NAME = re.compile(rb"[!-9;-~]+[ \t]*:")
_LINE_BREAKS = re.compile(r"[\r\n]+")
# Fields a message may carry at most once (RFC 5322 section 3.6).
UNIQUE = frozenset(
    {"date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id",
     "in-reply-to", "references", "subject"}
)
FOLD_AT = 78
MAX_LINE = 998


@dataclass(slots=True)
class Field:
    """One header field: `name` as written, `raw` its exact bytes."""

    name: str
    raw: bytes

    @property
    def key(self) -> str:
        return self.name.lower()

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

    __slots__ = ("dirty", "eol", "fields")

    def __init__(self, fields: list[Field], eol: bytes) -> None:
        self.fields = fields
        self.eol = eol
        self.dirty = False

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

    def remove(self, name: str) -> int:
        key = name.lower()
        before = len(self.fields)
        self.fields = [f for f in self.fields if f.key != key]
        removed = before - len(self.fields)
        if removed:
            self.dirty = True
        return removed


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
    """Read the header block at buf[start:end].

    Returns the block, where it ends (the blank separator line starts there) and
    where the body starts. `default_eol` is the style when the block has no
    line break of its own (an enclosing entity's). Like the stdlib parser, a
    line that is neither a field nor a continuation ends the header block,
    with no separator.
    """
    fields: list[Field] = []
    eol: bytes | None = None
    pos = start
    name = ""
    field_start = -1
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        if eol is None and nl >= 0:
            eol = b"\r\n" if nl > start and buf[nl - 1] == 0x0D else b"\n"
        first = buf[pos]
        if first in (0x0D, 0x0A) and buf[pos:line_end].strip(b"\r\n") == b"":
            break  # the blank separator line
        if first in (0x20, 0x09) and field_start >= 0:
            pos = line_end  # a continuation of the current field
            continue
        match = _FIELD_NAME.match(buf, pos, line_end)
        is_unixfrom = pos == start and buf.startswith(b"From ", pos)
        if match is None and not is_unixfrom and first not in (0x20, 0x09):
            if field_start >= 0:
                fields.append(Field(name, buf[field_start:pos]))
            return HeaderBlock(fields, eol or default_eol), pos, pos
        if field_start >= 0:
            fields.append(Field(name, buf[field_start:pos]))
        field_start = pos
        name = "" if match is None else match.group()[:-1].rstrip().decode("latin-1")
        pos = line_end
    if field_start >= 0:
        fields.append(Field(name, buf[field_start:pos]))
    body_start = pos
    if pos < end:
        nl = buf.find(b"\n", pos, end)
        body_start = end if nl < 0 else nl + 1
    return HeaderBlock(fields, eol or default_eol), pos, body_start
