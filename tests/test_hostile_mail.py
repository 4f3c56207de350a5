"""Hostile and broken mail: every rewritten message is whole and acceptable to WorkMail.

Each case is built here byte by byte and run through a real flow. For every
output: every original header field is still a header field (in order, byte
for byte, or only folded), attachments decode to the same bytes, the shared
WorkMail validator accepts it, and a second run changes nothing.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mimeops import Envelope, load_flow
from mimeops.mime import Message, transfer
from mimeops.mime.addresses import header_addresses
from mimeops.mime.model import Part
from mimeops.mime.validate import rejection_reason
from tests.conftest import ROOT
from tests.engine_checks import ENVELOPE, flow, non_ascii_flow
from tests.invariants import check_structure, folded, leaves

BANNER, FOOTER = "MIMEOPS-BANNER-TEXT", "MIMEOPS-FOOTER-TEXT"
MARKED = flow(banner=(BANNER, "<div>MIMEOPS-BANNER-HTML</div>"),
              footer=(FOOTER, "<p>MIMEOPS-FOOTER-HTML</p>"), prefix="[EXTERNAL]")
NON_ASCII = non_ascii_flow()
GIF = base64.b64decode(b"R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
MERGED = ("to", "cc", "bcc", "reply-to", "in-reply-to", "references")
TOP = (b"From: Sender <s@outside.example.net>\r\nTo: b@example.com\r\n"
       b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nMessage-ID: <h@outside.example.net>\r\n")


def gif_part(eol: bytes = b"\r\n") -> bytes:
    return (b"Content-Type: image/gif; name=pixel.gif\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=pixel.gif\r\n\r\n"
            + base64.encodebytes(GIF).replace(b"\n", b"\r\n")).replace(b"\r\n", eol)


def attachments(raw: bytes) -> list[bytes]:
    """Decoded bytes of every attachment, as Python's parser (a second opinion) sees them."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    out = []
    for part in message.walk():
        if part.get_content_disposition() == "attachment" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            out.append(payload if isinstance(payload, bytes) else b"")
    return out


def header_fields(raw: bytes) -> list[bytes]:
    return [f.raw for f in Message(raw).root.header if f.name]


def assert_whole(flow_, raw: bytes, *, changed: bool = True, wrapped: bool = False):
    """Apply `flow_`; check the output; return the result."""
    result = flow_.apply(raw, ENVELOPE)
    assert result.changed is changed, (result.skipped, result.bare)
    out = result.message
    if not changed:
        assert out is raw
        return result
    assert rejection_reason(raw, out) is None
    assert all(len(line) <= 998 for line in out.splitlines())
    kept = [f.raw for f in Message(out).root.header]
    kept_unfolded = [folded(f) for f in Message(out).root.header]
    at = 0
    original = Message(raw).root.header
    for field in original:
        if not field.name or field.key in ("subject", "content-type",
                                           "content-transfer-encoding"):
            continue
        if field.key in MERGED and len(original.get_all(field.key)) > 1:
            # A repeated unique field WorkMail refuses: merged into the first copy.
            merged = Message(out).root.header.field(field.key)
            assert merged is not None and field.raw_value().strip() in merged.raw_value()
            continue
        # A field with a line over 998 octets may be folded; a signature also inside
        # its base64 value, where RFC 6376 lets folding whitespace stand anywhere.
        long = any(len(line) > 998 for line in field.raw.splitlines())
        matches = [i for i in range(len(kept)) if i >= at and (
            field.raw in (kept[i], kept_unfolded[i])
            # a last field that ended the input without a line break gets one
            or kept[i] in (field.raw + b"\n", field.raw + b"\r\n")
            or (long and b"".join(field.raw.split()) == b"".join(kept[i].split())))]
        assert matches, f"header field {field.raw[:60]!r} is no longer in the header (in order)"
        at = matches[0]
    if wrapped:  # the whole original is the attachment, byte for byte
        assert Message(out).root.children[1].body() == raw  # type: ignore[index]
        raw = out
    # Python's parser reads no header after a byte order mark: compare without it.
    assert sorted(attachments(out)) == sorted(attachments(raw.removeprefix(b"\xef\xbb\xbf")))
    engine_view = [_leaf_bytes(p) for p in leaves(Message(raw).root) if p.is_attachment]
    assert engine_view == [_leaf_bytes(p) for p in leaves(Message(out).root) if p.is_attachment]
    again = flow_.apply(out, ENVELOPE)
    assert not again.changed, "applying the flow twice changed the message again"
    return result


def shown_text(raw: bytes) -> str:
    part = Message(raw).bodies()["plain"]
    return transfer.decode(part.cte, part.body()).decode("utf-8", "replace")


# -- 1. header blocks as tolerant MTAs read them -----------------------------------------


