"""Byte-preserving MIME: parse, edit surgically, serialize untouched bytes as they were."""

from __future__ import annotations

from mimeops.mime import select
from mimeops.mime.model import Part, parse


class Message:
    """A whole message: its part tree and the input it came from.

    `to_bytes()` returns the input object itself when nothing was edited.
    """

    __slots__ = ("raw", "root")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.root = parse(raw)

    @property
    def changed(self) -> bool:
        return self.root.dirty

    def to_bytes(self) -> bytes:
        return self.root.to_bytes() if self.changed else self.raw

    def bodies(self) -> dict[str, Part]:
        return select.bodies(self.root)

    def hands_off(self) -> str | None:
        return select.hands_off(self.root)


__all__ = ["Message", "Part"]
