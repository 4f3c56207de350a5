"""Hand-written hard cases for the MIME engine, each one something a user would notice.

Every message is built here, byte by byte, and run through a real flow
(`load_flow` + `Flow.apply`), the way the Lambda handler and the CLI use it.
"""

from __future__ import annotations

import base64
import binascii
import email.header
import html
import re

import pytest

from mimeops import Envelope, load_flow
from mimeops.mime import Message, charset, transfer
from mimeops.mime.model import Part
from tests.engine_checks import (
    ENVELOPE,
    MARKER_KEY,
    NON_ASCII_BANNER,
    NON_ASCII_INSERTED,
    assert_visible,
    check_decoded,
    flow,
    long_lines,
    non_ascii_flow,
    norm,
    parses,
)
from tests.invariants import check
from tests.test_corpus import INSERTED, MARKED_FLOW

BANNER_TEXT = "MIMEOPS-BANNER-TEXT"
FOOTER_TEXT = "MIMEOPS-FOOTER-TEXT"
BANNER_HTML = "<div>MIMEOPS-BANNER-HTML</div>"
FOOTER_HTML = "<p>MIMEOPS-FOOTER-HTML</p>"
BANNER_ONLY = {"plain": [BANNER_TEXT], "html": [BANNER_HTML]}

TOP = (
    "From: Sender <s@outside.example.net>",
    "To: b@example.com",
    "Date: Mon, 03 Mar 2025 10:00:00 +0000",
    "Message-ID: <case@outside.example.net>",
)


@pytest.fixture(scope="module")
def marked():
    return load_flow(MARKED_FLOW, marker_key=MARKER_KEY)


def build(*headers: str, body: str | bytes = "", eol: str = "\r\n",
          subject: str | None = "Test message") -> bytes:
    """A message: the usual top header fields, `headers`, a blank line, `body`.

    A str body has its "\\n" written as `eol` and is encoded as UTF-8; bytes are
    taken as they are.
    """
    fields = list(TOP)
    if subject is not None:
        fields.append(f"Subject: {subject}")
    fields.extend(headers)
    head = "".join(f + eol for f in fields).encode("utf-8") + eol.encode()
    if isinstance(body, str):
        body = body.replace("\n", eol).encode("utf-8")
    return head + body


def apply(flow_, raw: bytes):
    result = flow_.apply(raw, ENVELOPE)
    assert result.skipped is None, result.skipped
    return result


def bodies(raw: bytes) -> dict[str, Part]:
    return Message(raw).bodies()


def decoded(part: Part) -> bytes:
    return transfer.decode(part.cte, part.body())


def text_of(part: Part) -> str:
    """The part as a client shows it: CTE, then the declared charset (strict)."""
    return norm(decoded(part).decode(charset.lookup(part.charset_label) or "ascii"))


def body_of(raw: bytes) -> bytes:
    """Everything after the top-level header block."""
    root = Message(raw).root
    return raw[root.header_end:]


def subject_of(raw: bytes) -> str:
    return str(parses(raw)["subject"])


def assert_idempotent(flow_, once: bytes) -> None:
    again = flow_.apply(once, ENVELOPE)
    assert not again.changed, "applying the flow twice changed the message again"
    assert again.message == once


# -- single parts, charsets, transfer encodings -----------------------------------------


def test_single_part_text_plain_gets_banner_and_footer(marked) -> None:
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii",
                body="Hello Bob,\n\nsee you tomorrow.\n")
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    text = text_of(bodies(result.message)["plain"])
    assert text == f"{BANNER_TEXT}\n\nHello Bob,\n\nsee you tomorrow.\n\n{FOOTER_TEXT}\n"
    assert subject_of(result.message) == "[EXTERNAL] Test message"
    assert b"Content-Type: text/plain; charset=us-ascii\r\n" in result.message
    assert_idempotent(marked, result.message)


def test_single_part_without_any_content_type(marked) -> None:
    raw = build(body="Just text, no MIME headers at all.\n")
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert text_of(bodies(result.message)["plain"]).startswith(BANNER_TEXT + "\n\nJust text")


def test_text_part_without_charset_ascii_banner_keeps_header(marked) -> None:
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain", body="plain ascii body\n")
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert b"Content-Type: text/plain\r\n" in result.message
    assert b"charset" not in result.message
    assert BANNER_TEXT in text_of(bodies(result.message)["plain"])


@pytest.mark.parametrize("content_type", [
    "Content-Type: text/plain",
    None,  # no Content-Type field at all
])
def test_text_part_without_charset_non_ascii_banner(content_type: str | None) -> None:
    headers = ["MIME-Version: 1.0"] + ([content_type] if content_type else [])
    raw = build(*headers, body="plain ascii body\n")
    result = apply(non_ascii_flow(), raw)
    check(raw, result.message, NON_ASCII_INSERTED)
    check_decoded(raw, result.message, NON_ASCII_INSERTED)
    part = bodies(result.message)["plain"]
    assert part.charset_label == "utf-8"
    assert part.cte in ("quoted-printable", "base64")
    text = text_of(part)
    assert text.startswith(NON_ASCII_BANNER + "\n\nplain ascii body\n")
    parsed = parses(result.message)
    assert parsed.get_content().replace("\r\n", "\n") == text