def test_byte_order_mark_before_the_header_keeps_every_field_in_the_header() -> None:
    raw = (b"\xef\xbb\xbf" + TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain\r\n\r\nHello.\r\n--b\r\n" + gif_part() + b"--b--\r\n")
    result = assert_whole(MARKED, raw)
    assert not result.message.startswith(b"\xef\xbb\xbf")
    parsed = email.message_from_bytes(result.message, policy=email.policy.default)
    assert parsed["From"] == "Sender <s@outside.example.net>"
    assert parsed["Subject"] == "[EXTERNAL] hi"
    assert attachments(result.message) == [GIF]
    assert shown_text(result.message).startswith(BANNER)
    assert b"Message-ID" not in Message(result.message).bodies()["plain"].body()


def test_unindented_continuation_line_stays_in_the_header() -> None:
    raw = (b"Received: from mx.outside.example.net (mx [192.0.2.1])\r\n"
           b"by mx.example.com with ESMTPS id 42; Mon, 03 Mar 2025 10:00:00 +0000\r\n"
           + TOP + b"Subject: hi\r\n\r\nHello.\r\n")
    result = assert_whole(MARKED, raw)
    body = Message(result.message).bodies()["plain"].body()
    assert b"From:" not in body and b"Message-ID" not in body
    assert shown_text(result.message).replace("\r\n", "\n") == f"{BANNER}\n\nHello.\n\n{FOOTER}\n"


def test_from_with_its_colon_on_a_continuation_line_is_a_field() -> None:
    raw = (b"From\r\n : Sender <s@outside.example.net>\r\nTo: b@example.com\r\n"
           b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nSubject: hi\r\n\r\nHello.\r\n")
    result = assert_whole(MARKED, raw)
    assert Message(result.message).root.header.get("from") == "Sender <s@outside.example.net>"
    assert result.message.startswith(b"From\r\n : Sender")


@pytest.mark.parametrize("name", [b"X-Sp\xc3\xa4m-Score", b"X-Sp\xe4m", b"X_Under score"])
def test_non_ascii_or_odd_field_name_stays_a_field(name: bytes) -> None:
    raw = TOP + name + b": 7\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw)
    assert (name + b": 7\r\n") in header_fields(result.message) or b" " in name


def test_line_without_colon_inside_the_block_keeps_the_fields_after_it() -> None:
    raw = (b"Received: by relay\r\nthis line has no colon at all\r\n" + TOP
           + b"Subject: hi\r\n\r\nHello.\r\n")
    result = assert_whole(MARKED, raw)
    names = [f.key for f in Message(result.message).root.header]
    assert names[:5] == ["received", "from", "to", "date", "message-id"]


def test_truly_ambiguous_block_is_left_alone_and_named() -> None:
    raw = (b"From: s@outside.example.net\r\nno colon one\r\nno colon two\r\n"
           b"no colon three\r\nTo: b@example.com\r\n\r\nHello.\r\n")
    result = assert_whole(MARKED, raw, changed=False)
    assert result.skipped == "malformed-header"


def test_part_header_with_an_unindented_line_keeps_its_fields() -> None:
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\nX-Note: a note\r\nwrapped badly\r\n"
           b"Content-Transfer-Encoding: 7bit\r\n\r\nHello.\r\n--b\r\n" + gif_part()
           + b"--b--\r\n")
    result = assert_whole(MARKED, raw)
    part = Message(result.message).bodies()["plain"]
    assert part.header.get("content-transfer-encoding") == "7bit"
    assert b"Content-Transfer-Encoding" not in part.body()


# -- 2. output WorkMail accepts ----------------------------------------------------------


def test_1242_character_header_line_is_folded_at_whitespace() -> None:
    long_value = " ".join(f"filter{i}=pass" for i in range(100))[:1223]
    field = b"X-UI-Filterresults: " + long_value.encode() + b"\r\n"
    assert len(field) > 1240
    raw = TOP + field + b"Subject: hi\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw)
    folded_field = Message(result.message).root.header.field("x-ui-filterresults")
    assert folded_field is not None and folded_field.value() == long_value


def test_15_kb_dkim_signature_without_whitespace_is_folded_inside_b() -> None:
    signature = base64.b64encode(random.Random(1).randbytes(11_000)).decode()
    field = (f"DKIM-Signature: v=1;a=rsa-sha256;d=outside.example.net;s=s1;"
             f"h=From:To:Subject:Date;bh=abc=;b={signature}\r\n").encode()
    raw = TOP + field + b"Subject: hi\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw)
    dkim = Message(result.message).root.header.field("dkim-signature")
    assert dkim is not None
    assert "".join(dkim.value().split()) == "".join(field.decode()[16:].split())


def test_a_header_line_that_cannot_be_folded_means_unchanged_with_a_reason() -> None:
    raw = TOP + b"X-Blob: " + b"x" * 1500 + b"\r\nSubject: hi\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw, changed=False)
    assert result.skipped and result.skipped.startswith("invalid-output: ")
    assert "X-Blob" in result.skipped


def test_attachment_with_over_long_lines_is_re_encoded_losslessly() -> None:
    csv = (",".join(str(i) for i in range(600)) + "\r\n").encode() * 3
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b"
           b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b\r\n"
           b"Content-Type: text/csv\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\n"
           + csv + b"--b--\r\n")
    result = assert_whole(MARKED, raw)
    part = Message(result.message).root.children[1]  # type: ignore[index]
    assert part.cte == "quoted-printable" and part.decoded() + b"\r\n" == csv


