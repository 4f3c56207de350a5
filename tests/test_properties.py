"""Property-based tests of the MIME engine on generated messages (see mime_strategies).

Random trees of multipart/mixed, /alternative and /related up to depth 4, with
text/plain and text/html leaves in many charsets and transfer encodings,
attachments and attached messages, LF, CRLF or mixed line endings, preambles,
epilogues, transport padding and missing close delimiters. `make fuzz` runs
them with MIMEOPS_FUZZ_EXAMPLES=20000.
"""

from __future__ import annotations

import os
import re

from hypothesis import example, given, settings

from mimeops import load_flow
from mimeops.mime import Message, charset
from mimeops.mime.model import Part
from tests.engine_checks import (
    ENVELOPE,
    MARKER_KEY,
    NON_ASCII_INSERTED,
    assert_visible,
    check_decoded,
    codec_of,
    decoded_bytes,
    long_lines,
    non_ascii_flow,
    norm,
    parses,
    target_pairs,
)
from tests.invariants import check, check_structure, leaves
from tests.mime_strategies import REAL_BODY_TAGS, Generated, Leaf, Multi, messages
from tests.test_corpus import INSERTED, MARKED_FLOW

EXAMPLES = int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None)

MARKED = load_flow(MARKED_FLOW, marker_key=MARKER_KEY)
NON_ASCII = non_ascii_flow()


def _shown(part: Part) -> str:
    """The part's text for what its bytes say (its label, else UTF-8, else cp1252)."""
    return norm(charset.decode_lossless(decoded_bytes(part), codec_of(part))[0])


def _contradicts_label(part: Part) -> bool:
    """Bytes that do not decode under a charset label Python knows."""
    codec = codec_of(part)
    if codec is None:
        return False
    try:
        decoded_bytes(part).decode(codec)
    except UnicodeDecodeError:
        return True
    return False


def _assert_applied_once(flow, raw: bytes) -> bytes:
    """The flow's result; applying it again changes nothing; the prefix is there once."""
    result = flow.apply(raw, ENVELOPE)
    assert result.skipped is None, result.skipped
    again = flow.apply(result.message, ENVELOPE)
    assert not again.changed, "applying the flow twice changed the message again"
    assert again.message is result.message
    subject = str(parses(result.message)["subject"]).casefold()
    assert subject.count("[external]") == 1, subject
    return result.message


WEB_ONLY_BODIES = ('<![if !mso]><body class="web"><![endif]>',
                   '<!--[if !mso]><!--><body class="web2"><!--<![endif]-->')


def _assert_placement(raw: bytes, result: bytes, inserted: dict[str, list[str]]) -> None:
    """Banner at the top / footer at the bottom of each text, in the right HTML spot."""
    for old, new, needles in target_pairs(raw, result, inserted):
        if new.body() == old.body():
            continue
        banner, footer = [*needles, ""][:2]
        before, after = _shown(old), _shown(new)
        if old.subtype == "plain":
            assert after.startswith(banner + "\n\n"), after[:80]
            if footer:  # (a part in front gets the banner alone)
                assert after.endswith("\n" + footer + "\n"), after[-80:]
            continue
        real = [tag for tag in REAL_BODY_TAGS if tag in before]
        # A <body> hidden from Outlook only is where browsers start the body: the banner
        # goes before that block, where every client reads it.
        web = [after.index(tag) for tag in WEB_ONLY_BODIES if tag in before]
        if web:
            assert after[:min(web)].endswith(banner), "banner not before the web-only body"
        elif real:
            assert real[0] + banner in after, "banner not right after the real <body>"
        elif "</head>" in before:
            # White space and comments between are the document's own (a browser puts
            # them before the body; Outlook's <!--[if mso]> body tag is one of them).
            assert re.search(r"</head>" + _BEFORE_BODY + re.escape(banner), after, re.S)
        elif re.search("<html", before, re.I):
            assert re.search(r"<html[^>]*>" + _BEFORE_BODY + re.escape(banner), after,
                             re.I | re.S)
        else:
            head = after[:after.index(banner)]
            assert re.fullmatch(r"(?:\s|<!DOCTYPE html>|<!--.*?-->)*", head, re.S), head
        assert_visible(after, banner)
        assert_visible(after, footer)
        if real:  # the generator writes a real </body> exactly when it writes a real <body>
            assert after.index(footer) + len(footer) == after.rindex("</body>")
        elif "</html>" in before.lower():
            assert after.index(footer) + len(footer) == after.lower().rindex("</html>")
        else:
            assert after.endswith(footer)


