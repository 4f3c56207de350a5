"""Hypothesis strategies for whole MIME messages, written byte by byte.

A message is drawn as a tree of specs (multiparts, text and HTML leaves,
attachments, attached messages) and rendered to lines; the line breaks (LF,
CRLF or a random mix) are applied last, so every line of every entity can end
either way. The generator knows things the parser has to rediscover: which
`<body>` tag is the real one, and that every entity has a blank line between
header and body.
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field

from hypothesis import strategies as st

# (label written in Content-Type or None, codec the content is encoded with, extra chars)
CHARSETS: dict[str, tuple[str | None, str, str]] = {
    "utf-8": ("utf-8", "utf-8", "äöüßé€—✓😀日本"),
    "iso-8859-1": ("iso-8859-1", "latin-1", "äöüßéàç©°½"),
    "windows-1252": ("windows-1252", "cp1252", "äöü€\u2018\u2019“”—…"),
    "us-ascii": ("us-ascii", "ascii", ""),
    "shift_jis": ("shift_jis", "shift_jis", "日本語テキストのあいう"),
    "iso-2022-jp": ("iso-2022-jp", "iso2022_jp", "日本語テキストのあいう"),
    "none": (None, "latin-1", "äöüé"),
    "unknown": ("x-foo", "latin-1", "äöüé"),
    "latin1-as-utf8": ("utf-8", "latin-1", "äöüßé£½"),
    # Python knows "hex" as a bytes-to-bytes codec: to mail it is an unknown label.
    "codec-not-charset": ("hex", "latin-1", "äöüé"),
    # Not ASCII-compatible: carried in base64 only, as real mail does.
    "utf-16le": ("utf-16le", "utf-16-le", "äöü€日本😀"),
}
# No "_" anywhere in content: every boundary contains "=_", so none can occur by chance.
ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-/+*#%@="
HTML_SAFE = ASCII.replace('"', "").replace("'", "")
SPECIAL_LINES = ["-- ", "> quoted reply", ">> deeper", "From the start", " leading space",
                 "trailing spaces  ", "tab\tinside", ".", "", "=3D looks like QP", "=="]
REAL_BODY_TAGS = [
    '<body data-real="1">',
    '<body data-real="1" style="margin:0" bgcolor=#ffffff>',
    """<body data-real="1" title="a > b" data-x='1>0'>""",
    '<BODY data-real="1"\n  class="x">',
]
CTE_LABELS = ["7bit", "8bit", "quoted-printable", "base64"]
SUBJECTS = [
    "Hello world",
    "=?utf-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=",
    "=?iso-8859-1?Q?Gr=FC=DFe?= aus =?iso-8859-1?Q?K=F6ln?=",
    "Re: [EXTERNAL] already tagged",
    "Grüße, raw UTF-8",
    "A folded\n subject line",
    None,
]
MAX_DEPTH = 4


def random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))


@dataclass
class Leaf:
    """A non-multipart entity: header lines and body lines (bytes, no line breaks)."""

    headers: list[bytes]
    body: list[bytes]
    kind: str = "other"           # plain | html | attachment | message
    real_body_tag: str | None = None
    payload: bytes | None = None  # what the body decodes to (line breaks as LF)


@dataclass
class Multi:
    subtype: str
    children: list[Leaf | Multi]
    headers: list[bytes] = field(default_factory=list)
    preamble: list[bytes] = field(default_factory=list)
    epilogue: list[bytes] = field(default_factory=list)
    padding: list[bytes] = field(default_factory=list)  # after each delimiter, then close
    missing_close: bool = False
    quoted: bool = True
    decoy: bytes = b""  # "--boundary" + this, in the preamble: not a delimiter line


class Renderer:
    """Spec tree to lines; boundaries numbered in render order, all the same length."""

    def __init__(self) -> None:
        self.count = 0

    def entity(self, spec: Leaf | Multi) -> list[bytes]:
        if isinstance(spec, Leaf):
            return [*spec.headers, b"", *spec.body]
        self.count += 1
        boundary = b"=_mo%04d" % self.count
        quoted = b'"%s"' % boundary if spec.quoted else boundary
        lines = [*spec.headers,
                 b"Content-Type: multipart/%s; boundary=%s" % (spec.subtype.encode(), quoted),
                 b"", *spec.preamble]
        if spec.decoy:
            lines.append(b"--" + boundary + spec.decoy)
        pad = iter(spec.padding)
        for child in spec.children:
            lines.append(b"--" + boundary + next(pad, b""))
            lines.extend(self.entity(child))
        if not spec.missing_close:
            lines.append(b"--" + boundary + b"--" + next(pad, b""))
            lines.extend(spec.epilogue)
        return lines


def join_lines(lines: list[bytes], mode: str, rnd: random.Random, final_eol: bool) -> bytes:
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i < len(lines) - 1 or final_eol:
            if mode == "mixed":
                out.append(rnd.choice((b"\n", b"\r\n")))
            else:
                out.append(b"\r\n" if mode == "CRLF" else b"\n")
    return b"".join(out)


# -- leaves ---------------------------------------------------------------------------------


@st.composite
def text_lines(draw: st.DrawFn, extra: str, *, html_safe: bool = False,
               long_lines: bool = False) -> list[str]:
    alphabet = (HTML_SAFE if html_safe else ASCII) + extra
    line = st.text(alphabet=alphabet, max_size=70)
    choices = line if html_safe else st.one_of(line, line, st.sampled_from(SPECIAL_LINES))
    lines = draw(st.lists(choices, min_size=0, max_size=6))
    if long_lines and draw(st.booleans()):
        width = draw(st.integers(999, 2500))
        lines.insert(draw(st.integers(0, len(lines))),
                     draw(st.text(alphabet=alphabet, min_size=20, max_size=20)) * (width // 20))
    return lines


@st.composite
def html_markup(draw: st.DrawFn, extra: str, long_lines: bool) -> tuple[list[str], str | None]:
    """HTML lines and the real <body> tag (None when the document has none)."""
    lines: list[str] = []
    has_html, has_head, has_body = (draw(st.booleans()) for _ in range(3))
    if draw(st.booleans()):
        lines.append("<!DOCTYPE html>")
    if draw(st.booleans()):
        lines.append("<!-- generated -->")
    if has_html:
        lines.append(draw(st.sampled_from(["<html>", '<html lang="de">', "<HTML>"])))
    if has_head:
        lines.append("<head><title>t</title>")
        lines.extend(draw(st.lists(st.sampled_from([
            '<meta name="x" content="a>b">',
            "<style>p>a{color:red} body{margin:0}</style>",
            "<script>var s = '<body>' + \"</body>\";</script>",
            '<!--[if mso]><style>.x{}</style><![endif]-->',
        ]), max_size=3)))
        lines.append("</head>")
    decoys = draw(st.lists(st.sampled_from([
        '<!--[if mso]><body class="outlook"><![endif]-->',
        '<![if !mso]><body class="web"><![endif]>',
        '<!--[if !mso]><!--><body class="web2"><!--<![endif]-->',
        "<!-- <body> in a comment -->",
    ]), max_size=2))
    real = draw(st.sampled_from(REAL_BODY_TAGS)) if has_body else None
    lines.extend(decoys)
    if real:
        lines.append(real)
    for text in draw(text_lines(extra, html_safe=True, long_lines=long_lines)):
        lines.append(draw(st.sampled_from(["<p>{}</p>", "{}<br>", "<div>{}</div>", "{}"]))
                     .format(text))
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from([
                "<!--[if mso]><table><tr><td><![endif]-->",
                "<![if !mso]><div>not outlook</div><![endif]>",
                "<!-- a comment -->",
            ])))
    if real:
        lines.append("</body>")
    if has_html:
        lines.append("</html>")
    return lines, real


def encode_lines(lines: list[str], codec: str) -> list[bytes]:
    # Stateful encodings (ISO-2022-JP) return to ASCII at the end of every line.
    return [line.encode(codec) for line in lines]


def cte_body(draw: st.DrawFn, lines: list[str], codec: str, cte: str,
             crlf: bool) -> tuple[list[bytes], bytes]:
    """Body lines carrying the text `lines` under `cte`, and what they decode to."""
    trailing = draw(st.booleans()) and bool(lines)
    if codec.startswith("utf-16"):
        # Line breaks are two bytes here: encode the whole text at once, in base64.
        sep = "\r\n" if crlf else "\n"
        data = (sep.join(lines) + (sep if trailing else "")).encode(codec)
        return base64.encodebytes(data).split(b"\n")[:-1], data
    content = encode_lines(lines, codec)
    expected = b"\n".join(content) + (b"\n" if trailing else b"")
    if cte in ("7bit", "8bit", "binary"):
        return ([*content, b""] if trailing else content), expected
    if cte == "base64":
        data = expected.replace(b"\n", b"\r\n") if crlf else expected
        return base64.encodebytes(data).split(b"\n")[:-1], expected
    encoded = binascii.b2a_qp(expected, istext=True).split(b"\n")
    if not trailing and encoded and encoded[-1] and draw(st.booleans()):
        encoded[-1] += b"="  # a soft break at the very end
    return encoded, expected


@st.composite
def text_leaf(draw: st.DrawFn, long_lines: bool = False, kind: str | None = None) -> Leaf:
    kind = kind or draw(st.sampled_from(["plain", "html"]))
    label, codec, extra = CHARSETS[draw(st.sampled_from(sorted(CHARSETS)))]
    if extra and draw(st.integers(0, 3)) == 0:
        extra = ""  # ASCII-only text in a non-ASCII charset
    real = None
    if kind == "html":
        lines, real = draw(html_markup(extra, long_lines))
    else:
        lines = draw(text_lines(extra, long_lines=long_lines))
    content = encode_lines(lines, codec)
    eight_bit = any(not line.isascii() for line in content)
    too_long = any(len(line) > 998 for line in content)
    ctes = ["8bit", "quoted-printable", "base64", "binary"] if eight_bit or too_long else [
        *CTE_LABELS, None]
    cte = "base64" if codec.startswith("utf-16") else draw(st.sampled_from(ctes))
    ctype = f"text/{kind}"
    if label:
        quoted = draw(st.booleans())
        ctype += f'; charset="{label}"' if quoted else f"; charset={random_case(draw, label)}"
    if kind == "plain" and draw(st.integers(0, 3)) == 0:
        ctype += "; format=flowed" + draw(st.sampled_from(["", "; delsp=yes", "; DelSp=no"]))
        lines = [line + " " if line and draw(st.booleans()) else line for line in lines]
    headers = [f"{random_case(draw, 'content-type')}: {ctype}".encode()]
    if cte:
        headers.append(f"Content-Transfer-Encoding: {random_case(draw, cte)}".encode())
    if draw(st.integers(0, 4)) == 0:
        headers.append(draw(st.sampled_from([
            b"Content-Disposition: inline", b"Content-Disposition: inline; filename=body.txt",
            b"Content-Description: the\r\n body"])))
    body, expected = cte_body(draw, lines, codec, (cte or "7bit").lower(), draw(st.booleans()))
    return Leaf(headers, body, kind, real, expected)


@st.composite
def attachment_leaf(draw: st.DrawFn) -> Leaf:
    n = draw(st.integers(0, 99))
    style = draw(st.sampled_from(["binary", "binary-named", "text", "text-named", "inline-img"]))
    if style.startswith("text"):
        payload = "\n".join(draw(text_lines("äöü"))).encode("utf-8") + b"\n"
        headers = [b'Content-Type: text/plain; charset=utf-8; name="notes%d.txt"' % n]
        if style == "text":
            headers.append(b"Content-Disposition: attachment; filename=notes%d.txt" % n)
        cte = draw(st.sampled_from(["base64", "quoted-printable"]))
    else:
        payload = draw(st.binary(max_size=300))
        ctype = b"image/png" if style == "inline-img" else b"application/octet-stream"
        headers = [b"Content-Type: %s; name=file%d.bin" % (ctype, n)]
        if style == "binary":
            headers.append(b'Content-Disposition: attachment; filename="file%d.bin"' % n)
        elif style == "inline-img":
            headers.append(b"Content-Disposition: inline; filename=file%d.bin" % n)
            headers.append(b"Content-ID: <img%d@example.net>" % n)
        cte = "base64"
    headers.append(f"Content-Transfer-Encoding: {random_case(draw, cte)}".encode())
    if cte == "base64":
        body = base64.encodebytes(payload).split(b"\n")[:-1]
    else:
        body = binascii.b2a_qp(payload, istext=True).split(b"\n")
    return Leaf(headers, body, "attachment", payload=payload)


@st.composite
def message_leaf(draw: st.DrawFn, depth: int) -> Leaf:
    """An attached message: its own headers and a random (smaller) tree."""
    inner = draw(entity(depth + 1, allow_message=False))
    lines = Renderer().entity(inner)
    # Renumber the inner boundaries so they cannot collide with the outer ones.
    lines = [line.replace(b"=_mo", b"=_in") for line in lines]
    headers = [b"From: Carol <c@elsewhere.example.org>", b"Subject: inner message",
               b"MIME-Version: 1.0"]
    return Leaf([b"Content-Type: message/rfc822"], headers + lines, "message")


@st.composite
def entity(draw: st.DrawFn, depth: int = 0, *, long_lines: bool = False,
           allow_message: bool = True) -> Leaf | Multi:
    """A multipart (likelier near the top) or a leaf (mostly text)."""
    if depth < MAX_DEPTH and draw(st.integers(0, 9)) < (7 if depth == 0 else 4):
        return draw(multipart(depth, long_lines, allow_message))
    kind = draw(st.integers(0, 9))
    if depth > 0 and kind == 8:
        return draw(attachment_leaf())
    if depth > 0 and kind == 9 and allow_message:
        return draw(message_leaf(depth))
    return draw(text_leaf(long_lines))


@st.composite
def multipart(draw: st.DrawFn, depth: int, long_lines: bool, allow_message: bool) -> Multi:
    subtype = draw(st.sampled_from(["mixed", "alternative", "related"]))
    if subtype == "alternative" and draw(st.booleans()):
        children: list[Leaf | Multi] = [draw(text_leaf(long_lines, "plain")),
                                        draw(text_leaf(long_lines, "html"))]
    else:
        width = draw(st.integers(1, 3 if depth < 2 else 2))
        children = [draw(entity(depth + 1, long_lines=long_lines, allow_message=allow_message))
                    for _ in range(width)]
    padding = draw(st.lists(st.sampled_from([b"", b"", b" ", b"\t", b"  \t"]),
                            min_size=len(children) + 1, max_size=len(children) + 1))
    junk = st.lists(st.sampled_from([b"This is a multi-part message in MIME format.",
                                     b"", b"preamble or epilogue text"]), max_size=2)
    return Multi(subtype, children, preamble=draw(junk), epilogue=draw(junk),
                 padding=padding, missing_close=draw(st.integers(0, 5)) == 0,
                 quoted=draw(st.booleans()),
                 decoy=draw(st.sampled_from([b"", b"", b"", b"-x", b"--x", b"x --"])))


@dataclass
class Generated:
    raw: bytes
    spec: Leaf | Multi
    eol_mode: str

    def leaves(self) -> list[Leaf]:
        out: list[Leaf] = []

        def walk(spec: Leaf | Multi) -> None:
            if isinstance(spec, Leaf):
                out.append(spec)
            else:
                for child in spec.children:
                    walk(child)

        walk(self.spec)
        return out


@st.composite
def messages(draw: st.DrawFn, long_lines: bool = False) -> Generated:
    spec = draw(entity(0, long_lines=long_lines))
    top = [b"From: Sender <s@outside.example.net>", b"To: b@example.com",
           b"Date: Mon, 03 Mar 2025 10:00:00 +0000", b"Message-ID: <m@outside.example.net>"]
    subject = draw(st.sampled_from(SUBJECTS))
    if subject is not None:
        top.extend(("Subject: " + subject).encode().split(b"\n"))
    if draw(st.booleans()):
        top.append(b"X-Folded: first part")
        top.append(b"\tsecond part")
    top.append(b"MIME-Version: 1.0")
    spec_lines = Renderer().entity(spec)
    mode = draw(st.sampled_from(["LF", "CRLF", "mixed"]))
    rnd = draw(st.randoms(use_true_random=False))
    raw = join_lines(top + spec_lines, mode, rnd, final_eol=draw(st.booleans()))
    return Generated(raw, spec, mode)