def test_repeated_immutable_field_means_unchanged_with_a_reason() -> None:
    raw = TOP + b"From: other@outside.example.net\r\nSubject: hi\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw, changed=False)
    assert result.skipped == (
        "invalid-output: unique header From appears 2 times; it may appear only once")


# -- 3. multipart edge cases ------------------------------------------------------------


@pytest.mark.parametrize("tail", [b"--b--", b"--b--\r\n", b"--b--  \t", b"--b-- \r\n",
                                  b"--b", b"--b\r\n", b""])
@pytest.mark.parametrize("subtype", [b"mixed", b"alternative"])
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_close_delimiter_at_end_of_file_keeps_the_gif_byte_identical(
        tail: bytes, subtype: bytes, eol: bytes) -> None:
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/" + subtype
           + b"; boundary=b\r\n\r\n--b\r\n" + gif_part() + b"--b\r\nContent-Type: text/plain;"
           b" charset=utf-8\r\n\r\nh\xc3\xa9llo\r\n" + tail).replace(b"\r\n", eol)
    for flow_ in (MARKED, NON_ASCII):
        result = assert_whole(flow_, raw)
        assert attachments(result.message) == [GIF]
        for line in result.message.splitlines():
            if line.startswith(b"--b"):
                assert line.rstrip(b" \t") in (b"--b", b"--b--"), line


# -- 4. encodings and charsets ---------------------------------------------------------


@pytest.mark.parametrize("cte", ["x-gzip64", "x-uuencode", "uuencode", "X-BinHex"])
def test_unknown_transfer_encoding_is_never_relabelled_and_is_reported(cte: str) -> None:
    raw = TOP + (f"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
                 f"Content-Transfer-Encoding: {cte}\r\n\r\n"
                 "begin 644 x\r\nM86)C\r\nend\r\n").encode()
    result = assert_whole(MARKED, raw)
    assert Message(result.message).root.header.get("content-transfer-encoding") == cte
    assert Message(result.message).root.body() == Message(raw).root.body()
    assert result.bare == [f"text/plain: unknown transfer encoding {cte.lower()}"]
    assert result.summary()["bare"] == result.bare


def test_nesting_past_the_limit_is_reported_bare() -> None:
    depth = 70
    body = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
                    for i in range(1, depth))
    body += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n" % depth
    body += b"".join(b"--b%d--\r\n" % i for i in range(depth, 0, -1))
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" + body)
    result = assert_whole(MARKED, raw)
    assert result.applied == ["mark:subject_prefix"]
    assert result.bare == ["multipart/mixed: nesting limit"]


JIS_TEXT = "今日は。\nこれはテストです。\n"


@pytest.mark.parametrize("extra", [b"", b"\x1b(I1\x1b(B\r\n"])  # + half-width katakana
def test_iso_2022_jp_body_gets_the_banner_in_its_own_charset(extra: bytes) -> None:
    body = JIS_TEXT.encode("iso2022_jp").replace(b"\n", b"\r\n") + extra
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=ISO-2022-JP\r\n"
           b"Content-Transfer-Encoding: 7bit\r\n\r\n" + body)
    result = assert_whole(MARKED, raw)
    assert result.bare == []
    part = Message(result.message).bodies()["plain"]
    assert part.charset_label == "ISO-2022-JP" and part.cte == "7bit"
    assert part.body() == (BANNER + "\r\n\r\n").encode() + body + (
        b"\r\n\x1b(B" + FOOTER.encode() + b"\r\n")
    assert part.body().decode("iso2022_jp_ext").startswith(BANNER)


def test_iso_2022_jp_body_with_a_banner_jis_cannot_carry_becomes_utf_8() -> None:
    body = JIS_TEXT.encode("iso2022_jp").replace(b"\n", b"\r\n") + b"\x1b(I1\x1b(B\r\n"
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n" + body)
    result = assert_whole(NON_ASCII, raw)
    part = Message(result.message).bodies()["plain"]
    assert part.charset_label == "utf-8"
    text = transfer.decode(part.cte, part.body()).decode("utf-8")
    assert "これはテストです。" in text and "ｱ" in text and "⚠ Achtung" in text