def test_unknown_charset_label_keeps_every_byte() -> None:
    original = "Pr\xe9sentation \xe0 8\xa0h, \xa9 Firma\n".encode("latin-1")
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=x-foo",
                "Content-Transfer-Encoding: 8bit", body=original)
    ascii_result = apply(flow(banner=(BANNER_TEXT, BANNER_HTML)), raw)
    check(raw, ascii_result.message, BANNER_ONLY)
    part = bodies(ascii_result.message)["plain"]
    assert part.charset_label == "x-foo", "an ASCII banner needs no relabelling"
    assert decoded(part).replace(b"\r\n", b"\n") == (BANNER_TEXT + "\n\n").encode() + (
        original.replace(b"\r\n", b"\n"))

    result = apply(non_ascii_flow(), raw)
    check(raw, result.message, NON_ASCII_INSERTED)
    check_decoded(raw, result.message, NON_ASCII_INSERTED)
    part = bodies(result.message)["plain"]
    assert part.charset_label == "utf-8"
    text = text_of(part)
    for char in original.decode("latin-1"):
        assert char in text, f"{char!r} lost"


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_latin1_bytes_labelled_utf8_non_ascii_banner(subtype: str) -> None:
    words = "Gr\xfc\xdfe aus K\xf6ln: caf\xe9, na\xefve, \xa35, \xbd Liter, \xe6\xf8\xe5"
    content = words if subtype == "plain" else f"<html><body><p>{words}</p></body></html>"
    original = (content + "\r\n").encode("latin-1")
    raw = build("MIME-Version: 1.0", f"Content-Type: text/{subtype}; charset=utf-8",
                "Content-Transfer-Encoding: 8bit", body=original)
    result = apply(non_ascii_flow(), raw)
    check_decoded(raw, result.message, NON_ASCII_INSERTED)
    part = bodies(result.message)[subtype]
    # Read the result for what its bytes say (its label, else UTF-8, else
    # windows-1252): the banner and every character of the original must be there,
    # so neither was written in an encoding the rest of the part does not use.
    text, _ = charset.decode_lossless(decoded(part), charset.lookup(part.charset_label))
    if subtype == "html":
        text = html.unescape(text)
    else:
        # Plain text has no character references: it must become readable UTF-8.
        assert part.charset_label == "utf-8"
        assert text_of(part).startswith(NON_ASCII_BANNER + "\n\n" + words)
    assert NON_ASCII_BANNER in text
    for char in words:
        assert char in text, f"{char!r} lost"
    assert words in text
    assert_idempotent(non_ascii_flow(), result.message)


@pytest.mark.parametrize(("cte", "expected_cte"), [
    ("7bit", "quoted-printable"),
    (None, "quoted-printable"),
    ("base64", "base64"),
    ("Quoted-Printable", "quoted-printable"),
])
def test_non_ascii_banner_into_us_ascii_part(cte: str | None, expected_cte: str) -> None:
    text = "Hello, this is plain US-ASCII.\nSecond line.\n"
    headers = ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"]
    body = text
    if cte:
        headers.append(f"Content-Transfer-Encoding: {cte}")
    if cte == "base64":
        body = base64.encodebytes(text.replace("\n", "\r\n").encode()).decode()
    raw = build(*headers, body=body)
    result = apply(non_ascii_flow(), raw)
    check(raw, result.message, NON_ASCII_INSERTED)
    check_decoded(raw, result.message, NON_ASCII_INSERTED)
    part = bodies(result.message)["plain"]
    assert part.charset_label == "utf-8"
    assert part.cte == expected_cte
    assert result.message.isascii(), "8-bit data outside QP/base64"
    shown = text_of(part)
    assert shown.startswith(NON_ASCII_BANNER + "\n\nHello, this is plain US-ASCII.\n")
    assert parses(result.message).get_content().replace("\r\n", "\n") == shown


def test_qp_body_ending_in_soft_break(marked) -> None:
    body = "First line =C3=A9t=C3=A9\nlast line has no line break=\n"
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: quoted-printable", body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    part = bodies(result.message)["plain"]
    assert part.cte == "quoted-printable"
    text = text_of(part)
    assert text == (f"{BANNER_TEXT}\n\nFirst line été\nlast line has no line break\n\n"
                    f"{FOOTER_TEXT}\n")
    assert all(len(line) <= 76 for line in part.body().splitlines())


def test_qp_soft_breaks_in_the_middle_survive(marked) -> None:
    long_word = "x" * 150
    encoded = binascii.b2a_qp(f"{long_word} caf\xe9\n".encode("latin-1"), istext=True)
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=iso-8859-1",
                "Content-Transfer-Encoding: quoted-printable", body=encoded)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    part = bodies(result.message)["plain"]
    assert part.charset_label == "iso-8859-1"
    assert f"{long_word} caf\xe9\n" in text_of(part)
    assert all(len(line) <= 76 for line in part.body().splitlines())


def test_base64_text_body() -> None:
    original = "Grüße,\r\nthis body is base64.\r\n" + "A fairly long line. " * 20 + "\r\n"
    body = base64.encodebytes(original.encode("utf-8")).decode()
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: BASE64", body=body)
    result = apply(flow(banner=(BANNER_TEXT, BANNER_HTML)), raw)
    check(raw, result.message, BANNER_ONLY)
    part = bodies(result.message)["plain"]
    assert part.cte == "base64"
    lines = part.body().splitlines()
    assert lines and all(len(line) <= 76 for line in lines)
    assert decoded(part).decode("utf-8") == BANNER_TEXT + "\r\n\r\n" + original


def _unflow(text: str, delsp: bool) -> list[str]:
    """RFC 3676 reading of format=flowed text (quote depth ignored)."""
    out: list[str] = []
    current = ""
    for line in norm(text).split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            current += line[:-1] if delsp else line
        else:
            out.append(current + line)
            current = ""
    if current:
        out.append(current)
    return out


