"""Benchmark messages, generated deterministically (same seed, same bytes), CRLF.

* `standard(size)`: what a flow meets every day, scaled up. multipart/mixed
  holding a multipart/alternative (text/plain and text/html, both
  quoted-printable UTF-8 with some non-ASCII text) and base64 attachments of
  random bytes that make up the rest of the size.
* `many_parts(n)`, `nested(depth)`, `long_lines(size)`, `many_headers(lines)`:
  the scaling shapes, each growing in one dimension only.
"""

from __future__ import annotations

import binascii
import random

CRLF = b"\r\n"
KB = 1024
MB = 1024 * 1024
SENDER = "m.dupont@partner.example.net"
RECIPIENT = "jane.doe@example.com"
# A base64 line: 76 characters for 57 bytes, plus CRLF.
_B64_LINE_RAW, _B64_LINE = 57, 78
_MAX_ATTACHMENT = 6 * MB  # encoded size of one attachment at most
_TEXT_MAX, _HTML_MAX = 40 * KB, 120 * KB
# Boundaries as Gmail writes them (28 characters); Outlook's are longer still.
MIXED_BOUNDARY = "000000000000b7f1e2061a8b3c7d"
ALT_BOUNDARY = "000000000000b7f1df061a8b3c7b"

_WORDS = (
    "the", "quarterly", "delivery", "plan", "for", "Zürich", "and", "Málaga", "is",
    "attached", "please", "review", "pricing", "before", "Friday", "—", "the", "€-amounts",
    "include", "VAT;", "déjà", "vu", "naïve", "façade", "schedule", "invoice", "warehouse",
    "pallet", "logistics", "confirmation", "reference", "order",
)


def _top_header(subject: str, content_type: str, seed: int, extra: bytes = b"") -> bytes:
    return (
        f"From: Marie Dupont <{SENDER}>\r\n"
        f"To: Jane Doe <{RECIPIENT}>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 04 Jun 2024 09:15:00 +0200\r\n"
        f"Message-ID: <bench-{seed}@partner.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode() + extra + f"Content-Type: {content_type}\r\n\r\n".encode()


def _prose(rng: random.Random, size: int) -> str:
    """Lines of up to ~72 characters of words (some non-ASCII), about `size` UTF-8 bytes."""
    lines: list[str] = []
    total = 0
    while total < size:
        words: list[str] = []
        width = 0
        while width < 64:
            word = rng.choice(_WORDS)
            words.append(word)
            width += len(word) + 1
        line = " ".join(words)
        lines.append(line)
        total += len(line.encode("utf-8")) + 2
    return "\n".join(lines) + "\n"


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line breaks."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    return encoded.replace(b"\n", CRLF)


def _html(rng: random.Random, size: int) -> str:
    paragraphs: list[str] = []
    total = 0
    while total < size:
        body = _prose(rng, 300).replace("\n", " ").strip()
        para = f'<p class="c{rng.randrange(9)}" style="margin:0 0 8px 0">{body}</p>'
        paragraphs.append(para)
        total += len(para.encode("utf-8")) + 1
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<style>p { font-family: Arial, sans-serif; }</style></head>\n"
        '<body><div class="content">\n' + "\n".join(paragraphs) + "\n</div></body></html>\n"
    )


def _base64(data: bytes) -> bytes:
    lines = [binascii.b2a_base64(data[i : i + _B64_LINE_RAW], newline=False)
             for i in range(0, len(data), _B64_LINE_RAW)]
    return CRLF.join(lines) + CRLF