@pytest.mark.parametrize(("label", "encoded", "shown"), [
    ("8bits", "h\u00e9llo\r\n".encode(), "h\u00e9llo"),
    ("7-bit", b"hello\r\n", "hello"),
    ("quoted printable", b"h=C3=A9llo\r\n", "h\u00e9llo"),
    ("Quoted-Printable;", b"h=C3=A9llo\r\n", "h\u00e9llo"),
])
def test_sloppy_transfer_encoding_label_is_read_as_meant_and_kept(
        label: str, encoded: bytes, shown: str) -> None:
    raw = TOP + (f"Subject: hi\r\nMIME-Version: 1.0\r\n"
                 f"Content-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Transfer-Encoding: {label}\r\n\r\n").encode() + encoded
    result = assert_whole(MARKED, raw)
    part = Message(result.message).bodies()["plain"]
    assert part.header.get("content-transfer-encoding") == label
    text = part.decoded().decode("utf-8")
    assert text.startswith(BANNER) and shown in text and result.bare == []


# -- 5./6. reports, protected mail and wrap ------------------------------------------------


REPORT = (TOP + b"Subject: Undelivered\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/report; report-type=delivery-status; boundary=rep\r\n\r\n"
          b"--rep\r\nContent-Type: text/plain\r\n\r\nClick here to re-send: http://evil.example/\r\n"
          b"--rep\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
          b"Final-Recipient: rfc822; b@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
          b"--rep--\r\n")


@pytest.mark.parametrize("protected", ["headers", "wrap"])
def test_report_from_outside_does_not_bypass_the_warning(protected: str) -> None:
    flow_ = flow(banner=(BANNER, "<p>x</p>"), prefix="[EXTERNAL]", protected=protected)
    result = assert_whole(flow_, REPORT)
    assert result.skipped is None
    assert BANNER in result.message.decode()
    assert "mark:banner" in result.applied


def test_report_under_skip_stays_hands_off() -> None:
    result = flow(banner=(BANNER, "<p>x</p>"), protected="skip").apply(REPORT, ENVELOPE)
    assert not result.changed and "report" in (result.skipped or "")


