"""Byte-preserving MIME: parse, edit surgically, serialize untouched bytes as they were."""

from __future__ import annotations

import re

from mimeops.mime import display, select, wrap
from mimeops.mime.model import Part, Verbatim, parse, render

# Control bytes no header block has (ESC is allowed: raw ISO-2022-JP headers exist).
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


class Message:
    """A whole message: its part tree and the input it came from.

    `to_bytes()` returns the input object itself when nothing was edited.
    """

    __slots__ = ("_selected", "_unconfined", "bare", "front", "raw", "root")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.root = parse(raw)
        #: "<content-type>: <reason>" for each shown body a banner/footer could not enter.
        self.bare: list[str] = []
        #: The text part put in front of everything a client shows (`fronted`), where
        #: the banner goes first; None when there is none.
        self.front: Part | None = None
        # select.selection per `skip` part: edits change bodies and header fields,
        # never which parts there are or their types, so one walk serves the message.
        self._selected: dict[int, tuple[dict[str, Part], list[tuple[Part, str]]]] = {}
        self._unconfined: list[str] | None = None  # the same holds for `unconfined`

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

    def _selection(self, skip: Part | None = None) -> tuple[dict[str, Part],
                                                           list[tuple[Part, str]]]:
        found = self._selected.get(id(skip))
        if found is None:
            found = self._selected[id(skip)] = select.selection(self.root, skip)
        return found

    def bodies(self) -> dict[str, Part]:
        """The main `plain` and `html` parts a client shows (`select.bodies`)."""
        return dict(self._selection()[0])

    def sender_bodies(self) -> dict[str, Part]:
        """The bodies the sender wrote: `bodies()` past the part in `front`."""
        return dict(self._selection(self.front)[0])

    def shown_before_body(self) -> Part | None:
        """What a client that shows every inline part shows before the first body the
        banner enters (`mimeops.mime.display`), or None."""
        return display.shown_before(self.root, self.bodies().values())

    def shown_html(self) -> list[Part]:
        """Every HTML part a client that shows every inline part may show."""
        return display.shown_html(self.root)

    def unconfined(self) -> list[str]:
        """"<content-type>: <why>" for each part Thunderbird renders as HTML in the page
        the banner is in that the guard cannot confine (`mimeops.mime.display`): an
        attached message with HTML, an attachment it reads as HTML."""
        if self._unconfined is None:
            self._unconfined = [f"{part.ctype}: {why}"
                                for part, why in display.unconfined(self.root)]
        return list(self._unconfined)

    def fronted(self) -> Message:
        """This message (as edited so far) with an empty text part in front of
        everything a client shows (`mimeops.mime.wrap.front`), that part its `front`."""
        current = self.reread()
        message = Message(wrap.front(current.raw, current.root))
        message.front = message.root.children[0] if message.root.children else None
        return message

    def fronted_before(self, paths: list[tuple[int, ...]]) -> Message:
        """This message (as edited so far) with an empty text part right before each part
        at `paths` (`mimeops.mime.wrap.path_of` in this tree: bodies a banner cannot
        enter), keeping the part in `front`, if any."""
        current = self.reread()
        targets = [part for path in paths if (part := wrap.part_at(current.root, path))]
        message = Message(wrap.front_before(current.raw, current.root, targets))
        if self.front is not None and message.root.children:
            message.front = message.root.children[0]  # it stays the first child
        return message

    def reread(self) -> Message:
        """This message with the edits made so far (`marker.verified` removes forged
        markers) read again, so that its tree describes its bytes."""
        return Message(self.to_bytes()) if self.changed else self

    def unreachable(self) -> list[str]:
        """"<content-type>: <reason>" for each multipart on the way to the shown body
        whose parts cannot be read."""
        return [why for _, why in self._selection()[1]]

    def bare_parts(self) -> list[Part]:
        """The parts `bare` names: the bodies a transform could not enter, the multiparts
        that hide a body, or the message itself when it shows no text at all (not the
        `unconfined` parts it may name: no part in front helps against those)."""
        exposed = set(self.unconfined()) if self.bare else set()
        entries = [entry for entry in self.bare if entry not in exposed]
        return select.bare_parts(self.root, entries, skip=self.front)

    def hands_off(self, reports: bool = True) -> str | None:
        return select.hands_off(self.root, reports, self._selection()[0])


__all__ = ["Message", "Part"]