def test_format_flowed_delsp_yes() -> None:
    original = ("Supercalifragilistic \nexpialidocious is a word that is \n"
                "soft-wrapped here.\n>quoted line\n-- \nSig\n")
    raw = build("MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
                body=original)
    banner = "CAUTION: external sender   \n>> not a quote \nFrom outside"
    result = apply(flow(banner=(banner, "<div>x</div>")), raw)
    part = bodies(result.message)["plain"]
    assert part.params.get("format") == "flowed"
    text = text_of(part)
    banner_lines = text.split("\n")[:3]
    assert banner_lines == ["CAUTION: external sender", " >> not a quote", " From outside"]
    assert text.endswith(original), "original soft breaks were not kept byte for byte"
    shown = _unflow(text, delsp=True)
    assert shown[:4] == ["CAUTION: external sender", ">> not a quote", "From outside", ""]
    assert "Supercalifragilisticexpialidocious is a word that issoft-wrapped here." in shown
    assert shown[-4:-1] == [">quoted line", "-- ", "Sig"]


# -- HTML insertion points --------------------------------------------------------------


def html_message(markup: str, charset_label: str = "utf-8") -> bytes:
    return build("MIME-Version: 1.0", f"Content-Type: text/html; charset={charset_label}",
                 body=markup)


def marked_html(marked, markup: str) -> str:
    raw = html_message(markup)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert_idempotent(marked, result.message)
    return text_of(bodies(result.message)["html"])


def test_html_body_inside_mso_conditional_comment(marked) -> None:
    markup = ('<html><head><title>t</title></head>\n'
              '<!--[if mso]><body class="outlook" style="margin:0"><![endif]-->\n'
              '<body class="real">\n<p>Hello</p>\n</body></html>\n')
    out = marked_html(marked, markup)
    assert '<body class="real">' + BANNER_HTML + "\n<p>Hello</p>" in out
    assert "<p>Hello</p>\n" + FOOTER_HTML + "</body></html>" in out
    assert_visible(out, BANNER_HTML)


@pytest.mark.parametrize("web_body", [
    '<![if !mso]><body class="web"><![endif]>',
    '<!--[if !mso]><!--><body class="web"><!--<![endif]-->',  # the same, in comment syntax
], ids=["downlevel-revealed", "comment-syntax"])
def test_html_body_inside_downlevel_revealed_block(marked, web_body: str) -> None:
    markup = ('<html><head><title>t</title></head>\n'
              f'{web_body}\n'
              '<!--[if mso]><body class="outlook"><![endif]-->\n'
              '<p>Hello</p>\n</body></html>\n')
    out = marked_html(marked, markup)
    # Outlook skips <![if !mso]> blocks, others skip [if mso] comments: the banner must
    # sit outside both, before the first content.
    assert_visible(out, BANNER_HTML)
    assert out.index(BANNER_HTML) < out.index("<p>Hello</p>")
    assert out.index(BANNER_HTML) >= out.index("</head>") + len("</head>")
    assert "<p>Hello</p>\n" + FOOTER_HTML + "</body></html>" in out


@pytest.mark.parametrize("guard", [True, False], ids=["guarded", "unguarded"])
@pytest.mark.parametrize(("space", "is_body"), [
    ("\t", True), ("\n", True), ("\f", True), (" ", True),
    ("\x0b", False), ("\xa0", False), ("\u3000", False),
])
def test_tag_name_white_space_is_html5s_for_every_insertion(
        guard: bool, space: str, is_body: bool) -> None:
    """The guarded and the unguarded insertion read a tag name with one tokenizer:
    only HTML's white space (tab, LF, FF, CR, space) ends it, so `<body\v>` is no
    body tag for either (it was for the old unguarded scanner, not for browsers)."""
    tag = f'<body{space}class="x">'
    markup = f"<html><head></head>{tag}<p>Hi</p></body></html>"
    result = load_flow(
        "rules:\n  - name: b\n    apply:\n      - banner: {html: '<b>B</b>', "
        f"guard: {str(guard).lower()}}}\n", marker_key=b"k").apply(
        _html_message(markup), Envelope("INBOUND", "a@x.example", ["b@y.example"]))
    (part,) = Message(result.message).bodies().values()
    out = part.decoded().decode("utf-8")
    at = out.index("<b>B</b>")
    assert out.index("</head>") < at < out.index("<p>Hi</p>")
    if is_body:  # after the sender's body tag (the guard adds attributes to it)
        assert out.rfind("<body", 0, at) > out.index("</head>")
    else:  # not a body at all: an unknown element the banner goes before
        assert at < out.index(f"<body{space}")