def _signed(tmp: Path) -> bytes:
    key, cert, data = tmp / "key.pem", tmp / "cert.pem", tmp / "data.txt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=s@outside.example.net", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    data.write_bytes(b"Content-Type: text/plain\r\n\r\nPay 10 EUR to account 42.\r\n")
    signed = subprocess.run(["openssl", "smime", "-sign", "-in", str(data), "-signer",
                             str(cert), "-inkey", str(key), "-crlfeol"],
                            check=True, capture_output=True).stdout
    return TOP + b"Cc: c@example.com\r\nSubject: Invoice\r\n" + signed.replace(
        b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_wrap_attaches_signed_mail_whole_and_the_signature_still_verifies(
        tmp_path: Path) -> None:
    raw = _signed(tmp_path)
    flow_ = flow(banner=(BANNER, "<p>x</p>"), footer=(FOOTER, "<p>y</p>"),
                 prefix="[EXTERNAL]", protected="wrap")
    result = assert_whole(flow_, raw, wrapped=True)
    assert result.skipped is None and result.applied == [
        "mark:banner", "mark:footer", "mark:subject_prefix"]
    outer = email.message_from_bytes(result.message, policy=email.policy.default)
    assert outer.get_content_type() == "multipart/mixed"
    for name in ("From", "To", "Cc", "Date", "Message-ID"):
        assert outer[name] == email.message_from_bytes(raw)[name]
    assert outer["Subject"] == "[EXTERNAL] Invoice"
    assert shown_text(result.message).startswith(BANNER)
    inner = Message(result.message).root.children[1]  # type: ignore[index]
    assert inner.ctype == "message/rfc822" and inner.body() == raw
    attached = tmp_path / "attached.eml"
    attached.write_bytes(inner.body())
    verify = subprocess.run(["openssl", "smime", "-verify", "-noverify", "-in", str(attached)],
                            capture_output=True)
    assert verify.returncode == 0, verify.stderr
    assert b"Verification successful" in verify.stderr


def test_wrap_with_only_header_ops_does_not_wrap() -> None:
    raw = REPORT.replace(b"multipart/report", b"multipart/signed")
    result = flow(prefix="[EXTERNAL]", protected="wrap").apply(raw, ENVELOPE)
    assert result.changed and result.applied == ["mark:subject_prefix"]
    assert b"message/rfc822" not in result.message


# -- 7. not a message ------------------------------------------------------------------


NOT_MESSAGES = {
    "empty": b"",
    "blank lines": b"\r\n\r\n\r\n",
    "random bytes": random.Random(7).randbytes(4096),
    "text without header": b"Just some words\r\nand more words\r\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
}


@pytest.mark.parametrize("case", list(NOT_MESSAGES))
def test_not_a_message_is_left_alone(case: str) -> None:
    raw = NOT_MESSAGES[case]
    result = MARKED.apply(raw, ENVELOPE)
    assert (result.changed, result.skipped) == (False, "not-a-message")
    assert result.message is raw


def cli_apply(tmp_path: Path, raw: bytes) -> subprocess.CompletedProcess[str]:
    """`mimeops apply` with a subject-prefix flow on `raw`, as a user runs it."""
    message = tmp_path / "in.eml"
    message.write_bytes(raw)
    config = tmp_path / "flow.yaml"
    config.write_text(json.dumps({"rules": [{"name": "m", "apply": [{"subject_prefix": "[X]"}]}]}))
    return subprocess.run([sys.executable, "-m", "mimeops", "apply", "--config", str(config),
                           str(message), "-o", str(tmp_path / "out.eml")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": "."})


@pytest.mark.parametrize("case", list(NOT_MESSAGES))
def test_cli_apply_exits_2_with_one_line_on_not_a_message(case: str, tmp_path: Path) -> None:
    done = cli_apply(tmp_path, NOT_MESSAGES[case])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a message" in done.stderr


def test_random_garbage_never_crashes_and_never_grows_a_subject() -> None:
    rnd = random.Random(10)
    for _ in range(300):
        raw = rnd.randbytes(rnd.randrange(0, 600))
        if rnd.random() < 0.5:
            raw = b"Subject: x\r\n" + raw
        result = MARKED.apply(raw, ENVELOPE)
        if result.changed:
            assert rejection_reason(raw, result.message) is None
            assert MARKED.apply(result.message, ENVELOPE).changed is False


# -- 8. pathological address headers ---------------------------------------------------


STACK_OVERFLOW_TO = b'"test" <test@test.com>,' + (
    b"\r\n\t=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?=" * 3000)


@pytest.mark.parametrize("value", [
    STACK_OVERFLOW_TO, b"(" * 5000 + b"x@y.example", b"g:" * 5000 + b"x@y.example;",
    b"a@b.example (" + b"(nested " * 3000 + b")" * 3001,
])
def test_huge_folded_to_does_not_recurse(value: bytes, tmp_path: Path) -> None:
    raw = (b"From: Sender <s@outside.example.net>\r\nTo: " + value + b"\r\n"
           b"Subject: hi\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n\r\nHello.\r\n")
    header = Message(raw).root.header
    header_addresses(header.get_all("to"))  # must not raise RecursionError
    result = MARKED.apply(raw, Envelope("INBOUND", "s@outside.example.net", []))
    # Changed, or (a line with no place to fold) unchanged with the reason.
    assert result.changed or (result.skipped or "").startswith("invalid-output: ")
    done = cli_apply(tmp_path, raw)
    assert done.returncode == 0, done.stderr[-500:]


def test_nested_comments_and_groups_keep_the_addresses() -> None:
    pairs = header_addresses(['A (x (y) z) <a@b.example>, "q:(" <c@d.example>',
                              "team: e@f.example, g@h.example;, i@j.example"])
    assert [a for _, a in pairs] == ["a@b.example", "c@d.example", "e@f.example",
                                     "g@h.example", "i@j.example"]


def _leaf_bytes(part: Part) -> bytes:
    return transfer.decode(part.cte, part.body())


def test_leaves_helper_sees_the_gif() -> None:
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
           b"boundary=b\r\n\r\n--b\r\n" + gif_part() + b"--b--")
    assert [_leaf_bytes(p) for p in leaves(Message(raw).root)] == [GIF]


def test_repeated_address_fields_are_merged_and_extra_subjects_dropped() -> None:
    raw = (TOP + b"Cc: one@example.com\r\nSubject: first\r\nCc: two@example.com,\r\n"
           b" three@example.com\r\nSubject: second\r\nTo: c@example.com\r\n\r\nHello.\r\n")
    result = MARKED.apply(raw, ENVELOPE)
    assert result.changed and rejection_reason(raw, result.message) is None
    header = Message(result.message).root.header
    assert [a for _, a in header_addresses(header.get_all("cc"))] == [
        "one@example.com", "two@example.com", "three@example.com"]
    assert [a for _, a in header_addresses(header.get_all("to"))] == [
        "b@example.com", "c@example.com"]
    assert header.get_all("subject") == ["[EXTERNAL] first"]
    assert not MARKED.apply(result.message, ENVELOPE).changed


def test_report_from_inside_the_organization_stays_hands_off_under_headers() -> None:
    flow_ = flow(banner=(BANNER, "<p>x</p>"), prefix="[EXTERNAL]", protected="headers")
    raw = REPORT.replace(b"s@outside.example.net", b"postmaster@example.com")
    result = flow_.apply(raw, Envelope("INBOUND", "postmaster@example.com", ["b@example.com"]))
    assert result.applied == ["mark:subject_prefix"] and "report" in (result.skipped or "")
    assert BANNER.encode() not in result.message


def test_iso_2022_jp_html_is_read_by_a_superset_codec_and_becomes_utf_8() -> None:
    markup = "<html><body><p>今日は ｱ</p></body></html>\n"
    body = markup.encode("iso2022_jp_ext").replace(b"\n", b"\r\n")
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html; charset=iso-2022-jp\r\n\r\n" + body)
    result = assert_whole(MARKED, raw)
    part = Message(result.message).bodies()["html"]
    assert part.charset_label == "utf-8" and result.bare == []
    text = part.decoded().decode("utf-8")
    assert "MIMEOPS-BANNER-HTML" in text and "今日は ｱ" in text


def test_attached_message_with_an_over_long_line_means_unchanged_with_a_reason() -> None:
    inner = b"Subject: old\r\n\r\n" + b"y" * 1200 + b"\r\n"
    raw = (TOP + b"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b"
           b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b\r\n"
           b"Content-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n")
    result = assert_whole(MARKED, raw, changed=False)
    assert result.skipped == ("invalid-output: message/rfc822: a line over 998 octets inside an "
                              "entity that cannot be re-encoded")


def test_text_before_the_first_field_is_ambiguous() -> None:
    raw = b"Hello there\r\n" + TOP + b"Subject: hi\r\n\r\nHello.\r\n"
    assert_whole(MARKED, raw, changed=False)
    assert MARKED.apply(raw, ENVELOPE).skipped == "malformed-header"


def test_wrap_folds_an_over_long_header_line_of_the_attached_message() -> None:
    long_field = b"X-UI-Filterresults: " + b"notjunk:1 " * 130 + b"\r\n"
    raw = REPORT.replace(b"multipart/report", b"multipart/signed").replace(
        b"Subject: Undelivered\r\n", b"Subject: Undelivered\r\n" + long_field)
    flow_ = flow(banner=(BANNER, "<p>x</p>"), protected="wrap")
    result = flow_.apply(raw, ENVELOPE)
    assert result.changed and rejection_reason(raw, result.message) is None
    assert not flow_.apply(result.message, ENVELOPE).changed
    inner = Message(result.message).root.children[1]  # type: ignore[index]
    assert inner.body() != raw
    assert b"".join(inner.body().split()) == b"".join(raw.split())
    assert inner.body().endswith(raw[raw.index(b"\r\n\r\n"):])  # the body is untouched


def test_a_stray_control_byte_further_down_the_header_is_still_a_message() -> None:
    raw = TOP + b"X-Odd: a\x00b\x07c\r\nSubject: hi\r\n\r\nHello.\r\n"
    result = assert_whole(MARKED, raw)
    assert b"X-Odd: a\x00b\x07c\r\n" in header_fields(result.message)


def test_validator_does_not_hold_the_originals_own_defect_against_the_update() -> None:
    raw = TOP + b"Subject: hi\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n"
    updated = raw.replace(b"Subject: hi", b"Subject: [X] hi")
    assert rejection_reason(raw, updated) is None
    fine = TOP + b"Subject: hi\r\n\r\nno boundary\r\n"
    assert "without a boundary parameter" in (rejection_reason(fine, updated) or "")


def test_wrap_attaches_a_calendar_invitation_whole() -> None:
    raw = (TOP + b"Subject: Meeting\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n"
           b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
    result = assert_whole(flow(banner=(BANNER, "<p>x</p>"), protected="wrap"), raw,
                          wrapped=True)
    assert shown_text(result.message).startswith(BANNER)


@pytest.mark.parametrize("ctype", [b"text/plain", b"text/plain; charset=iso-8859-1",
                                   b"text/html; charset=utf-8"])
def test_undecodable_bytes_in_from_cannot_stop_the_banner(ctype: bytes) -> None:
    # A raw 8-bit byte in From reaches the templates as a lone surrogate: the banner
    # shows U+FFFD in its place, and the message is warned like any other.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    raw = (b"From: ev\xe8 <ev\xe8@outside.example.net>\r\nTo: jane@example.com\r\n"
           b"Subject: hi \xe8\r\nMessage-ID: <1@x>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b"Content-Type: " + ctype + b"\r\n\r\nHello\r\n")
    result = assert_whole(recipe, raw)
    assert "external-warning:banner" in result.applied
    assert b"CAUTION" in result.message


@pytest.mark.parametrize("label", [b"7-bit", b"8bits", b"text/html", b"plain"])
def test_sloppy_transfer_encoding_with_long_lines_cannot_skip_the_banner(label: bytes) -> None:
    # Clients read an unknown label as identity; so do we: the part is re-encoded
    # (losslessly) to keep lines within 998 octets, instead of no banner at all.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    html = b"<html><body><p>" + b"word " * 400 + b"</p></body></html>"
    raw = (b"From: a@outside.example.net\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Message-ID: <2@x>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: " + label
           + b"\r\n\r\n" + html + b"\r\n")
    result = assert_whole(recipe, raw)
    assert "external-warning:banner" in result.applied
    part = Message(result.message).bodies()["html"]
    shown = transfer.decode(part.cte, part.body())
    assert b"CAUTION" in shown and (b"word " * 400) in shown


def test_related_whose_root_is_an_image_still_gets_the_banner_in_its_html() -> None:
    # Clients show the HTML of a multipart/related even when the sender put an image
    # first (the root): otherwise that ordering alone would skip the banner.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Message-ID: <9@e>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b'Content-Type: multipart/related; boundary="b"\r\n\r\n'
           b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"iVBORw0KGgo=\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n")
    result = assert_whole(recipe, raw)
    assert "external-warning:banner" in result.applied
    assert b"CAUTION" in Message(result.message).bodies()["html"].decoded()


@pytest.mark.parametrize("shape", ["html", "alternative", "header-only"])
def test_lone_cr_line_breaks_cannot_skip_the_banner(shape: str) -> None:
    # Clients (and Python's email package) take a lone CR as a line break; a parser that
    # looks only for LF saw one endless line, and the message went out with no banner.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    top = (b"From: X <x@evil.example>\rTo: jane@example.com\rSubject: pay\r"
           b"Message-ID: <cr@evil.example>\rDate: Tue, 04 Jun 2024 09:15:00 +0200\r"
           b"MIME-Version: 1.0\r")
    body = {
        "html": b"Content-Type: text/html\r\r<html><body><p>pay now</p></body></html>\r",
        "alternative": b"Content-Type: multipart/alternative; boundary=b\r\r--b\r"
                       b"Content-Type: text/plain\r\rpay now\r--b\r"
                       b"Content-Type: text/html\r\r<p>pay now</p>\r--b--\r",
        # The header broken by lone CRs, the body by LFs.
        "header-only": b"Content-Type: text/plain\r\rpay now\nthanks\n",
    }[shape]
    raw = top + body
    inbound = Envelope("INBOUND", "x@evil.example", ["jane@example.com"])
    result = recipe.apply(raw, inbound)
    assert result.changed, result.skipped
    assert rejection_reason(raw, result.message) is None
    parsed = email.message_from_bytes(result.message, policy=email.policy.default)
    assert parsed["From"] == "X <x@evil.example>" and parsed["Subject"].startswith("[EXTERNAL]")
    shown = [transfer.decode(p.cte, p.body()) for p in Message(result.message).bodies().values()]
    assert shown and all(b"CAUTION" in text and b"pay now" in text for text in shown)
    again = recipe.apply(result.message, inbound)
    assert not again.changed and again.message is result.message
    # Nothing to do: the bytes that came in go out, lone CRs and all.
    untouched = recipe.apply(raw, Envelope("OUTBOUND", "jane@example.com", ["x@evil.example"]))
    assert not untouched.changed and untouched.message is raw


_PDF = base64.encodebytes(b"%PDF-1.4 pay now").replace(b"\n", b"\r\n")
_NO_TEXT_BODY = {
    "pdf only": b"Content-Type: application/pdf; name=invoice.pdf\r\n"
                b"Content-Disposition: attachment; filename=invoice.pdf\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n" + _PDF,
    "html file only": b"Content-Type: text/html; name=pay.html\r\n"
                      b"Content-Disposition: attachment; filename=pay.html\r\n\r\n"
                      b"<p>pay now</p>\r\n",
    "attached message only": b"Content-Type: message/rfc822\r\n\r\n"
                             b"From: boss@example.com\r\nSubject: pay now\r\n"
                             b"Content-Type: text/html\r\n\r\n<p>pay now</p>\r\n",
    "enriched text": b"Content-Type: text/enriched\r\n\r\n<bold>pay now</bold>\r\n",
    "digest": b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
              b"From: boss@example.com\r\nSubject: pay now\r\n\r\npay now\r\n--d--\r\n",
    "mixed of attachments": b"Content-Type: multipart/mixed; boundary=m\r\n\r\npreamble\r\n"
                            b"--m\r\nContent-Type: application/pdf\r\n"
                            b"Content-Disposition: attachment; filename=a.pdf\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\n" + _PDF + b"--m--\r\n",
}


@pytest.mark.parametrize("case", list(_NO_TEXT_BODY))
def test_a_body_without_text_gets_the_banner_in_a_part_in_front(case: str) -> None:
    # Only an attachment, an attached message or a digest: no text part a banner could
    # enter, so without a part in front the message carried no warning at all.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Message-ID: <nb@evil.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\n" + _NO_TEXT_BODY[case])
    result = recipe.apply(raw, ENVELOPE)
    assert result.changed and "external-warning:banner" in result.applied, result.skipped
    assert rejection_reason(raw, result.message) is None
    # Everything the sender sent is there after the new part, byte for byte (a single
    # part with its Content-* fields moved into its own header).
    check_structure(raw, result.message)
    root = Message(result.message).root
    assert root.maintype == "multipart" and root.children
    first = root.children[0]
    assert first.ctype == "text/plain" and b"CAUTION" in first.decoded()
    shown = email.message_from_bytes(result.message, policy=email.policy.default).get_body(
        preferencelist=("plain", "html"))
    assert shown is not None and "CAUTION" in shown.get_content()
    again = recipe.apply(result.message, ENVELOPE)
    assert not again.changed


@pytest.mark.parametrize("ctype", [b"text/html (sent by X)", b"text / html", b"TEXT/Html"])
def test_comments_and_spaces_in_the_media_type_do_not_hide_the_html(ctype: bytes) -> None:
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Content-Type: " + ctype + b"; charset=utf-8\r\n\r\n<p>pay now</p>\r\n")
    result = assert_whole(recipe, raw)
    assert b"CAUTION" in Message(result.message).bodies()["html"].decoded()


def test_base64_with_one_stray_character_still_gets_the_banner() -> None:
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text())
    body = base64.b64encode(b"<p>pay now, pay now, pay now</p>") + b"Q"  # 4n+1 characters
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body)
    result = assert_whole(recipe, raw)
    shown = Message(result.message).bodies()["html"].decoded()
    assert b"CAUTION" in shown and b"<p>pay now, pay now, pay now</p>" in shown