# -- (a) unmodified round trip -------------------------------------------------------------


@FUZZ
@given(messages())
def test_unmodified_round_trip_is_identical(generated: Generated) -> None:
    raw = generated.raw
    message = Message(raw)
    assert message.to_bytes() is raw
    for part in message.root.walk():
        part.header.dirty = True  # re-emit every part from the tree
    assert message.root.to_bytes() == raw
    # The parser finds exactly the generated entities, and each decodes to its content.
    found = leaves(Message(raw).root)
    specs = generated.leaves()
    assert len(found) == len(specs), "the parser found a different part structure"
    for part, spec in zip(found, specs, strict=True):
        if spec.kind in ("plain", "html"):
            assert part.ctype == f"text/{spec.kind}"
        elif spec.kind == "message":
            assert part.ctype == "message/rfc822"
            assert part.is_attachment is False
        if spec.payload is not None:
            got = norm(decoded_bytes(part).decode("latin-1")).rstrip("\n")
            assert got == norm(spec.payload.decode("latin-1")).rstrip("\n")


# -- (b) banner + footer + subject prefix -----------------------------------------------------


_BEFORE_BODY = r"(?:\s|<!--.*?-->)*"


def _outlook_only(start: bytes) -> Generated:
    """An alternative whose HTML hides a block from Outlook after white space (found by
    the property below: the banner goes after the white space the document has there)."""
    html = start + b"\n\n<![if !mso]><div>not outlook</div><![endif]>"
    raw = (b"From: Sender <s@outside.example.net>\nTo: b@example.com\n"
           b"Date: Mon, 03 Mar 2025 10:00:00 +0000\nMessage-ID: <m@outside.example.net>\n"
           b"Subject: Hello world\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/alternative; boundary==_mo0001\n\n--=_mo0001\n"
           b"content-type: text/plain; charset=hex; format=flowed\n"
           b"Content-Transfer-Encoding: 7bit\nContent-Disposition: inline\n\n--=_mo0001\n"
           b"content-type: text/html; charset=hex\nContent-Transfer-Encoding: 7bit\n"
           b"Content-Disposition: inline\n\n" + html)
    leaf = Leaf(headers=[], body=[], kind="html", real_body_tag=None, payload=html)
    return Generated(raw, Multi(subtype="alternative", children=[leaf], headers=[],
                                preamble=[], epilogue=[], padding=[], missing_close=True,
                                quoted=False, decoy=b""), "lf")


@FUZZ
@example(_outlook_only(b"<html>"))
@example(_outlook_only(b"<head><title>t</title>\n</head>"))
@example(_outlook_only(b'<html>\n<!--[if mso]><body class="outlook"><![endif]-->'))
@given(messages())
def test_marked_flow_keeps_the_invariants(generated: Generated) -> None:
    raw = generated.raw
    result = _assert_applied_once(MARKED, raw)
    check(raw, result, INSERTED)
    check_decoded(raw, result, INSERTED)
    _assert_placement(raw, result, INSERTED)
    assert not long_lines(result)


# -- (c) a non-ASCII banner into every charset ------------------------------------------------


@FUZZ
@given(messages())
def test_non_ascii_banner_keeps_all_original_text(generated: Generated) -> None:
    raw = generated.raw
    result = _assert_applied_once(NON_ASCII, raw)
    if any(_contradicts_label(part) for part in Message(raw).bodies().values()):
        # invariants.check compares bytes when the label stays; a part whose bytes
        # contradict it must be transcoded (plain) or get character references (HTML).
        check_structure(raw, result)
    else:
        check(raw, result, NON_ASCII_INSERTED)
    check_decoded(raw, result, NON_ASCII_INSERTED)
    assert not long_lines(result)


# -- (d) no line over 998 octets ---------------------------------------------------------------


@FUZZ
@given(messages(long_lines=True))
def test_no_new_line_over_998_octets(generated: Generated) -> None:
    raw = generated.raw
    result = _assert_applied_once(MARKED, raw)
    check(raw, result, INSERTED)
    # WorkMail refuses any line over 998 octets in an update: untouched parts are
    # re-encoded too (an unchanged message is not sent back to WorkMail at all).
    assert result == raw or long_lines(result) == []
