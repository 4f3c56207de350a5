"""`mail.headers`: the message's top-level header fields, read decoded, edited in place."""

from __future__ import annotations

from mimeops.mime import header_rules
from mimeops.mime.headers import HeaderBlock, clean


class Headers:
    """The top-level header of the message in transit.

    Reading unfolds and RFC 2047-decodes a value. An edit writes only the field it
    touches (folded, RFC 2047-encoded when not ASCII, in the message's own line
    breaks); every other field keeps its bytes. Line breaks in a value become spaces:
    a value can never start a new field. An edit WorkMail would refuse (an immutable
    field such as From, Date, Message-ID, Sender or Return-Path; a second copy of a
    field that may appear once; the MIME structure's Content-* fields; mimeops' own
    marker) raises ValueError naming the field: the engine's one list of these rules is
    `mimeops.mime.header_rules`.
    """

    __slots__ = ("_block",)

    def __init__(self, block: HeaderBlock) -> None:
        self._block = block

    def get(self, name: str) -> str | None:
        """The first field called `name` (any case), unfolded and decoded; None if absent."""
        field = self._block.field(name)
        return field.decoded() if field is not None else None

    def get_all(self, name: str) -> list[str]:
        """Every field called `name`, in order, unfolded and decoded."""
        key = name.lower()
        return [field.decoded() for field in self._block if field.key == key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._block.field(name) is not None

    def names(self) -> list[str]:
        """The names of the fields, in order, as written (repeated names repeat)."""
        return [field.name for field in self._block if field.name]

    def add(self, name: str, value: str) -> None:
        """Add a field after the others (another copy when one exists)."""
        _check(name, "add")
        self._block.add(name, clean(value))

    def set(self, name: str, value: str) -> bool:
        """Give the field this value: the first copy is replaced in place and later copies
        removed, or the field is added. False (nothing written) when it already is so."""
        _check(name, "set")
        value = clean(value)
        if self.get_all(name) == [value]:
            return False
        self._block.set(name, value)
        return True

    def prefix(self, name: str, text: str) -> bool:
        """Put `text` and a space before the field's value, keeping the value's own bytes
        (encoded words, folding) as they were; add the field when absent. False when
        `text` is empty."""
        _check(name, "set")
        text = clean(text)
        if not text:
            return False
        self._block.prepend(name, text)
        return True

    def remove(self, name: str) -> int:
        """Remove every field called `name`; how many there were."""
        _check(name, "remove")
        return self._block.remove(name)


def _check(name: str, verb: str) -> None:
    problem = header_rules.refusal(name, verb)
    if problem is not None:
        raise ValueError(f"mail.headers.{verb}: {problem}")