def _replayed(marked: bytes, old: bytes, new: bytes) -> bytes:
    assert old in marked
    return marked.replace(old, new, 1)


@pytest.mark.parametrize("change", ["body", "subject", "header", "attachment name"])
def test_a_marked_copy_replayed_with_new_content_gets_the_rules_again(change: str) -> None:
    # A sender who got hold of a marked copy of their own message (an auto-forward to an
    # outside address) sends new content under the same Message-ID, Date, From and
    # marker: the marker is bound to the content too, so the rule applies again.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text(),
                       marker_key=b"replay-key")
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: invoice\r\n"
           b"Message-ID: <r@evil.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
           b"--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--m\r\nContent-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename=a.pdf\r\n\r\nJVBERi0=\r\n--m--\r\n")
    marked = recipe.apply(raw, ENVELOPE).message
    assert not recipe.apply(marked, ENVELOPE).changed  # a retry: nothing again
    plain = Message(marked).bodies()["plain"]
    shown = plain.buf[plain.body_start:plain.end]
    replay = {
        "body": lambda: _replayed(marked, shown, b"pay to IBAN XX00 now\r\n"),
        "subject": lambda: _replayed(marked, b"Subject: [EXTERNAL] invoice", b"Subject: invoice"),
        "header": lambda: _replayed(marked, b"X-External-Sender:", b"X-Trusted-Sender:"),
        "attachment name": lambda: _replayed(marked, b"filename=a.pdf", b"filename=a.exe"),
    }[change]()
    again = recipe.apply(replay, ENVELOPE)
    assert again.changed and "external-warning:banner" in again.applied
    assert b"CAUTION" in Message(again.message).bodies()["plain"].decoded()