def _html_message(markup: str) -> bytes:
    return ("From: a@x.example\r\nTo: b@y.example\r\nSubject: s\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + markup + "\r\n").encode("utf-8")


def test_html_attribute_value_holding_greater_than(marked) -> None:
    tag = """<body style="font-family:'a>b'" data-x="1 > 0" title='x>y' bgcolor=#fff>"""
    markup = f"<html><head></head>{tag}<p>Hi</p></body></html>"
    out = marked_html(marked, markup)
    assert tag + BANNER_HTML + "<p>Hi</p>" in out


def test_html_script_containing_body_tags(marked) -> None:
    markup = ('<html><head><script>document.write("<body>fake</body>");</script>'
              "<style>body>p{color:red}</style></head>"
              '<body class="real"><p>Hi</p></body></html>')
    out = marked_html(marked, markup)
    assert '<body class="real">' + BANNER_HTML + "<p>Hi</p>" + FOOTER_HTML + "</body>" in out
    assert 'document.write("<body>fake</body>");' in out


@pytest.mark.parametrize(("markup", "expected"), [
    ("<html><head><title>t</title></head><p>Hi</p></html>",
     f"<html><head><title>t</title></head>{BANNER_HTML}<p>Hi</p>{FOOTER_HTML}</html>"),
    ('<html lang="de"><p>Hi</p></html>',
     f'<html lang="de">{BANNER_HTML}<p>Hi</p>{FOOTER_HTML}</html>'),
    ("<!DOCTYPE html>\n<!-- generated --><p>Hi</p>",
     f"<!DOCTYPE html>\n<!-- generated -->{BANNER_HTML}<p>Hi</p>{FOOTER_HTML}"),
    ("<p>Hi</p>", f"{BANNER_HTML}<p>Hi</p>{FOOTER_HTML}"),
    ('<!DOCTYPE html><!--[if !mso]><!--><body class="web"><!--<![endif]--><p>Hi</p>',
     f'<!DOCTYPE html>{BANNER_HTML}<!--[if !mso]><!--><body class="web"><!--<![endif]-->'
     f"<p>Hi</p>{FOOTER_HTML}"),
], ids=["after-head", "after-html", "after-doctype", "fragment", "before-non-mso-block"])
def test_html_without_body_tag(marked, markup: str, expected: str) -> None:
    assert marked_html(marked, markup) == expected


def test_html_footer_before_last_body_close(marked) -> None:
    markup = ("<html><body><p>One</p></body>\n<body><p>Two</p></body>"
              "<!-- </body> --></html>")
    out = marked_html(marked, markup)
    assert out.count(FOOTER_HTML) == 1
    assert "<p>Two</p>" + FOOTER_HTML + "</body><!-- </body> --></html>" in out
    assert out.startswith("<html><body>" + BANNER_HTML + "<p>One</p></body>")


def test_html_non_ascii_banner_in_a_charset_without_those_characters() -> None:
    raw = build("MIME-Version: 1.0", "Content-Type: text/html; charset=iso-8859-1",
                "Content-Transfer-Encoding: 8bit",
                body="<html><body><p>Caf\xe9</p></body></html>\r\n".encode("latin-1"))
    result = apply(non_ascii_flow(), raw)
    check(raw, result.message, NON_ASCII_INSERTED)
    check_decoded(raw, result.message, NON_ASCII_INSERTED)
    part = bodies(result.message)["html"]
    assert part.charset_label == "iso-8859-1", "HTML never needs transcoding"
    shown = html.unescape(text_of(part))
    assert f"<body><div>{NON_ASCII_BANNER}</div><p>Caf\xe9</p>" in shown


# -- parts that are never edited --------------------------------------------------------


INNER = (b"From: Carol <c@elsewhere.example.org>\r\n"
         b"Subject: the original\r\n"
         b"MIME-Version: 1.0\r\n"
         b'Content-Type: multipart/alternative; boundary="inner"\r\n'
         b"\r\n"
         b"--inner\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
         b"inner plain text\r\n"
         b"--inner\r\n"
         b"Content-Type: text/html; charset=utf-8\r\n\r\n"
         b"<html><body><p>inner html</p></body></html>\r\n"
         b"--inner--\r\n")


def test_forwarded_message_is_never_modified(marked) -> None:
    body = (b"--outer\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"See the forwarded message below.\r\n"
            b"--outer\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" + INNER +
            b"--outer--\r\n")
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="outer"',
                body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert INNER in result.message
    assert result.message.count(BANNER_TEXT.encode()) == 1
    assert BANNER_HTML.encode() not in result.message
    inner_part = Message(result.message).root.children[1]
    assert inner_part.ctype == "message/rfc822"
    assert inner_part.body().rstrip(b"\r\n") == INNER.rstrip(b"\r\n")


def _front_part(result_message: bytes) -> tuple[Part, list[Part]]:
    """The text part the flow put first, and the parts after it."""
    root = Message(result_message).root
    assert root.ctype == "multipart/mixed" and root.children
    first, *rest = root.children
    assert first.ctype == "text/plain" and not first.is_attachment
    return first, rest


def test_forward_as_only_content_gets_the_banner_in_front_of_it(marked) -> None:
    # A message that is only an attached message (shown inline by many clients) gets a
    # text part in front for the banner; the attached message stays byte for byte.
    part = b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + INNER
    body = b"--outer\r\n" + part + b"--outer--\r\n"
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="outer"',
                body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    first, rest = _front_part(result.message)
    assert b"MIMEOPS-BANNER-TEXT" in first.decoded()
    assert [p.buf[p.start:p.end] for p in rest] == [part.removesuffix(b"\r\n")]
    assert b"MIMEOPS-" not in rest[0].buf[rest[0].start:rest[0].end]
    assert subject_of(result.message) == "[EXTERNAL] Test message"


def test_message_rfc822_as_whole_message_gets_a_part_in_front(marked) -> None:
    raw = build("MIME-Version: 1.0", "Content-Type: message/rfc822", body=INNER)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    first, rest = _front_part(result.message)
    assert b"MIMEOPS-BANNER-TEXT" in first.decoded()
    assert len(rest) == 1 and rest[0].ctype == "message/rfc822"
    assert rest[0].buf[rest[0].body_start:rest[0].end] == INNER.removesuffix(b"\r\n") \
        or rest[0].buf[rest[0].body_start:rest[0].end] == INNER
    again = apply(marked, result.message)
    assert not again.changed


ATTACHMENTS = [
    b"Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r\n\r\n"
    b"named text part, no disposition\r\n",
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Disposition: attachment; filename=\"a.txt\"\r\n\r\n"
    b"attached plain text\r\n",
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Disposition: attachment; filename=page.html\r\n\r\n"
    b"<html><body>attached page</body></html>\r\n",
    b"Content-Type: application/octet-stream; name=blob.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=blob.bin\r\n\r\n"
    + base64.encodebytes(bytes(range(256))).replace(b"\n", b"\r\n").rstrip(b"\r\n") + b"\r\n",
]


def test_attachments_are_never_modified(marked) -> None:
    parts = [*ATTACHMENTS[:3],
             b"Content-Type: text/plain; charset=utf-8\r\n\r\nthe real body\r\n",
             ATTACHMENTS[3]]
    body = b"".join(b"--b1\r\n" + p for p in parts) + b"--b1--\r\n"
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"',
                body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    for attachment in ATTACHMENTS:
        assert attachment in result.message
    # A client that shows every inline part may show those before the body (a named
    # text part shows in Thunderbird): a text part in front carries the banner first.
    root = Message(result.message).root
    assert text_of(root.children[0]).startswith(BANNER_TEXT)
    assert BANNER_TEXT in text_of(root.children[4])
    assert result.message.count(BANNER_TEXT.encode()) == 2
    assert decoded(root.children[5]) == bytes(range(256))


def test_message_of_only_attachments_gets_a_text_part_in_front(marked) -> None:
    body = b"".join(b"--b1\r\n" + p for p in ATTACHMENTS) + b"--b1--\r\n"
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"',
                body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    first, rest = _front_part(result.message)
    assert b"MIMEOPS-BANNER-TEXT" in first.decoded() and b"MIMEOPS-FOOTER-TEXT" in first.decoded()
    assert [p.buf[p.start:p.end] for p in rest] == [a.removesuffix(b"\r\n") for a in ATTACHMENTS]


# -- hands off ----------------------------------------------------------------------------

SIGNED_BODY = (
    b"--sig\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Signed text.\r\n"
    b"--sig\r\n"
    b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n"
    b"MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIF\r\n"
    b"--sig--\r\n"
)
SIGNED = build("MIME-Version: 1.0",
               'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
               'micalg=sha-256; boundary="sig"', body=SIGNED_BODY)

HANDS_OFF = {
    "multipart/signed": (SIGNED, "signed"),
    "application/pkcs7-mime": (build(
        "MIME-Version: 1.0",
        'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="smime.p7m"',
        body="MIAGCSqGSIb3DQEHA6CAMIACAQAxggFYMIIBVAIBADA8MDcxCzAJBgNVBAYTAlVT\n"), "S/MIME"),
    "multipart/encrypted": (build(
        "MIME-Version: 1.0",
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
        'boundary="enc"',
        body=("--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
              "--enc\nContent-Type: application/octet-stream\n\n"
              "-----BEGIN PGP MESSAGE-----\n\nhQEMA1\n-----END PGP MESSAGE-----\n"
              "--enc--\n")), "encrypted"),
    "text/calendar": (build(
        "MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="alt"',
        body=("--alt\nContent-Type: text/plain; charset=utf-8\n\nYou are invited.\n"
              "--alt\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\n\n"
              "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:1@example.net\n"
              "END:VEVENT\nEND:VCALENDAR\n--alt--\n")), "calendar"),
    "multipart/report": (build(
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="rep"',
        body=("--rep\nContent-Type: text/plain\n\nDelivery failed.\n"
              "--rep\nContent-Type: message/delivery-status\n\n"
              "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; x@example.org\n"
              "Action: failed\nStatus: 5.1.1\n--rep--\n")), "report"),
    "inline-pgp": (build(
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        body=("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nPay 10 EUR.\n"
              "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n"
              "-----END PGP SIGNATURE-----\n")), "PGP"),
}


@pytest.mark.parametrize("kind", list(HANDS_OFF))
def test_protected_messages_are_skipped_unchanged(kind: str) -> None:
    raw, reason = HANDS_OFF[kind]
    skipping = flow(banner=(BANNER_TEXT, BANNER_HTML), prefix="[EXTERNAL]", protected="skip")
    result = skipping.apply(raw, ENVELOPE)
    assert result.skipped, f"{kind} was not skipped"
    assert reason.lower() in result.skipped.lower()
    assert not result.changed
    assert result.message == raw
    assert result.applied == []


# Encrypted content may hold HTML once Thunderbird decrypts it inline, next to the banner:
# attached as a file (docs/rendering.md); the rest as a message clients open in place.
_AS_FILE = {"application/pkcs7-mime", "multipart/encrypted"}


@pytest.mark.parametrize("kind", [k for k in HANDS_OFF if k != "multipart/report"])
def test_protected_messages_from_outside_are_wrapped_by_default(marked, kind: str) -> None:
    raw, _ = HANDS_OFF[kind]
    result = marked.apply(raw, ENVELOPE)
    assert result.changed and result.skipped is None and result.fallback is None
    attached = Message(result.message).root.children[1]  # type: ignore[index]
    if kind in _AS_FILE:
        assert attached.ctype == "application/octet-stream" and attached.decoded() == raw
    else:
        assert attached.ctype == "message/rfc822" and attached.body() == raw
    assert subject_of(result.message) == "[EXTERNAL] Test message"
    assert not marked.apply(result.message, ENVELOPE).changed


def test_protected_headers_policy_edits_subject_only() -> None:
    flow_ = flow(banner=(BANNER_TEXT, BANNER_HTML), footer=(FOOTER_TEXT, FOOTER_HTML),
                 prefix="[EXTERNAL]", protected="headers")
    result = flow_.apply(SIGNED, ENVELOPE)
    assert result.skipped and "signed" in result.skipped
    assert result.changed
    assert result.applied == ["mark:subject_prefix"]
    assert subject_of(result.message) == "[EXTERNAL] Test message"
    assert body_of(result.message).endswith(SIGNED_BODY)
    assert body_of(result.message).lstrip(b"\r\n") == SIGNED_BODY
    assert Message(result.message).root.children[0].body() == b"Signed text."
    assert_idempotent(flow_, result.message)


# -- subject -------------------------------------------------------------------------------


def _prefixed(subject: str, prefix: str = "[EXTERNAL]") -> bytes:
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                subject=subject, body="hi\n")
    return flow(prefix=prefix).apply(raw, ENVELOPE).message


