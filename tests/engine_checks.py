"""What a user sees after an edit: shared by test_properties and test_engine_cases.

`tests.invariants.check` compares targeted parts byte for byte whenever their
charset label is unchanged. That cannot judge a part whose bytes contradict
their label (latin-1 bytes labelled utf-8): a non-ASCII banner can only be
added to it correctly by transcoding (or, in HTML, as ASCII character
references), and then the label stays the same while the bytes do not.
`check_decoded` looks at targets the way a mail client does instead: decoded
with the charset the result declares.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
from collections.abc import Iterator

from mimeops import Envelope, Flow, load_flow
from mimeops.mime import Message, charset, transfer
from mimeops.mime.model import Part
from tests.invariants import edited, expected, leaves, targets

ENVELOPE = Envelope("INBOUND", "a@outside.example.net", ["b@example.com"])
MARKER_KEY = b"test"
NON_ASCII_BANNER = "⚠ Achtung: externer Absender — ünïcödé"
NON_ASCII_INSERTED = {
    "plain": [NON_ASCII_BANNER, "MIMEOPS-FOOTER-TEXT"],
    "html": [f"<div>{NON_ASCII_BANNER}</div>", "<p>MIMEOPS-FOOTER-HTML</p>"],
}
MAX_LINE = 998
# A flow that relies on the defaults: a banner and a subject tag on mail from outside.
MINIMAL_WARNING = """
internal_domains: [example.com]
rules:
  - name: warn
    when: {direction: INBOUND, sender: external}
    apply:
      - banner: "CAUTION: external sender {sender}"
      - subject_prefix: "[EXTERNAL]"
"""


def flow(
    *, banner: tuple[str, str] | None = None, footer: tuple[str, str] | None = None,
    prefix: str | None = None, protected: str | None = None,
    extra_ops: list[dict[str, object]] | None = None,
) -> Flow:
    """A one-rule flow (written as JSON, which is YAML) with the ops given. HTML is not
    guarded (guard: false): these flows check placement and bytes; the guard has its own
    tests (test_guard.py, test_banner_browser.py)."""
    ops: list[dict[str, object]] = []
    if banner:
        ops.append({"banner": {"text": banner[0], "html": banner[1], "guard": False}})
    if footer:
        ops.append({"footer": {"text": footer[0], "html": footer[1], "guard": False}})
    if prefix:
        ops.append({"subject_prefix": prefix})
    ops.extend(extra_ops or [])
    spec: dict[str, object] = {"internal_domains": ["example.com"],
                               "rules": [{"name": "mark", "apply": ops}]}
    if protected:
        spec["protected"] = protected
    return load_flow(json.dumps(spec, indent=1, ensure_ascii=False), marker_key=MARKER_KEY)


def non_ascii_flow() -> Flow:
    return flow(banner=(NON_ASCII_BANNER, f"<div>{NON_ASCII_BANNER}</div>"),
                footer=("MIMEOPS-FOOTER-TEXT", "<p>MIMEOPS-FOOTER-HTML</p>"),
                prefix="[EXTERNAL]")


def parses(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def long_lines(data: bytes) -> list[int]:
    """Lengths of the lines over 998 octets (line break not counted)."""
    return [len(line) for line in data.splitlines() if len(line) > MAX_LINE]


def norm(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decoded_bytes(part: Part) -> bytes:
    return transfer.decode(part.cte, part.body())


def codec_of(part: Part) -> str | None:
    return charset.lookup(part.charset_label)


def strict_text(part: Part) -> str:
    """The part's text as a client reads it: its CTE, then its declared charset.

    Raises UnicodeDecodeError when the bytes do not match the label (no charset
    or an unknown one is read as ASCII).
    """
    return decoded_bytes(part).decode(codec_of(part) or "ascii")


def label_is_wrong(part: Part) -> bool:
    """True when the part's decoded bytes do not decode under its charset label."""
    try:
        strict_text(part)
    except UnicodeDecodeError:
        return True
    return False


def target_pairs(original: bytes, result: bytes, inserted: dict[str, list[str]],
                 ) -> Iterator[tuple[Part, Part, list[str]]]:
    """(before, after, what was inserted) for every part the flow was allowed to edit
    (the bodies, and the text part the flow put in front of everything)."""
    before, after = edited(original, result), Message(result)
    editable = targets(before)
    for old, new in zip(leaves(before.root), leaves(after.root), strict=True):
        if id(old) in editable:
            yield old, new, expected(before, old, inserted)


def _high_bytes(data: bytes) -> list[int]:
    return sorted(b for b in data.replace(b"\r\n", b"\n") if b >= 0x80)


def _charrefs(text: str, codec: str | None) -> str:
    """`text` with what `codec` cannot encode written as character references."""
    return text.encode(codec or "ascii", "xmlcharrefreplace").decode(codec or "ascii")


def check_decoded(original: bytes, result: bytes, inserted: dict[str, list[str]]) -> None:
    """Every edited target reads, under the charset it now declares, as its original
    text plus the inserted text; or, where it cannot be read that way, the flow
    added nothing but ASCII to bytes that could not be read that way before either."""
    for old, new, needles in target_pairs(original, result, inserted):
        if new.body() == old.body():
            continue
        old_bytes, new_bytes = decoded_bytes(old), decoded_bytes(new)
        try:
            new_text = norm(strict_text(new))
        except UnicodeDecodeError:
            assert label_is_wrong(old), (
                f"{new.ctype} part no longer decodes as {new.charset_label}")
            assert _high_bytes(new_bytes) == _high_bytes(old_bytes), (
                "non-ASCII bytes were mixed into a part whose bytes contradict its label")
            continue
        old_text = norm(charset.decode_lossless(old_bytes, codec_of(old))[0])
        if old.subtype == "html":
            shown = html.unescape(new_text)
            for needle in needles:
                assert html.unescape(needle) in shown, f"{needle!r} not shown"
            remaining = new_text
            for needle in needles:
                forms = [needle] + [_charrefs(needle, c) for c in (codec_of(new), codec_of(old))]
                for form in [*forms, _charrefs(needle, None)]:
                    if form in remaining:
                        remaining = remaining.replace(form, "", 1)
                        break
            assert remaining == old_text, "original HTML not kept around the insertions"
        else:
            for needle in needles:
                assert norm(needle) in new_text, f"{needle!r} missing from the text"
            assert old_text.rstrip("\n") in new_text, "original text not kept whole"


# Blocks some mail client does not render: Outlook's downlevel-revealed blocks in
# comment syntax (hidden from Outlook), comments (Outlook conditional comments
# included: hidden from every other client), and <![if ...]> ... <![endif]>.
_HIDDEN = re.compile(
    r"<!--\[if[^>]*><!-->.*?<!--<!\[endif\]-->|<!--.*?-->|<!\[if[^>]*>.*?<!\[endif\]>",
    re.S | re.I,
)


def hidden_spans(markup: str) -> list[tuple[int, int]]:
    return [m.span() for m in _HIDDEN.finditer(markup)]


def assert_visible(markup: str, needle: str) -> None:
    """`needle` is outside every block some mail client does not render."""
    at = markup.index(needle)
    for start, end in hidden_spans(markup):
        assert not start <= at < end, f"{needle!r} hidden in {markup[start:end]!r}"
