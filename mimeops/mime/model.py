"""The part tree: raw bytes split into entities that remember their exact spans.

A multipart body is kept as `gap, child, gap, child, ..., gap`, where the gaps
are the raw bytes between children: preamble, delimiter lines (with the line
break before each delimiter, which RFC 2046 says belongs to it, and any
transport padding), the close delimiter and the epilogue. Serializing an
unmodified tree therefore returns the input bytes exactly, malformed input
included; an edited tree re-emits only the edited headers and bodies, and
slices of the original buffer for everything else.

Splitting costs one `bytes.find` pass per multipart level over that level's
body; nesting is capped at `MAX_DEPTH` (deeper multiparts stay opaque), so
the whole parse is linear in the message size.

Checking an edited message means parsing its output again. `render` also
returns the output spans it copied from parts the first parse already split
(`Verbatim`): a second parse given them does not search those bytes again for
a delimiter the first parse proved absent there, so re-reading a 25 MiB
message whose attachments are untouched costs its new bytes, not 25 MiB.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import NamedTuple

from mimeops.mime import headers, params, transfer

MAX_DEPTH = 64
_CR, _LF, _SP, _TAB = 0x0D, 0x0A, 0x20, 0x09
_WINDOW = 1 << 16  # octets searched for a delimiter from each "-" (see `_find`)


class Verbatim(NamedTuple):
    """An output span `[start, end)` that holds the bytes of one part of the input, in
    the same surroundings, and in which the input's parse found no delimiter line of
    any boundary in `delimiters` (those of the multiparts around that part)."""

    start: int
    end: int
    delimiters: frozenset[bytes]


class Part:
    """One MIME entity: its header block, body span and (multipart) children."""

    __slots__ = (
        "_body",
        "_decoded",
        "_disposition",
        "_original",
        "body_start",
        "buf",
        "children",
        "ctype",
        "depth",
        "end",
        "header",
        "header_end",
        "params",
        "start",
    )

    def __init__(
        self, buf: bytes, start: int, end: int, depth: int, default_type: str,
        eol: bytes = b"\r\n", known: list[Verbatim] | None = None,
    ) -> None:
        self.buf = buf
        self.start = start
        self.end = end
        self.depth = depth
        self.header, self.header_end, self.body_start = headers.parse(buf, start, end, eol)
        ctype, self.params = params.parse(self.header.get("content-type"))
        self.ctype = ctype if "/" in ctype else default_type
        self.children: list[Part] | None = None
        self._body: bytes | None = None
        # An edited body kept decoded: (cte, bytes, eol, text), encoded when first needed.
        self._decoded: tuple[str, bytes, bytes, bool] | None = None
        self._original: tuple[str, bytes] | None = None  # (cte, the unedited body decoded)
        # Content-Disposition, parsed on first use: no edit changes it (header_rules
        # refuses edits of Content-* fields; the engine rewrites only Content-Type's
        # charset and the transfer encoding).
        self._disposition: tuple[str, dict[str, str]] | None = None
        if self.maintype == "multipart" and depth < MAX_DEPTH:
            self.children = _split(self, known or [])

    # -- reading -----------------------------------------------------------

    @property
    def maintype(self) -> str:
        return self.ctype.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.ctype.partition("/")[2]

    @property
    def charset_label(self) -> str | None:
        return self.params.get("charset")

    @property
    def cte(self) -> str:
        """Content-Transfer-Encoding, lower-cased; 7bit when absent."""
        value = self.header.get("content-transfer-encoding")
        return value.strip().lower() if value else "7bit"

    @property
    def disposition(self) -> tuple[str, dict[str, str]]:
        """Content-Disposition: its value and parameters (lower-cased names)."""
        if self._disposition is None:
            self._disposition = params.parse(self.header.get("content-disposition"))
        return self._disposition

    @property
    def filename(self) -> str | None:
        return self.disposition[1].get("filename") or self.params.get("name")

    @property
    def is_attachment(self) -> bool:
        """What a mail client lists as an attachment rather than shows as the body."""
        kind = self.disposition[0]
        if kind == "attachment":
            return True
        return kind != "inline" and self.filename is not None

    def body(self) -> bytes:
        """The body as transferred (still encoded), after any edit."""
        if self._body is None and self._decoded is not None:
            self._body = self._requoted() or transfer.encode_as(*self._decoded)
        return self._body if self._body is not None else self.buf[self.body_start : self.end]

    def _requoted(self) -> bytes | None:
        """A quoted-printable text edit, encoded again only where it changed."""
        assert self._decoded is not None
        cte, data, eol, text = self._decoded
        if cte != "quoted-printable" or not text or self._original is None \
                or transfer.canonical(self._original[0]) != cte:
            return None
        return transfer.requote(self.buf[self.body_start : self.end], self._original[1],
                                data, eol)

    def decoded(self) -> bytes:
        """The body decoded from its Content-Transfer-Encoding, after any edit.

        Raises UndecodableBody when it does not decode.
        """
        cte = self.cte
        if self._decoded is not None and self._decoded[0] == cte:
            return self._decoded[1]
        if self._body is not None or self._decoded is not None:
            return transfer.decode(cte, self.body())
        # Unedited: decoded once, for the checks before an edit and the edit itself.
        if self._original is None or self._original[0] != cte:
            self._original = (cte, transfer.decode(cte, self.body()))
        return self._original[1]

    def walk(self) -> list[Part]:
        """This part and every part below it, depth first (not into attached messages)."""
        out = [self]
        for child in self.children or ():
            out.extend(child.walk())
        return out

    # -- editing ---------------------------------------------------------------

    def set_body(self, body: bytes) -> None:
        self._body = body
        self._decoded = None

    def set_decoded(self, cte: str, data: bytes, eol: bytes, text: bool = True) -> None:
        """Replace the body with `data` encoded as `cte`; the encoding happens when the
        body is first needed, so edits in a row decode and encode it only once.

        Only for data that `transfer.reversible` accepts: `decoded()` returns `data`.
        """
        self._body = None
        self._decoded = (cte, data, eol, text)

    @property
    def dirty(self) -> bool:
        if self.header.dirty or self._body is not None or self._decoded is not None:
            return True
        return any(child.dirty for child in self.children or ())

    def write(
        self, out: list[bytes | memoryview],
        copied: list[tuple[memoryview, Part, frozenset[bytes]]] | None = None,
        around: frozenset[bytes] = frozenset(),
    ) -> None:
        """Append this part's bytes to `out`: original slices where untouched.

        Each untouched part is noted in `copied` as (its chunk, the part, the delimiters
        of the multiparts around it), for `render`.
        """
        view = memoryview(self.buf)
        if not self.dirty:
            chunk = view[self.start : self.end]
            if copied is not None:
                copied.append((chunk, self, around))
            out.append(chunk)
            return
        body: list[bytes | memoryview] = []
        if self._body is not None or self._decoded is not None:
            body.append(self.body())
        elif self.children:
            pos = self.body_start
            inside = around | {_delimiter(self)}
            for child in self.children:
                body.append(view[pos : child.start])
                before = len(body)
                child.write(body, copied, inside)
                pos = child.end
                grew = any(len(chunk) for chunk in body[before:])
                if child.start == child.end and grew and pos < self.end:
                    # A part that was empty now has content: it needs the line break
                    # that a delimiter takes as its own (RFC 2046).
                    body.append(self.header.eol)
            body.append(view[pos : self.end])
        else:
            body.append(view[self.body_start : self.end])
        head: bytes | memoryview = (
            self.header.to_bytes() if self.header.dirty or self.header.prefix
            else view[self.start : self.header_end]
        )
        separator: bytes | memoryview = view[self.header_end : self.body_start]
        if bytes(separator[-1:]) != b"\n" and any(len(chunk) for chunk in body):
            # An entity that had no blank line after its header (or only a lone CR that
            # ended the input) gets a whole one before a body: else the body's first line
            # would read back as part of the header.
            eol = self.header.eol
            if len(head) and bytes(head[-1:]) != b"\n":
                head = bytes(head) + eol
            separator = eol
        out.append(head)
        out.append(separator)
        out.extend(body)

    def to_bytes(self) -> bytes:
        if not self.dirty:
            return self.buf[self.start : self.end]
        out: list[bytes | memoryview] = []
        self.write(out)
        return b"".join(out)


def render(root: Part) -> tuple[bytes, list[Verbatim]]:
    """`root.to_bytes()`, and the spans of it copied from untouched parts (for `parse`)."""
    if not root.dirty:
        return root.buf[root.start : root.end], []
    out: list[bytes | memoryview] = []
    copied: list[tuple[memoryview, Part, frozenset[bytes]]] = []
    root.write(out, copied)
    offsets: dict[int, int] = {}
    total = 0
    for chunk in out:
        offsets[id(chunk)] = total
        total += len(chunk)
    known: list[Verbatim] = []
    for chunk, part, around in copied:
        _note(part, offsets[id(chunk)] - part.start, around, known)
    known.sort(key=lambda span: (span.start, -span.end))
    return b"".join(out), known


def _note(part: Part, shift: int, around: frozenset[bytes], known: list[Verbatim]) -> None:
    """`part` and every part below it, as copied to `shift` octets from where they were."""
    if around:
        known.append(Verbatim(part.start + shift, part.end + shift, around))
    if part.children:
        inside = around | {_delimiter(part)}
        for child in part.children:
            _note(child, shift, inside, known)


def parse(raw: bytes, known: list[Verbatim] | None = None) -> Part:
    """The part tree of a whole message.

    `known` (from `render`, sorted) names spans of `raw` that need no search for these
    delimiters; with or without it the tree is the same.
    """
    return Part(raw, 0, len(raw), 0, "text/plain", known=known)


def _start(span: Verbatim) -> int:
    return span.start


def _delimiter(part: Part) -> bytes:
    return b"--" + part.params.get("boundary", "").encode("utf-8", "surrogateescape")


def _find(buf: bytes, delimiter: bytes, pos: int, end: int) -> int:
    """`buf.find(delimiter, pos, end)`, sooner: a delimiter starts with "-", and
    `find(b"-")` is memchr, about 5x faster over 25 MiB than a substring search (and
    base64, most of a large message, has no "-"). The substring search runs only in
    windows that start at a "-", so text full of dashes costs what it did."""
    window = max(_WINDOW, 4 * len(delimiter))
    while True:
        dash = buf.find(b"-", pos, end)
        if dash < 0:
            return -1
        stop = min(end, dash + window)
        found = buf.find(delimiter, dash, stop)
        if found >= 0 or stop == end:
            return found
        pos = stop - len(delimiter) + 1


def _split(part: Part, known: list[Verbatim]) -> list[Part] | None:
    """Children of a multipart, or None when no delimiter line is found."""
    if not part.params.get("boundary"):
        return None
    buf, first, end = part.buf, part.body_start, part.end
    delimiter = _delimiter(part)
    # Spans proved free of this delimiter, in order; `pos` only grows, so one pass.
    skips = [span for span in known[bisect_left(known, first, key=_start) :]
             if span.start < end and delimiter in span.delimiters]
    skip = 0
    spans: list[tuple[int, int]] = []
    child_start = -1
    pos = first
    while True:
        i = -1
        while skip < len(skips):
            span = skips[skip]
            if span.end <= pos:
                skip += 1
                continue
            if span.start > pos:
                # A delimiter that starts before the span (and may run into it).
                i = _find(buf, delimiter, pos, min(end, span.start - 1 + len(delimiter)))
                if i >= 0:
                    break
            pos = max(pos, span.end)
            skip += 1
        if i < 0:
            i = _find(buf, delimiter, pos, end)
        if i < 0:
            break
        pos = i + 1
        if i != first and buf[i - 1] != _LF:
            continue  # not at the start of a line
        k = i + len(delimiter)
        close = buf.startswith(b"--", k, end)
        if close:
            k += 2
        while k < end and buf[k] in (_SP, _TAB):
            k += 1  # transport padding
        if k < end and buf[k] not in (_CR, _LF):
            continue  # a longer boundary, not ours
        if k < end and buf[k] == _CR and k + 1 < end and buf[k + 1] == _LF:
            line_end = k + 2
        else:
            line_end = min(k + 1, end)
        if child_start >= 0:
            # The line break before the delimiter belongs to the delimiter.
            cut = i - 1 if i > first and buf[i - 1] == _LF else i
            if cut > first and buf[cut - 1] == _CR and buf[cut] == _LF:
                cut -= 1
            spans.append((child_start, max(cut, child_start)))
        if close:
            child_start = -1
            break
        child_start = pos = line_end
    if 0 <= child_start < end:
        spans.append((child_start, end))  # no close delimiter: the last part runs to the end
    # A delimiter line that ends the input is taken as the close delimiter: the
    # empty "part" after it is nothing a client shows, and text written into it
    # would land on the delimiter line.
    if not spans:
        return None
    default = "message/rfc822" if part.subtype == "digest" else "text/plain"
    eol = part.header.eol
    return [Part(buf, s, e, part.depth + 1, default, eol, known) for s, e in spans]