@pytest.mark.parametrize(("subject", "decoded_subject"), [
    ("=?utf-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
    ("=?iso-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=", "Grüße aus Köln"),
    ("=?utf-8?Q?caf=C3=A9?= =?utf-8?Q?_au_lait?=", "café au lait"),
    ("=?shift_jis?B?k/qWe4zq?=", "日本語"),
])
def test_subject_prefix_on_encoded_word_subject(subject: str, decoded_subject: str) -> None:
    result = _prefixed(subject)
    assert subject_of(result) == f"[EXTERNAL] {decoded_subject}"
    assert subject.encode() in result, "the original encoded words were not kept"


@pytest.mark.parametrize("subject", [
    "Re: [EXTERNAL] status",
    "[external] lower case",
    "Fwd: RE: [EXTERNAL]",
    "=?utf-8?Q?Re:_[EXTERNAL]_gr=C3=BC=C3=9Fe?=",
    "=?utf-8?B?UmU6IFtFWFRFUk5BTF0geA==?=",
])
def test_subject_prefix_not_repeated(subject: str) -> None:
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                subject=subject, body="hi\n")
    result = flow(prefix="[EXTERNAL]").apply(raw, ENVELOPE)
    assert not result.changed
    assert result.message == raw


@pytest.mark.parametrize("subject", [
    "=?iso-8859-1?Q?Gr=FC=DFe?=",
    "=?utf-8?B?R3LDvMOfZQ==?=",
])
def test_non_ascii_prefix_next_to_encoded_word_keeps_the_space(subject: str) -> None:
    result = _prefixed(subject, prefix="⚠ EXTERN")
    assert subject_of(result) == "⚠ EXTERN Grüße"
    header_value = re.search(rb"Subject:((?:.*\r\n)(?:[ \t].*\r\n)*)", result).group(1)
    decoded_pairs = email.header.decode_header(header_value.decode("ascii"))
    joined = "".join(part.decode(cs or "ascii") if isinstance(part, bytes) else part
                     for part, cs in decoded_pairs)
    assert joined.strip() == "⚠ EXTERN Grüße"


