"""Generated hostile mail: messages from mime_strategies, then broken the way senders break them.

Header blocks get a byte order mark, unindented continuation lines, lines with
no colon, 8-bit field names, `From\\n : x`, very long fields, repeated unique
fields; the end of the input is cut at or inside the close delimiter. For every
output: every original header field is still in the header (byte for byte or
only folded), attachments decode to the same bytes, the shared WorkMail
validator accepts it, and a second run changes nothing. Random byte damage
never crashes the flow.
"""

from __future__ import annotations

import os

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mimeops.mime import Message, words
from mimeops.mime.conform import conform
from mimeops.mime.validate import has_long_line, rejection_reason
from tests.engine_checks import ENVELOPE
from tests.mime_strategies import messages
from tests.test_hostile_mail import MARKED, NON_ASCII, assert_whole

EXAMPLES = int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None)

_JUNK = [
    b"X-Spam-Report: * 0.1 SOMETHING\r\n",                    # a field, for contrast
    b"by mx.example.com with ESMTP id 42\r\n",                # unindented continuation
    b"this line has no colon\r\n",
    b"X-\xc3\x9cml\xc3\xa4ut: ja\r\n",                        # 8-bit field name
    b"X-Long: " + b"word " * 400 + b"\r\n",                   # 2000 octets, foldable
    b"Comments\r\n : colon on the next line\r\n",
    b"Cc: again@example.com\r\n",                             # a second Cc (merged)
]


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    raw = draw(messages()).raw
    root = Message(raw).root
    fields = [f.raw for f in root.header]
    eol = root.header.eol
    # Junk after the first field, always followed by a real field (else it starts the body).
    for _ in range(draw(st.integers(0, 2))):
        line = draw(st.sampled_from(_JUNK)).replace(b"\r\n", eol)
        at = draw(st.integers(1, len(fields) - 1))
        fields.insert(at, line)
    # A field that is not the last must end with a line break.
    fields = [f if f.endswith(b"\n") else f + eol for f in fields[:-1]] + fields[-1:]
    head = b"".join(fields)
    if draw(st.booleans()):
        head = b"\xef\xbb\xbf" + head
    body = raw[root.header_end:]
    cut = draw(st.sampled_from(["none", "no-final-eol", "trailing-space"]))
    if cut == "no-final-eol":
        body = body.rstrip(b"\r\n")
    elif cut == "trailing-space":
        body = body.rstrip(b"\r\n") + b"  "
    return head + body


@FUZZ
@given(hostile())
# A /related of an attached message only gets a text part in front by going whole into a
# new multipart/mixed: MIME-Version stayed where it was, not moved after a field that
# followed it.
@example(b"From: Sender <s@outside.example.net>\nTo: b@example.com\n"
         b"Date: Mon, 03 Mar 2025 10:00:00 +0000\nMessage-ID: <m@outside.example.net>\n"
         b"Subject: Hello world\nMIME-Version: 1.0\nX-Spam-Report: * 0.1 SOMETHING\n"
         b"Content-Type: multipart/related; boundary==_mo0001\n\n--=_mo0001\n"
         b"Content-Type: message/rfc822\n\nFrom: Carol <c@elsewhere.example.org>\n"
         b"Subject: inner message\n\nHi.\n")
def test_broken_header_blocks_keep_every_field_and_stay_acceptable(raw: bytes) -> None:
    for flow_ in (MARKED, NON_ASCII):
        result = flow_.apply(raw, ENVELOPE)
        if not result.changed:
            # Nothing to do (already tagged, no body), or left alone with the reason.
            assert result.message is raw
            continue
        assert_whole(flow_, raw)


@FUZZ
@given(st.binary(max_size=2000), st.integers(0, 3))
# A lone CR that ends the input is the header's blank line: the body written after it
# needs a whole line break, or it reads back as header and the second run edits again.
@example(b"\r", 1)
def test_random_bytes_never_crash(noise: bytes, shape: int) -> None:
    prefixes = [b"", b"From: a@b.example\r\n", b"Subject: x\r\n\r\n",
                b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"]
    raw = prefixes[shape] + noise
    result = MARKED.apply(raw, ENVELOPE)
    if result.changed:
        assert rejection_reason(raw, result.message) is None
        assert not MARKED.apply(result.message, ENVELOPE).changed
    else:
        assert result.message is raw


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A generated message with 1 to 8 bytes overwritten by line breaks, colons, spaces,
    dashes, NUL or 0xFF."""
    raw = bytearray(draw(messages()).raw)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] = draw(st.sampled_from([0x0A, 0x0D, 0x3A, 0x20, 0x2D, 0x00, 0xFF]))
    return bytes(raw)


@FUZZ
@given(damaged())
# A lone CR first in a part's text: the footer's line break was that CR, the delimiter's LF
# after it read back as one CRLF, the body changed and the second run bannered it again.
@example(b"From: Sender <s@outside.example.net>\nTo: b@example.com\n"
         b"Date: Mon, 03 Mar 2025 10:00:00 +0000\nMessage-ID: <m@outside.example.net>\n"
         b"Subject: Hello world\nMIME-Version: 1.0\n"
         b"Content-Type: multipart/mixed; boundary==_mo0001\n\n--=_mo0001-x\n--=_mo0001\n"
         b"\rontent-Type: multipart/mixed; boundary==_mo0002\n\n--=_mo0002\n"
         b"content-type: text/plain; charset=hex; format=flowed\n\n--=_mo0001\n"
         b"content-type: text/plain\n\n")
def test_damaged_generated_mail_never_crashes(damaged: bytes) -> None:
    result = MARKED.apply(damaged, ENVELOPE)
    if result.changed:
        assert rejection_reason(damaged, result.message) is None
        again = MARKED.apply(result.message, ENVELOPE)
        assert not again.changed


_HEADER_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)


@FUZZ
@given(_HEADER_TEXT, _HEADER_TEXT, st.integers(999, 3000), st.booleans(),
       st.sampled_from(["Subject", "X-Note", "Comments", "Keywords", "Thread-Topic"]))
def test_an_unfoldable_unstructured_field_decodes_to_the_same_text(
        before: str, after: str, length: int, encoded: bool, name: str) -> None:
    """A field whose line has no place to fold is written again as encoded words: its
    decoded value is what it was, character for character, and every line fits."""
    head = " ".join(words.encode(before)) if encoded and before else before
    value = f"{head} {'t' * length}{after}"
    raw = (b"From: s@outside.example.net\r\n" + f"{name}: {value}".encode() + b"\r\n"
           b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n\r\nHello.\r\n")
    root = Message(raw).root
    field = root.header.field(name)
    assert field is not None
    text = field.decoded()
    removed: list[str] = []
    assert conform(root, removed) is None and removed == []
    again = Message(root.to_bytes()).root.header.field(name)
    assert again is not None and again.decoded() == text
    assert not has_long_line(again.raw)