def _text_part(subtype: str, qp_body: bytes) -> bytes:
    return (
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + qp_body


def _attachment(name: str, ctype: str, data: bytes) -> bytes:
    return (
        f'Content-Type: {ctype}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + _base64(data)


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    delimiter = f"--{boundary}\r\n".encode()
    out = [b"This is a multi-part message in MIME format.\r\n"]
    for part in parts:
        out.append(delimiter)
        out.append(part if part.endswith(CRLF) else part + CRLF)
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


_ATTACHMENT_KINDS = (
    ("report.pdf", "application/pdf"),
    ("photos.zip", "application/zip"),
    ("scan.jpg", "image/jpeg"),
    ("data.bin", "application/octet-stream"),
    ("slides.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)


def standard(size: int, seed: int = 1) -> bytes:
    """A message of about `size` bytes: text + HTML bodies and base64 attachments."""
    rng = random.Random(seed)
    text = _qp(_prose(rng, min(_TEXT_MAX, max(600, size * 15 // 100))))
    markup = _qp(_html(rng, min(_HTML_MAX, max(1200, size * 35 // 100))))
    alternative = (
        f'Content-Type: multipart/alternative; boundary="{ALT_BOUNDARY}"\r\n\r\n'.encode()
        + _multipart(ALT_BOUNDARY, [_text_part("plain", text), _text_part("html", markup)])
    )
    header = _top_header("Delivery plan Q3", f'multipart/mixed; boundary="{MIXED_BOUNDARY}"',
                         seed)
    skeleton = len(header) + len(_multipart(MIXED_BOUNDARY, [alternative]))
    remaining = max(_B64_LINE, size - skeleton)
    count = -(-remaining // _MAX_ATTACHMENT)
    attachments: list[bytes] = []
    for i in range(count):
        name, ctype = _ATTACHMENT_KINDS[i % len(_ATTACHMENT_KINDS)]
        overhead = len(_attachment(name, ctype, b"")) + len(MIXED_BOUNDARY) + 4
        encoded = max(_B64_LINE, remaining // count - overhead)
        data = rng.randbytes(encoded // _B64_LINE * _B64_LINE_RAW)
        attachments.append(_attachment(name, ctype, data))
    return header + _multipart(MIXED_BOUNDARY, [alternative, *attachments])


def _plain_html_alternative(rng: random.Random, boundary: str) -> bytes:
    text = _qp(_prose(rng, 400))
    markup = _qp(_html(rng, 600))
    return (f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + _multipart(boundary, [_text_part("plain", text), _text_part("html", markup)]))


def many_parts(n: int, seed: int = 2) -> bytes:
    """multipart/mixed with `n` parts: the text + HTML bodies, then small attachments."""
    rng = random.Random(seed)
    parts = [_plain_html_alternative(rng, "alt-0")]
    for i in range(1, n):
        parts.append(_attachment(f"file-{i}.bin", "application/octet-stream",
                                 rng.randbytes(570)))
    return _top_header(f"{n} parts", 'multipart/mixed; boundary="mix-parts"', seed) + \
        _multipart("mix-parts", parts)


def nested(depth: int, seed: int = 3) -> bytes:
    """`depth` multipart/mixed levels, each holding the next level and a small attachment;
    the text + HTML bodies at the bottom."""
    rng = random.Random(seed)
    inner = _plain_html_alternative(rng, f"lvl-{depth}")
    for level in range(depth - 1, 0, -1):
        attachment = _attachment(f"level-{level}.txt", "text/plain", rng.randbytes(114))
        inner = (f'Content-Type: multipart/mixed; boundary="lvl-{level}"\r\n\r\n'.encode()
                 + _multipart(f"lvl-{level}", [inner, attachment]))
    header_end = inner.index(b"\r\n\r\n")
    content_type = inner[len(b"Content-Type: ") : header_end].decode()
    return _top_header(f"{depth} levels", content_type, seed) + inner[header_end + 4 :]


def long_lines(size: int, seed: int = 4) -> bytes:
    """text/plain and text/html bodies of one line each (no line break), `size` bytes in all.

    Both are 7bit as sent (lines over 998 octets, as broken senders write them), so an
    edit must re-encode them: that is quoted-printable over the whole line.
    """
    rng = random.Random(seed)
    half = size // 2
    words: list[str] = []
    width = 0
    while width < half:
        word = rng.choice(("alpha", "beta", "gamma", "delta", "pallet", "invoice", "order"))
        words.append(word)
        width += len(word) + 1
    plain = " ".join(words)[:half].encode("ascii")
    chunks: list[str] = []
    width = 0
    while width < half:
        chunk = f'<td class="c{rng.randrange(9)}">{rng.choice(words)} {rng.randrange(10**6)}</td>'
        chunks.append(chunk)
        width += len(chunk)
    markup = ("<html><body><table><tr>" + "".join(chunks))[: half - 35] + \
        "</tr></table></body></html>"
    parts = [
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + plain + CRLF,
        b"Content-Type: text/html; charset=us-ascii\r\n\r\n" + markup.encode("ascii") + CRLF,
    ]
    return _top_header("One long line", 'multipart/alternative; boundary="long-1"', seed) + \
        _multipart("long-1", parts)


def many_headers(lines: int, seed: int = 5) -> bytes:
    """`lines` trace header lines (Received, folded over two lines) before the usual fields,
    then a text + HTML body."""
    rng = random.Random(seed)
    trace: list[bytes] = []
    for i in range(lines // 2):
        trace.append(
            f"Received: from relay{i}.partner.example.net (relay{i}.partner.example.net "
            f"[192.0.2.{i % 250}])\r\n\tby mx.example.com with ESMTPS id {rng.getrandbits(64):x}"
            f"; Tue, 04 Jun 2024 09:{i % 60:02d}:00 +0200\r\n".encode())
    if lines % 2:
        trace.append(f"X-Trace: {rng.getrandbits(64):x}\r\n".encode())
    body = _plain_html_alternative(rng, "alt-h")
    header_end = body.index(b"\r\n\r\n")
    content_type = body[len(b"Content-Type: ") : header_end].decode()
    head = b"".join(trace) + _top_header(f"{lines} header lines", content_type, seed)
    return head + body[header_end + 4 :]