def test_non_ascii_prefix_on_plain_subject_is_encoded() -> None:
    result = _prefixed("Hello there", prefix="⚠ EXTERN")
    assert subject_of(result).split() == ["⚠", "EXTERN", "Hello", "there"]
    assert b"Hello there" in result
    assert not long_lines(result)
    assert result.isascii()


def test_non_ascii_prefix_on_plain_subject_single_space() -> None:
    assert subject_of(_prefixed("Hello there", prefix="⚠ EXTERN")) == "⚠ EXTERN Hello there"


def test_prefix_on_subject_starting_on_a_continuation_line() -> None:
    assert subject_of(_prefixed("\r\n Hello folded")) == "[EXTERNAL] Hello folded"


def test_subject_of_990_characters_is_folded() -> None:
    words = ("lorem ipsum dolor sit amet " * 40)[:989] + "z"
    assert len(words) == 990
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                subject=words, body="hi\n")
    assert long_lines(raw) == [999]
    result = flow(prefix="[EXTERNAL]").apply(raw, ENVELOPE).message
    assert not long_lines(result)
    assert subject_of(result) == "[EXTERNAL] " + words.rstrip()
    assert words.encode() in result, "the original value was re-encoded"


def test_long_non_ascii_subject_prefix_is_folded() -> None:
    subject = "=?utf-8?B?" + base64.b64encode(("ü" * 30).encode()).decode() + "?="
    result = _prefixed(subject, prefix="⚠ EXTERN " * 12)
    assert not long_lines(result)
    assert subject_of(result) == ("⚠ EXTERN " * 12).strip() + " " + "ü" * 30


# -- line endings, sizes, degenerate messages ---------------------------------------------


def test_mixed_line_endings_message(marked) -> None:
    raw = (b"From: Sender <s@outside.example.net>\r\n"
           b"To: b@example.com\n"
           b"Subject: mixed\r\n"
           b"MIME-Version: 1.0\r\n"
           b'Content-Type: multipart/alternative; boundary="m"\r\n'
           b"\r\n"
           b"preamble\n"
           b"--m\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\n"
           b"line one\r\n"
           b"line two\n"
           b"--m  \r\n"
           b"Content-Type: text/html; charset=utf-8\n"
           b"\r\n"
           b"<html><body>\n<p>hi</p>\r\n</body></html>\n"
           b"--m--\t\r\n"
           b"epilogue\n")
    assert Message(raw).to_bytes() is raw
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert b"Subject: [EXTERNAL] mixed\r\n" in result.message
    assert re.search(rb"X-Mimeops-Processed: [^\r\n]*\r\n\r\n", result.message)
    plain = text_of(bodies(result.message)["plain"])
    assert plain.startswith(BANNER_TEXT + "\n\nline one\nline two")
    assert plain.endswith(FOOTER_TEXT + "\n")
    assert_idempotent(marked, result.message)


