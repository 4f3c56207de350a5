"""What must hold after a banner + footer flow, checked on any message.

Shared by the corpus test and the property-based tests: the result parses;
every part that was not a target is byte-identical (so every attachment
decodes to the same bytes); every target still holds all of its original
text plus the inserted text; no line the flow wrote passes 998 octets; 8-bit
data sits only inside quoted-printable or base64; a second run is a no-op.
"""

from __future__ import annotations

import email
import email.policy

from mimeops.mime import Message, charset, transfer
from mimeops.mime.headers import Field
from mimeops.mime.model import Part
from mimeops.mime.validate import has_long_line, rejection_reason
from mimeops.mime.wrap import front_before

_MERGED = ("to", "cc", "bcc", "reply-to", "in-reply-to", "references")


def _norm(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def folded(field: Field) -> bytes:
    """A field as it was before an over-long line was folded: the added line breaks
    (each before whitespace) removed, so it compares with the original bytes."""
    raw = field.raw
    body = raw.rstrip(b"\r\n")
    return body.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t").replace(
        b"\n ", b" ").replace(b"\n\t", b"\t") + raw[len(body):]


def leaves(part: Part) -> list[Part]:
    return [p for p in part.walk() if not p.children]


def gaps(part: Part) -> list[bytes]:
    """The raw bytes between children of every multipart: preamble, delimiters, epilogue."""
    out = []
    for p in part.walk():
        if p.children:
            pos = p.body_start
            for child in p.children:
                out.append(p.buf[pos:child.start])
                pos = child.end
            out.append(p.buf[pos:p.end])
    return out


def _text(part: Part) -> tuple[bytes, str | None]:
    return transfer.decode(part.cte, part.body()), charset.lookup(part.charset_label)


def edited(original: bytes, result: bytes) -> Message:
    """`original` as the flow edited it: with the empty text parts the flow puts in front
    when the result has them: in front of everything a client shows (`Message.fronted`,
    its `front`: no text a client shows, or something shown before the first body), and
    right before each body the banner could not enter (`front_before`, the fallback
    ladder), or both."""
    message = Message(original)
    if result == original:
        return message
    after = Message(result).root
    shape = [p.ctype for p in after.walk()]
    marks = _in_front(after)

    def before_marked(candidate: Message) -> Message:
        root = candidate.root
        targets = [p for p in root.walk() if p is not root and p.buf[p.start:p.end] in marks]
        if not targets:
            return candidate
        fronted = Message(front_before(candidate.raw, root, targets))
        if candidate.front is not None and fronted.root.children:
            fronted.front = fronted.root.children[0]
        return fronted

    candidates = [before_marked(message), message.fronted()]
    candidates.append(before_marked(candidates[1]))
    for candidate in candidates:
        if [p.ctype for p in candidate.root.walk()] == shape:
            return candidate
    return message


def _in_front(root: Part) -> set[bytes]:
    """The bytes of each part the flow put a text part in front of, in place."""
    return {p.children[1].buf[p.children[1].start:p.children[1].end]
            for p in root.walk() if p is not root and p.children and len(p.children) == 2
            and p.params.get("boundary", "").startswith("=_mimeops_")}


def wrapped(result: bytes) -> bytes | None:
    """The original a wrap attached whole to `result` (decoded), or None."""
    root = Message(result).root
    if not root.params.get("boundary", "").startswith("=_mimeops_") or not root.children \
            or len(root.children) != 2:
        return None
    attached = root.children[1]
    if attached.filename != "original-message.eml":
        return None
    return transfer.decode(attached.cte, attached.body())


def check_wrapped(original: bytes, result: bytes, attached: bytes) -> None:
    """A wrap: the original attached whole (only its header folded: the same bytes but
    white space), the outer header keeps every field but the old body's, WorkMail's
    rules accept it."""
    assert b"".join(attached.split()) == b"".join(original.split()), "the original changed"
    body = original[original.find(b"\n\n") + 2:] if b"\r\n\r\n" not in original \
        else original[original.find(b"\r\n\r\n") + 4:]
    assert attached.endswith(body), "the original's body changed"
    outer = Message(result).root.header
    kept = [f.raw for f in outer] + [folded(f) for f in outer]
    for field in Message(original).root.header:
        if field.key not in {"subject", "mime-version"} and not field.key.startswith("content-"):
            assert field.raw in kept or any(
                b"".join(field.raw.split()) == b"".join(k.split()) for k in kept), field.name
    for line in result.splitlines():
        assert len(line) <= 998
    assert rejection_reason(original, result) is None


def targets(message: Message) -> set[int]:
    """The parts a flow may edit: the bodies the sender wrote, the part in front, and
    (a guarded banner confines their stylesheets) every other HTML part a client shows."""
    found = {id(part) for part in message.sender_bodies().values()}
    found |= {id(part) for part in message.shown_html()}
    if message.front is not None:
        found.add(id(message.front))
    return found


def expected(before: Message, part: Part, inserted: dict[str, list[str]]) -> list[str]:
    """What a flow inserts into `part` of `before` (`edited`): `inserted[subtype]`, the
    banner's first; the part in front gets only the banner when the sender wrote a body
    (the footer ends that one)."""
    needles = inserted.get(part.subtype, [])
    if part is before.front:
        return needles[:1] if before.sender_bodies() else needles
    if all(part is not body for body in before.sender_bodies().values()):
        return []  # another HTML part: guarded at most, nothing added
    return needles


