"""The rules WorkMail applies to the MIME of a PutRawMessageContent, in one place.

WorkMail answers ``MessageRejected`` when an updated message breaks one of the
rules listed in the API reference (RawMessageContent): a line over 1000
octets with its CRLF, a unique header field repeated, an immutable header
changed, malformed parts. The flow checks its output with `rejection_reason`
before it reports a change, the Lambda handler checks again right before the
Put, and the WorkMail emulator answers MessageRejected from the same function,
so a rule can never be enforced in one place and forgotten in another.

The list of immutable headers is not published; the ones a rewrite must never
touch are the engine's one list, `mimeops.mime.header_rules`. Header blocks are read with
the engine's tolerant parser, the way the message is rewritten. A structural
defect the original already had (a multipart without its boundary) is not the
update's doing and is not held against it; a forwarded message's own defects
(inside ``message/*``) are not inspected.
"""

from __future__ import annotations

from collections import Counter

from mimeops.mime import header_rules, headers
from mimeops.mime.line_breaks import crlf
from mimeops.mime.model import MAX_DEPTH, Part, Verbatim, parse

MAX_LINE_OCTETS = 998
"""RFC 5321/5322 limit: 1000 octets per line including CRLF."""

UNIQUE_HEADERS = header_rules.UNIQUE_NAMES
IMMUTABLE_HEADERS = header_rules.IMMUTABLE_NAMES

# Lines checked per strided slice in `long_line`: from 8, doubling while they hold.
_PROBE, _PROBE_MAX = 8, 4096
_NEWLINES = b"\n" * _PROBE_MAX



def rejection_reason(original: bytes, updated: bytes) -> str | None:
    """Why WorkMail would reject ``updated`` as the new content of ``original``.

    Returns ``None`` when the update is acceptable. The checks run cheapest first
    and the first failure wins, as one error message names one problem.
    """
    if not updated or updated.isspace():
        return "the message is empty"
    return long_line(updated) or structure_reason(original, updated)


def structure_reason(
    original: bytes, updated: bytes, known: list[Verbatim] | None = None,
) -> str | None:
    """`rejection_reason` without the line-length pass, for a caller that has just made
    that pass itself: header block, unique and immutable fields, well-formed parts.

    `updated` is parsed again from its bytes; `known` (from `model.render`) spares that
    parse the search of untouched parts the first parse already searched.
    """
    original = crlf(original)
    new = parse(updated, known)
    if not any(field.name for field in new.header):
        return "the message has no header fields (no header block before the body)"
    reason = _duplicated_unique_header(new)
    if reason:
        return reason
    old_header, _, _ = headers.parse(original, 0, len(original))
    reason = _changed_immutable_header(old_header, new.header)
    if reason:
        return reason
    found = defects(new)
    before = Counter(defects(parse(original))) if found and original != updated else Counter()
    for defect in found:
        if before[defect] > 0:
            before[defect] -= 1
            continue
        return defect
    return None


def has_long_line(data: bytes | memoryview) -> bool:
    """True when a line (line break not counted) passes 998 octets."""
    return long_line(bytes(data) if isinstance(data, memoryview) else data) is not None


def long_line(raw: bytes) -> str | None:
    """The first line over 998 octets (line break not counted), described; or None.

    Every line of the message is read, so this is on the hot path of every update.
    From the start of a line, the last line break within the next 999 octets (one
    `rfind`, memrchr in C) proves every line up to it short. When the line that
    ends there is as long as the lines after it (base64, fixed-width text), their
    line breaks sit every `width` octets: one strided slice compared with a run of
    line breaks proves up to 4096 lines at once, so a 25 MiB message of attachments
    costs about 2 ms (the memory read) instead of 28,000 `rfind` calls.
    """
    find, rfind, end, limit = raw.find, raw.rfind, len(raw), MAX_LINE_OCTETS
    start = 0  # the start of a line
    probe = _PROBE
    while end - start > limit:
        newline = rfind(b"\n", start, start + limit + 1)
        if newline != -1:
            width = newline - max(rfind(b"\n", start, newline), start - 1)
            lands = raw[newline + width : newline + width * probe + 1 : width]
            if lands and lands == _NEWLINES[: len(lands)]:
                start = newline + 1 + len(lands) * width
                probe = min(probe * 2, _PROBE_MAX)
            else:
                start = newline + 1 + (len(lands) - len(lands.lstrip(b"\n"))) * width
                probe = _PROBE
            continue
        # No line break in the next 999 octets: a long line, unless its 999th octet is
        # the CR of a CRLF (998 octets plus CRLF is the limit exactly).
        stop = start + limit + 1
        if stop < end and raw[stop] == 0x0A and raw[stop - 1] == 0x0D:
            start = stop + 1
            continue
        stop = find(b"\n", start)
        stop = end if stop == -1 else stop
        length = stop - start - (1 if stop < end and raw[stop - 1] == 0x0D else 0)
        number = raw.count(b"\n", 0, start) + 1
        return (
            f"line {number} is {length} octets long; lines must not exceed "
            f"{limit} octets plus CRLF (RFC 5321 section 4.5.3.1.6)"
        )
    return None


def _duplicated_unique_header(root: Part) -> str | None:
    names = Counter(field.key for field in root.header)
    for unique in UNIQUE_HEADERS:
        count = names[unique.lower()]
        if count > 1:
            return f"unique header {unique} appears {count} times; it may appear only once"
    return None


def _normalised(block: headers.HeaderBlock, name: str) -> list[str]:
    return [" ".join(value.split()) for value in block.get_all(name)]


def _changed_immutable_header(
    original: headers.HeaderBlock, updated: headers.HeaderBlock
) -> str | None:
    for name in IMMUTABLE_HEADERS:
        before = _normalised(original, name)
        after = _normalised(updated, name)
        if before == after:
            continue
        if before and not after:
            return f"immutable header {name} was removed"
        if after and not before:
            return f"immutable header {name} was added"
        return f"immutable header {name} was changed"
    return None


def defects(root: Part) -> list[str]:
    """Structural defects of the multiparts in the tree, each named with its path."""
    out: list[str] = []
    _defects(root, "1", out)
    return out


def _defects(part: Part, path: str, out: list[str]) -> None:
    if part.maintype != "multipart" or part.depth >= MAX_DEPTH:
        return
    where = "the top-level part" if path == "1" else f"MIME part {path}"
    if not part.params.get("boundary"):
        problem = "multipart content without a boundary parameter"
    elif not part.children:
        problem = "the multipart boundary never occurs in the body"
    else:
        for index, child in enumerate(part.children, start=1):
            _defects(child, f"{path}.{index}", out)
        return
    out.append(f"malformed MIME structure in {where} ({part.ctype}): {problem}")