def test_ten_thousand_header_lines(marked) -> None:
    received = [f"Received: from relay{i}.example.net by mx.example.com; "
                f"Mon, 03 Mar 2025 10:00:{i % 60:02d} +0000" for i in range(10_000)]
    raw = build(*received, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                body="deep header body\n")
    message = Message(raw)
    assert message.to_bytes() is raw
    assert len(message.root.header.fields) == 10_000 + 7
    for part in message.root.walk():
        part.header.dirty = True
    assert message.root.to_bytes() == raw
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert len(Message(result.message).root.header.fields) == 10_000 + 8


def test_fifty_level_nested_multipart(marked) -> None:
    depth = 50
    head = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1)
        for i in range(depth - 1))
    leaf = b"--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ndeep text\r\n" % (
        depth - 1)
    tail = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b0"',
                body=head + leaf + tail)
    message = Message(raw)
    assert message.to_bytes() is raw
    assert max(p.depth for p in message.root.walk()) == depth
    for part in message.root.walk():
        part.header.dirty = True
    assert message.root.to_bytes() == raw
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    innermost = bodies(result.message)["plain"]
    assert innermost.depth == depth
    assert text_of(innermost).startswith(BANNER_TEXT + "\n\ndeep text")


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_headers_only_message_without_trailing_newline(eol: bytes) -> None:
    raw = eol.join([b"From: a@outside.example.net", b"To: b@example.com",
                    b"Subject: no body"])
    flow_ = flow(extra_ops=[{"add_header": {"name": "X-Scanned", "value": "yes"}}])
    result = flow_.apply(raw, ENVELOPE)
    assert result.changed
    assert result.message.startswith(raw + eol + b"X-Scanned: yes" + eol)
    parsed = parses(result.message)
    assert parsed["X-Scanned"] == "yes"
    assert parsed["Subject"] == "no body"
    assert parsed["From"] == "a@outside.example.net"
    assert not parsed.defects

    marked = load_flow(MARKED_FLOW, marker_key=MARKER_KEY)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    parsed = parses(result.message)
    assert parsed["Subject"] == "[EXTERNAL] no body"
    assert BANNER_TEXT in parsed.get_content()


def test_8bit_part_with_8bit_bytes_becomes_quoted_printable(marked) -> None:
    original = "Grüße aus Köln\nZweite Zeile ✓\n"
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit", body=original)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    part = bodies(result.message)["plain"]
    assert part.cte == "quoted-printable"
    assert result.message.isascii()
    assert text_of(part) == f"{BANNER_TEXT}\n\n{original}\n{FOOTER_TEXT}\n"
    assert result.message.count(b"Content-Transfer-Encoding") == 1


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_lines_over_998_octets_in_target_are_broken(marked, subtype: str) -> None:
    long = "word " * 600 + "end"  # 3003 characters, one line
    content = long + "\n" if subtype == "plain" else f"<html><body><p>{long}</p></body></html>\n"
    raw = build("MIME-Version: 1.0", f"Content-Type: text/{subtype}; charset=us-ascii",
                body=content)
    assert long_lines(raw)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert not long_lines(result.message)
    part = bodies(result.message)[subtype]
    assert part.cte in ("quoted-printable", "base64")
    assert long in text_of(part)


# -- charsets Python reads differently from mail ----------------------------------------------


@pytest.mark.parametrize("label", ["base64", "hex", "rot13", "zlib", "uu", "quopri"])
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_codec_names_that_are_not_charsets_are_unknown_labels(
        marked, label: str, subtype: str) -> None:
    # Python's codec registry has bytes-to-bytes and str-to-str codecs under these
    # names; to mail they are unknown labels, not a reason to crash.
    content = "Hello <b>there</b>\n" if subtype == "plain" else "<body><p>Hello</p></body>\n"
    raw = build("MIME-Version: 1.0", f"Content-Type: text/{subtype}; charset={label}",
                body=content, subject=f"=?{label}?Q?41?= subject")
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    assert result.applied == ["mark:banner", "mark:footer", "mark:subject_prefix"]
    assert f"Subject: [EXTERNAL] =?{label}?Q?41?= subject\r\n".encode() in result.message
    other = apply(non_ascii_flow(), raw)
    check(raw, other.message, NON_ASCII_INSERTED)
    check_decoded(raw, other.message, NON_ASCII_INSERTED)
    # Plain text is transcoded to UTF-8; HTML keeps its label, the banner as &#...;
    expected = "utf-8" if subtype == "plain" else label
    assert bodies(other.message)[subtype].charset_label == expected


def _wide(text: str, codec: str) -> bytes:
    return text.replace("\n", "\r\n").encode(codec)