def test_a_replay_that_changes_only_attachment_bytes_keeps_its_marker() -> None:
    # The documented limit: attachments' bytes are not read for the marker (hashing them
    # would cost ~22 ms per 25 MiB); the banner the client shows is still there.
    recipe = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text(),
                       marker_key=b"replay-key")
    raw = (b"From: X <x@evil.example>\r\nTo: jane@example.com\r\nSubject: invoice\r\n"
           b"Message-ID: <r2@evil.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
           b"--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--m\r\nContent-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename=a.pdf\r\n\r\nJVBERi0=\r\n--m--\r\n")
    marked = recipe.apply(raw, ENVELOPE).message
    replay = _replayed(marked, b"JVBERi0=", b"TVqQAAM=")
    again = recipe.apply(replay, ENVELOPE)
    assert not again.changed
    assert b"CAUTION" in Message(replay).bodies()["plain"].decoded()


def test_a_lone_cr_in_a_body_is_no_line_style_for_the_footer() -> None:
    """Found by test_damaged_generated_mail_never_crashes: a part whose header lost its
    blank line to a stray CR starts its body with that CR. The footer's line break was
    then a lone CR, which the LF of the next delimiter turned into CRLF: the delimiter
    took the footer's line break, the marked content no longer matched, and a second
    run applied banner and footer again."""
    raw = (b"From: Sender <s@outside.example.net>\nTo: b@example.com\n"
           b"Date: Mon, 03 Mar 2025 10:00:00 +0000\nMessage-ID: <m@outside.example.net>\n"
           b"Subject: Hello world\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/alternative; boundary==_mo0001\n\n--=_mo0001\n"
           b"Content-Type: multipart/mixed; boundary==_mo0002\n\n--=_mo0002\n"
           b"content-type: text/plain; charset=hex\n"
           b"\rontent-Transfer-Encoding: 7bit\n\n--=_mo0001--\n")
    result = MARKED.apply(raw, ENVELOPE)
    assert result.changed and rejection_reason(raw, result.message) is None
    assert b"\r" not in result.message.replace(b"\rontent", b"")
    assert not MARKED.apply(result.message, ENVELOPE).changed