def check_structure(original: bytes, result: bytes) -> None:
    """Everything but the targets: the result parses; same part structure; untouched
    parts, delimiters and header fields byte-identical; no new line over 998 octets."""
    email.message_from_bytes(result, policy=email.policy.default)  # must not raise
    attached = wrapped(result)
    if attached is not None:
        check_wrapped(original, result, attached)
        return
    received = original
    before, after = edited(original, result), Message(result)
    editable_parts = targets(before)
    old_leaves, new_leaves = leaves(before.root), leaves(after.root)
    assert len(old_leaves) == len(new_leaves), "the part structure changed"
    for old_gap, new_gap in zip(gaps(before.root), gaps(after.root), strict=True):
        if not old_gap.startswith((b"\r", b"\n")):
            # after a part that was empty: its new content brings the line break
            new_gap = new_gap.removeprefix(b"\r\n").removeprefix(b"\n")
        assert old_gap == new_gap, "a preamble, delimiter or epilogue changed"
    for old, new in zip(old_leaves, new_leaves, strict=True):
        if id(old) not in editable_parts:
            start = old.body_start if old is before.root else old.start
            new_start = new.body_start if new is after.root else new.start
            if old.buf[start:old.end] == new.buf[new_start:new.end]:
                continue
            # Only a part with a line WorkMail refuses may change: re-encoded, losslessly.
            assert has_long_line(old.body()), f"untouched {old.ctype} part changed"
            assert not has_long_line(new.body()), f"{old.ctype} part still has a long line"
            assert new.decoded() == old.decoded(), f"re-encoded {old.ctype} part lost bytes"
            kept_fields = [f.raw for f in new.header if f.key != "content-transfer-encoding"]
            assert kept_fields == [f.raw for f in old.header
                                   if f.key != "content-transfer-encoding"]
    kept = [f.raw for f in after.root.header]
    kept += [folded(f) for f in after.root.header]
    editable = {"subject"}
    if id(before.root) in editable_parts:  # a single-part message: its body is the target
        editable |= {"content-type", "content-transfer-encoding"}
    for field in before.root.header:
        if field.key in _MERGED and len(before.root.header.get_all(field.key)) > 1:
            # A repeated unique field WorkMail refuses: merged into the first copy.
            merged = after.root.header.field(field.key)
            assert merged is not None and field.raw_value().strip() in merged.raw_value()
        elif field.key not in editable:
            assert field.raw in kept, f"header field {field.name} was not kept byte for byte"
    if result != received:  # a changed message is checked as WorkMail checks an update
        for line in result.splitlines():
            assert len(line) <= 998, f"a line of {len(line)} octets: WorkMail refuses it"
        assert rejection_reason(received, result) is None


def check(original: bytes, result: bytes, inserted: dict[str, list[str]]) -> None:
    """Assert the invariants; `inserted` maps 'plain'/'html' to the strings a
    flow inserts in such parts (markup as rendered), the banner's first."""
    check_structure(original, result)
    if wrapped(result) is not None:
        first = Message(result).root.children[0]  # type: ignore[index]
        banner = inserted.get("plain", [""])[0]
        assert banner in transfer.decode(first.cte, first.body()).decode("utf-8")
        return
    before, after = edited(original, result), Message(result)
    editable_parts = targets(before)
    for old, new in zip(leaves(before.root), leaves(after.root), strict=True):
        if id(old) in editable_parts:
            _check_target(old, new, expected(before, old, inserted))


def _check_target(old: Part, new: Part, inserted: list[str]) -> None:
    if new.body() == old.body():
        return  # left alone (e.g. undecodable); that is allowed
    if new.cte in ("7bit", "8bit", "binary"):
        assert not transfer.needs_reencoding(new.body()), (
            f"edited part carries 8-bit data or long lines as {new.cte}")
    old_bytes, old_codec = _text(old)
    new_bytes, new_codec = _text(new)
    if old_codec == new_codec:
        old_text = _norm(old_bytes).decode("latin-1")
        new_text = _norm(new_bytes).decode("latin-1")
        needles = [_norm(s.encode(new_codec or "ascii", "xmlcharrefreplace")).decode("latin-1")
                   for s in inserted]
    else:
        old_text = charset.decode_lossless(old_bytes, old_codec)[0].replace("\r\n", "\n")
        new_text = new_bytes.decode(new_codec or "utf-8").replace("\r\n", "\n")
        needles = [s.replace("\r\n", "\n") for s in inserted]
    for needle in needles:
        first_line = needle.strip().split("\n")[0].strip()
        assert first_line in new_text, f"inserted text {first_line!r} missing"
    if old.subtype == "plain":
        assert old_text.rstrip("\n") in new_text, "original plain text not kept whole"
    else:
        remaining = new_text
        for needle in needles:
            remaining = remaining.replace(needle, "", 1)
        if charset.ascii_transparent(old_codec):
            # A guarded body's NUL becomes what a parser makes of it (mimeops.mime.guard).
            old_text = old_text.replace("\0", "&#xFFFD;")
        assert remaining == old_text, "original HTML not kept exactly around the insertions"