@pytest.mark.parametrize(("label", "codec", "cte"), [
    ("utf-16", "utf-16", "base64"),
    ("utf-16le", "utf-16-le", "quoted-printable"),
    ("utf-16be", "utf-16-be", "8bit"),
    ("utf-32", "utf-32", "binary"),
])
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_utf16_and_utf32_parts(label: str, codec: str, cte: str, subtype: str) -> None:
    text = "Grüße aus Köln ✓\nzweite Zeile\n"
    if subtype == "html":
        text = f"<html><body>\n<p>{text}</p>\n</body></html>\n"
    data = _wide(text, codec)
    if cte == "base64":
        body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        # Binary mode: 0x0A bytes inside UTF-16 are encoded, not line breaks.
        body = binascii.b2a_qp(data, istext=False).replace(b"\n", b"\r\n")
    else:
        body = data
    raw = build("MIME-Version: 1.0", f"Content-Type: text/{subtype}; charset={label}",
                f"Content-Transfer-Encoding: {cte}", body=body)
    for flow_, inserted in ((load_flow(MARKED_FLOW, marker_key=MARKER_KEY), INSERTED),
                            (non_ascii_flow(), NON_ASCII_INSERTED)):
        result = apply(flow_, raw)
        check_decoded(raw, result.message, inserted)
        part = bodies(result.message)[subtype]
        assert part.charset_label == label
        shown = text_of(part)  # strict: every code unit still in place
        if subtype == "html":
            banner, footer = (html.unescape(s) for s in inserted["html"])
            shown = html.unescape(shown)
            assert shown == norm(text).replace("<body>", "<body>" + banner).replace(
                "</body>", footer + "</body>")
        else:
            banner, footer = inserted["plain"]
            assert shown == f"{banner}\n\n{norm(text)}\n{footer}\n"
        assert not long_lines(result.message)
        assert transfer.needs_reencoding(part.body()) is False or part.cte == "base64"


@pytest.mark.parametrize(("label", "data"), [
    ("utf-16", b"\xff\xfeh\x00i\x00x"),           # truncated: odd number of bytes
    ("iso-2022-jp", b"abc \x1b$B\xff\xfe\x1b(B\r\n"),  # 8-bit bytes in a 7-bit charset
    ("utf-7", "caf\xe9 +AGE-\r\n".encode("latin-1")),
])
def test_undecodable_text_in_a_non_ascii_compatible_charset_is_left_alone(
        marked, label: str, data: bytes) -> None:
    """Left alone, and the banner goes in a text part in front of it; 7-bit ISO-2022 text
    starts in ASCII whatever follows: the banner goes at its top, in its own bytes."""
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    raw = build("MIME-Version: 1.0", f"Content-Type: text/plain; charset={label}",
                "Content-Transfer-Encoding: base64", body=body)
    for flow_ in (marked, non_ascii_flow()):
        result = apply(flow_, raw)
        assert result.applied == ["mark:banner", "mark:footer", "mark:subject_prefix"]
        root = Message(result.message).root
        if label == "iso-2022-jp" and flow_ is marked:  # an ASCII banner fits
            assert root.decoded() == (b"MIMEOPS-BANNER-TEXT\r\n\r\n" + data
                                      + b"\r\n\x1b(BMIMEOPS-FOOTER-TEXT\r\n")
            continue
        assert result.fallback == "front" and result.bare
        assert root.children[1].body() == body  # type: ignore[index]


def test_iso_2022_jp_written_by_another_encoder_keeps_its_text(marked) -> None:
    # ESC ( J (JIS X 0201 Roman) where Python would write ESC ( B: the part is
    # re-encoded, so bytes may change, but not one character of the text.
    original = "日本語".encode("iso2022_jp") + b" \x1b(Jabc\x1b(B\r\n" + (
        "テスト".encode("iso2022_jp") + b"\r\n")
    raw = build("MIME-Version: 1.0", "Content-Type: text/plain; charset=ISO-2022-JP",
                body=original)
    for flow_, inserted in ((marked, INSERTED), (non_ascii_flow(), NON_ASCII_INSERTED)):
        result = apply(flow_, raw)
        check_decoded(raw, result.message, inserted)
        shown = text_of(bodies(result.message)["plain"])
        assert "日本語 abc\nテスト\n" in shown
        assert shown.startswith(inserted["plain"][0])
        assert result.message.isascii()


# -- odd multipart children ---------------------------------------------------------------------


@pytest.mark.parametrize("child", [
    b"Hello world, no header block at all\r\n",
    b"",
    b"Content-Type: text/plain\r\n",
], ids=["no-headers", "empty", "headers-only"])
def test_banner_with_a_colon_into_a_child_without_blank_line(child: bytes) -> None:
    # "CAUTION: ..." looks like a header field: the part must get its blank line.
    banner = "CAUTION: external sender"
    raw = build("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"',
                body=b"--b\r\n" + child + b"--b--\r\n")
    inserted = {"plain": [banner], "html": ["<div>x</div>"]}
    result = apply(flow(banner=(banner, "<div>x</div>")), raw)
    check(raw, result.message, inserted)
    parsed = [p for p in parses(result.message).walk() if not p.is_multipart()]
    assert len(parsed) == 1
    assert parsed[0].get_content_type() == "text/plain"
    assert parsed[0].get_content().startswith(banner + "\r\n\r\n")
    assert "CAUTION" not in parsed[0]


def test_related_start_parameter_picks_the_root(marked) -> None:
    body = (b"--r\r\nContent-Type: image/png\r\nContent-ID: <img@x>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
            b"--r\r\nContent-Type: text/html; charset=utf-8\r\nContent-ID: <root@x>\r\n\r\n"
            b"<html><body><img src=cid:img@x></body></html>\r\n--r--\r\n")
    raw = build("MIME-Version: 1.0",
                'Content-Type: multipart/related; type="text/html"; start="<root@x>"; '
                'boundary="r"', body=body)
    result = apply(marked, raw)
    check(raw, result.message, INSERTED)
    root = Message(result.message).root
    assert root.children[0].body() == b"iVBORw0KGgo="
    assert BANNER_HTML in text_of(root.children[1])
