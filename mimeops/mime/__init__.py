"""Byte-preserving MIME: parse, edit surgically, serialize untouched bytes as they were."""

from __future__ import annotations

import re

from mimeops.mime import select
from mimeops.mime.model import Part, Verbatim, parse, render

# Control bytes no header block has (ESC is allowed: raw ISO-2022-JP headers exist).
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


class Message:
    """A whole message: its part tree and the input it came from.

    `to_bytes()` returns the input object itself when nothing was edited.
    """

    __slots__ = ("bare", "raw", "root")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.root = parse(raw)
        #: "<content-type>: <reason>" for each shown body a banner/footer could not enter.
        self.bare: list[str] = []

    def unreadable(self) -> str | None:
        """"not-a-message" (empty, binary, no header block), "malformed-header" (a
        header block that cannot be read with certainty), or None.

        Binary means control bytes in the first line, where every message has a
        header field; a stray control byte further down a real header is tolerated."""
        header = self.root.header
        first_line = self.raw.find(b"\n", 0, self.root.header_end)
        if not any(field.name for field in header) or _BINARY.search(
                self.raw, 0, self.root.header_end if first_line < 0 else first_line):
            return "not-a-message"
        if any(part.header.defect for part in self.root.walk()):
            return "malformed-header"
        return None

    @property
    def changed(self) -> bool:
        return self.root.dirty

    def to_bytes(self) -> bytes:
        return self.root.to_bytes() if self.changed else self.raw

    def render(self) -> tuple[bytes, list[Verbatim]]:
        """`to_bytes()`, and the spans of it copied from untouched parts: a check that
        parses the output again need not search those (`validate.structure_reason`)."""
        return render(self.root) if self.changed else (self.raw, [])

    def bodies(self) -> dict[str, Part]:
        return select.bodies(self.root)

    def unreachable(self) -> list[str]:
        """"<content-type>: <reason>" for each multipart on the way to the shown body
        whose parts cannot be read."""
        return [why for _, why in select.unreachable(self.root)]

    def bare_parts(self) -> list[Part]:
        """The parts `bare` names: the bodies a transform could not enter, the multiparts
        that hide a body, or the message itself when it shows no text at all."""
        return select.bare_parts(self.root, self.bare)

    def hands_off(self, reports: bool = True) -> str | None:
        return select.hands_off(self.root, reports)


__all__ = ["Message", "Part"]
