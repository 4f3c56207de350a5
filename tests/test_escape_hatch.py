"""Escape hatches: mail from outside aimed at every fallback reaches the reader warned, or Junk.

Each message below is what a hostile outside sender can send to dodge the warning
through the engine's own fallbacks (docs/fallbacks.md): a header line nobody can fold,
a repeated From, a bogus signature wrapper, an opaque S/MIME blob, a report, an
invitation, a body in an encoding no banner can enter, a nesting past the limit,
stateful Japanese text that does not decode strictly, an attached message or a
preamble with a line WorkMail refuses. Under the shipped external-warning recipe AND a
minimal flow that relies on the defaults (a banner and a subject prefix, nothing
else), every one must:

- be warned (the subject tag, and the banner first in the body a client shows) or go
  to Junk with a reason;
- give the same last line from `explain` as the summary of `apply`;
- be idempotent (a second run changes nothing);
- keep every header field (byte for byte, folded, re-encoded to the same text, merged,
  moved inside a wrap) or name it in X-Mimeops-Removed;
- keep every attachment byte for byte (decoded), also inside a wrapped original;
- pass WorkMail's rules (`mimeops.mime.validate.rejection_reason`).
"""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import Message as EmailMessage
from pathlib import Path

import pytest

from mimeops import Envelope, load_flow
from mimeops.flow.core import Fallen, Flow, Pending, Result
from mimeops.flow.explain import explain
from mimeops.mime import Message, html5, select, transfer, words
from mimeops.mime.line_breaks import crlf
from mimeops.mime.validate import rejection_reason
from tests.conftest import ROOT
from tests.engine_checks import MINIMAL_WARNING

KEY = b"escape-hatch-key"
RECIPE = load_flow(ROOT / "examples" / "flows" / "external-warning.yaml", marker_key=KEY)
MINIMAL = load_flow(MINIMAL_WARNING, marker_key=KEY)
FLOWS = {"recipe": RECIPE, "minimal": MINIMAL}
ENVELOPE = Envelope("INBOUND", "s@outside.example.net", ["b@example.com"])
TAG = "[EXTERNAL]"
BANNER_WORD = "CAUTION"

TOP = (b"From: Sender <s@outside.example.net>\r\nTo: b@example.com\r\n"
       b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nMessage-ID: <e@outside.example.net>\r\n")
GIF = base64.b64decode(b"R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
PHISH = b"<html><body><p>Your mailbox is full: <a href='http://evil.example/'>log in</a></p>"
TOKEN = b"x" * 1500


def message(*fields: bytes, body: bytes = b"Please pay the invoice.\r\n",
            subject: bytes = b"Invoice") -> bytes:
    return TOP + b"Subject: " + subject + b"\r\n" + b"".join(f + b"\r\n" for f in fields) \
        + b"\r\n" + body


def multipart(ctype: bytes, *parts: bytes, boundary: bytes = b"b", preamble: bytes = b"",
              epilogue: bytes = b"") -> bytes:
    body = preamble + b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) \
        + b"--" + boundary + b"--\r\n" + epilogue
    return message(b"MIME-Version: 1.0",
                   b"Content-Type: " + ctype + b'; boundary="' + boundary + b'"', body=body)


GIF_PART = (b"Content-Type: image/gif; name=pixel.gif\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=pixel.gif\r\n\r\n"
            + base64.encodebytes(GIF).replace(b"\n", b"\r\n").rstrip(b"\r\n"))
TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nPlease pay the invoice."


def nested(depth: int) -> bytes:
    """A text part inside `depth` levels of multipart/mixed."""
    inner = TEXT_PART
    for level in range(depth, 1, -1):
        mark = b"n" + str(level).encode()
        inner = (b'Content-Type: multipart/mixed; boundary="' + mark + b'"\r\n\r\n--' + mark
                 + b"\r\n" + inner + b"\r\n--" + mark + b"--")
    return multipart(b"multipart/mixed", inner, boundary=b"n1")


# HTML whose stylesheet hides Thunderbird's text parts, and a message forwarding it.
HIDING = b"<style>.moz-text-plain,.moz-text-html{display:none!important}</style>" + PHISH
FORWARD = (b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
           b"From: IT <it@outside.example.net>\r\nSubject: Verified\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html\r\n\r\n" + HIDING)

# NEC row 13 (circled digits) in ISO-2022-JP: what Windows writes, Python's codec refuses.
NEC = b"\x1b$B$3$s$K$A$O\x1b(B \x1b$B-!-\"-#\x1b(B\r\n"

ESCAPES: dict[str, bytes] = {
    # -- 1. a header line nobody can fold
    "x-header-unfoldable": message(b"X-Blob: " + TOKEN),
    "references-unfoldable": message(b"References: <" + TOKEN + b"@outside.example.net>"),
    "in-reply-to-unfoldable": message(b"In-Reply-To: <" + TOKEN + b"@x>"),
    "list-unsubscribe-unfoldable": message(b"List-Unsubscribe: <http://evil.example/" + TOKEN
                                           + b">"),
    "received-unfoldable": message(b"Received: from " + TOKEN),
    "subject-unfoldable": message(subject=b"Invoice" + TOKEN),
    "subject-unfoldable-encoded-words": message(
        subject=b"=?utf-8?q?R=C3=A9sum=C3=A9?= " + TOKEN + b" =?utf-8?b?w6k=?="),
    "keywords-unfoldable": message(b"Keywords: " + TOKEN),
    "message-id-unfoldable": message().replace(b"Message-ID: <e@",
                                               b"Message-ID: <" + TOKEN + b"@"),
    "date-unfoldable": message().replace(b"Date: Mon,", b"Date: " + TOKEN + b" Mon,"),
    "two-from": message(b"From: ceo@example.com"),
    "two-message-ids": message(b"Message-ID: <other@outside.example.net>"),
    "two-subjects": message(b"Subject: second"),
    "content-type-param-unfoldable": message(
        b"MIME-Version: 1.0", b"Content-Type: text/plain; name=" + TOKEN),
    "part-header-unfoldable": multipart(b"multipart/mixed", TEXT_PART,
                                        b"X-Part: " + TOKEN + b"\r\n" + GIF_PART),
    "malformed-header-block": b"junk line\r\nmore junk\r\n" + message(),
    # -- 2. hands-off types under the defaults
    "bogus-signed-phish": multipart(
        b'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256',
        b"Content-Type: text/html; charset=utf-8\r\n\r\n" + PHISH,
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzAN"),
    "opaque-pkcs7": message(
        b"MIME-Version: 1.0",
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="smime.p7m"',
        body=b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggFYMIIBVAIBADA8MDcxCzAJBgNVBAYTAlVT\r\n"),
    "pgp-encrypted": multipart(
        b'multipart/encrypted; protocol="application/pgp-encrypted"',
        b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1",
        b"Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nx\r\n"
        b"-----END PGP MESSAGE-----"),
    "report-from-outside": multipart(
        b"multipart/report; report-type=delivery-status",
        b"Content-Type: text/plain\r\n\r\nYour mail was not delivered: http://evil.example/",
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; b@example.com\r\nAction: failed\r\nStatus: 5.1.1"),
    "invitation": multipart(
        b"multipart/alternative",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nJoin: http://evil.example/",
        b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Pay\r\n"
        b"DESCRIPTION:http://evil.example/\r\nEND:VEVENT\r\nEND:VCALENDAR"),
    "inline-pgp": message(body=b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n"
                               b"Pay now.\r\n-----BEGIN PGP SIGNATURE-----\r\nx\r\n"
                               b"-----END PGP SIGNATURE-----\r\n"),
    # -- 3. bodies the banner cannot enter
    "x-uuencode": message(b"MIME-Version: 1.0", b"Content-Type: text/plain",
                          b"Content-Transfer-Encoding: x-uuencode",
                          body=b"begin 644 x.txt\r\n%4&%Y(&YO=PH`\r\n`\r\nend\r\n"),
    "x-gzip64": message(b"MIME-Version: 1.0", b"Content-Type: text/html",
                        b"Content-Transfer-Encoding: x-gzip64", body=b"H4sIAAAAAAAA\r\n"),
    "uuencoded-plain-beside-html": multipart(
        b"multipart/alternative",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        b"begin 644 x\r\n`\r\nend",
        b"Content-Type: text/html\r\n\r\n" + PHISH),
    "nesting-90": nested(90),
    "iso-2022-jp-nec-plain": message(b"MIME-Version: 1.0",
                                     b"Content-Type: text/plain; charset=ISO-2022-JP",
                                     b"Content-Transfer-Encoding: 7bit", body=NEC),
    "iso-2022-jp-nec-html": message(b"MIME-Version: 1.0",
                                    b"Content-Type: text/html; charset=ISO-2022-JP",
                                    b"Content-Transfer-Encoding: 7bit",
                                    body=b"<html><body><p>" + NEC + b"</p></body></html>\r\n"),
    "iso-2022-jp-garbage-html": message(b"MIME-Version: 1.0",
                                        b"Content-Type: text/html; charset=ISO-2022-JP",
                                        body=b"<p>\x1b$B\x29\x21\x1b(B pay</p>\r\n"),
    "iso-2022-kr-shifted": message(b"MIME-Version: 1.0",
                                   b"Content-Type: text/plain; charset=ISO-2022-KR",
                                   body=b"\x1b$)C\r\n\x0e\x47\x51\x0f pay \x0e\x7f\x7f\x0f\r\n"),
    "utf-16-garbage-html": message(b"MIME-Version: 1.0",
                                   b"Content-Type: text/html; charset=utf-16",
                                   b"Content-Transfer-Encoding: base64",
                                   body=base64.b64encode(b"\xff\xfe<\x00p\x00>\x00\x00\xd8")
                                   + b"\r\n"),
    "no-parts-found": message(b"MIME-Version: 1.0", b"Content-Type: multipart/mixed",
                              body=b"<p>pay now</p>\r\n"),
    "alternative-without-text": multipart(b"multipart/alternative", GIF_PART),
    "related-image-first-undecodable-html": multipart(
        b"multipart/related",
        GIF_PART.replace(b"attachment", b"inline"),
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\nend"),
    # -- more: lines WorkMail refuses that no folding or re-encoding in place can fix
    "attached-message-long-line": multipart(
        b"multipart/mixed", TEXT_PART,
        b"Content-Type: message/rfc822\r\n\r\nSubject: old\r\n\r\n" + b"y" * 1200),
    "preamble-long-line": multipart(b"multipart/mixed", TEXT_PART, GIF_PART,
                                    preamble=b"z" * 1500 + b"\r\n"),
    "epilogue-long-line": multipart(b"multipart/mixed", TEXT_PART, GIF_PART,
                                    epilogue=b"z" * 1500 + b"\r\n"),
    "uuencode-long-line": multipart(
        b"multipart/mixed",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        + b"M" * 1200, GIF_PART),
    "opaque-deep-long-line": nested(70).replace(b"Please pay the invoice.",
                                                b"Please pay " + b"w" * 1200),
    "dkim-unfoldable": message(b"DKIM-Signature: v=1;d=outside.example.net;b" + TOKEN),
    "cc-unfoldable": message(b"Cc: <" + TOKEN + b"@x.example>"),
    # -- more: bodies in shapes a client still shows
    "bad-base64-html": message(b"MIME-Version: 1.0", b"Content-Type: text/html",
                               b"Content-Transfer-Encoding: base64", body=b"PGI+!!!@@@###\r\n"),
    "utf-7-html": message(b"MIME-Version: 1.0", b"Content-Type: text/html; charset=utf-7",
                          body=b"+ADw-p+AD4-pay+ADw-/p+AD4-\r\n"),
    "message-partial": message(b"MIME-Version: 1.0",
                               b"Content-Type: message/partial; id=x; number=1; total=2",
                               body=b"From: x\r\n\r\npay\r\n"),
    "message-external-body": message(
        b"MIME-Version: 1.0",
        b'Content-Type: message/external-body; access-type=URL; URL="http://evil.example/"',
        body=b"\r\nContent-Type: text/html\r\n\r\n"),
    "enriched-only": multipart(b"multipart/alternative",
                               b"Content-Type: text/enriched\r\n\r\n<bold>pay</bold>"),
    "tnef-only": message(b"MIME-Version: 1.0",
                         b"Content-Type: application/ms-tnef; name=winmail.dat",
                         b"Content-Transfer-Encoding: base64", body=b"eJ8+IgAA\r\n"),
    "html-only-as-attachment": message(b"MIME-Version: 1.0", b"Content-Type: text/html",
                                       b"Content-Disposition: attachment; filename=a.html",
                                       body=PHISH + b"\r\n"),
    "html-after-an-attachment": multipart(b"multipart/mixed", GIF_PART,
                                          b"Content-Type: text/html\r\n\r\n" + PHISH),
    "lone-cr-line-breaks": message().replace(b"\r\n", b"\r"),
    # -- more: parts Thunderbird shows as HTML in the banner's page, that no guard confines
    "forward-with-stylesheet": multipart(b"multipart/mixed", TEXT_PART, FORWARD),
    "octet-stream-named-html": multipart(
        b"multipart/mixed", TEXT_PART,
        b'Content-Type: application/octet-stream; name="invoice.html"\r\n\r\n' + HIDING),
    "encoded-word-content-type": multipart(
        b"multipart/mixed", b"Content-Type: text/html\r\n\r\n" + PHISH,
        b"Content-Type: =?us-ascii?q?text/html\r\n\r\n" + HIDING),
    "forward-beside-uuencode": multipart(
        b"multipart/mixed",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        b"begin 644 a\r\nend", FORWARD),
}

JUNKED = {"message-id-unfoldable", "date-unfoldable", "two-from", "two-message-ids",
          "malformed-header-block"}


@pytest.fixture(params=list(FLOWS), ids=list(FLOWS))
def flow(request: pytest.FixtureRequest) -> Flow:
    return FLOWS[request.param]


@pytest.mark.parametrize("name", list(ESCAPES))
def test_every_escape_hatch_is_warned_or_junked(flow: Flow, name: str) -> None:
    raw = ESCAPES[name]
    result = flow.apply(raw, ENVELOPE)
    if name in JUNKED:
        assert_junked(result, raw)
    else:
        assert_warned(result, raw)
    assert explain(flow, raw, ENVELOPE)[-1] == result.summary_line()
    again = flow.apply(result.message, ENVELOPE)
    assert not again.changed, f"a second run changed it again: {again.summary()}"
    assert again.message is result.message


def assert_junked(result: Result, raw: bytes) -> None:
    assert not result.changed and result.message is raw
    assert result.fallback == "junk" and result.skipped, result.summary()
    assert result.actions == [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]


def assert_warned(result: Result, raw: bytes) -> None:
    assert result.changed, result.summary()
    out = result.message
    assert rejection_reason(raw, out) is None
    assert all(len(line) <= 998 for line in out.splitlines())
    assert result.actions == [{"action": {"type": "DEFAULT"}, "allRecipients": True}]
    subject = Message(out).root.header.field("subject")
    assert subject is not None and subject.decoded().startswith(TAG), subject
    assert_banner_first(out)
    assert_fields_kept(raw, out, result)
    assert sorted(attachments(raw)) == sorted(attachments(out)) or _wrapped_whole(raw, out)


def assert_banner_first(out: bytes) -> None:
    """The body a client shows first starts with the banner."""
    bodies = Message(out).bodies()
    assert bodies, "no body a client shows"
    for kind, part in bodies.items():
        text = decoded_text(part)
        if kind == "plain":
            assert text.lstrip().startswith(BANNER_WORD), text[:200]
        else:
            shape = html5.outline(text)
            first = text[shape.body_point:]
            assert BANNER_WORD in first[:first.find("</div>") + 1 or 6000], first[:300]


def decoded_text(part) -> str:  # type: ignore[no-untyped-def]
    data = transfer.decode(part.cte, part.body())
    label = part.charset_label or "utf-8"
    try:
        return data.decode(label)
    except (LookupError, UnicodeDecodeError):
        return data.decode("iso2022_jp_ext" if "2022" in label else "latin-1", "replace")


def assert_fields_kept(raw: bytes, out: bytes, result: Result) -> None:
    """Every header field of the original: in the output (as it was, folded, or the same
    text re-encoded; merged when repeated; inside the attached original when wrapped),
    or named as removed."""
    before = Message(crlf(raw)).root.header  # lone-CR mail is read (and written) with CRLF
    after = Message(out).root.header
    inner = _attached_original(out)
    kept = {b"".join(f.raw.split()) for f in after}
    texts = {(f.key, f.decoded()) for f in after}
    removed = " ".join(after.get_all("x-mimeops-removed")) + " ".join(result.removed)
    for field in before:
        if b"".join(field.raw.split()) in kept or (field.key, field.decoded()) in texts:
            continue
        if field.key == "subject":
            assert any(f.key == "subject" and f.decoded() == f"{TAG} {field.decoded()}"
                       for f in after) or field.name in removed, field.raw[:80]
            continue
        if field.key in ("to", "cc", "references", "in-reply-to") and \
                after.field(field.key) is not None and \
                field.raw_value().strip() in after.field(field.key).raw_value():  # type: ignore[union-attr]
            continue
        if inner is not None and field.key.startswith(("content-", "mime-version")):
            continue  # the body's own fields travel with the attached original
        if field.key.startswith("content-") and _fronted(out):
            continue  # moved onto the old body, now the part after the banner's
        if field.key in ("content-type", "content-transfer-encoding") and \
                Message(raw).root.maintype == "text":
            continue  # a single-part body edited: its charset or encoding may change
        assert field.name in removed, f"{field.name} neither kept nor named as removed"


def _attached_original(out: bytes) -> bytes | None:
    root = Message(out).root
    for part in root.walk():
        if part.filename == "original-message.eml":
            return transfer.decode(part.cte, part.body())
    return None


def _wrapped_whole(raw: bytes, out: bytes) -> bool:
    attached = _attached_original(out)
    return attached is not None and b"".join(attached.split()) == b"".join(raw.split())


def _fronted(out: bytes) -> bool:
    return Message(out).root.ctype == "multipart/mixed"


def attachments(raw: bytes) -> list[bytes]:
    """Decoded bytes of every attachment, as Python's parser sees them, also inside an
    attached message (a wrapped original is such a message, or an .eml file)."""
    found: list[bytes] = []

    def walk(msg: EmailMessage) -> None:
        for part in msg.walk():
            if part.get_content_type() == "message/rfc822" or part.get_filename() == \
                    "original-message.eml":
                payload = part.get_payload(decode=part.get_filename() == "original-message.eml")
                if isinstance(payload, bytes):
                    walk(email.message_from_bytes(payload, policy=email.policy.default))
                continue
            if part.get_content_disposition() == "attachment" and not part.is_multipart():
                data = part.get_payload(decode=True)
                found.append(data if isinstance(data, bytes) else b"")

    walk(email.message_from_bytes(raw, policy=email.policy.default))
    return found


# -- the classes one by one: what each gets -------------------------------------------------


def test_an_unstructured_field_is_re_encoded_to_the_same_text() -> None:
    raw = ESCAPES["x-header-unfoldable"]
    result = MINIMAL.apply(raw, ENVELOPE)
    blob = Message(result.message).root.header.field("x-blob")
    assert blob is not None and blob.decoded() == "x" * 1500
    assert blob.raw.count(b"=?utf-8?B?") > 20 and result.removed == []


def test_an_unfoldable_subject_keeps_its_text_and_gets_the_tag() -> None:
    raw = ESCAPES["subject-unfoldable-encoded-words"]
    result = MINIMAL.apply(raw, ENVELOPE)
    subject = Message(result.message).root.header.field("subject")
    assert subject is not None
    assert subject.decoded() == f"{TAG} " + words.decode(
        Message(raw).root.header.field("subject").value())  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["References", "In-Reply-To", "List-Unsubscribe", "Received"])
def test_a_structured_field_is_removed_and_named(name: str) -> None:
    raw = ESCAPES[f"{name.lower()}-unfoldable"]
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback is None and result.changed
    header = Message(result.message).root.header
    assert header.field(name) is None
    assert result.removed == [f"{name}: a line over 998 octets with no place to fold it"]
    assert header.get("x-mimeops-removed") == result.removed[0]
    assert result.summary()["removed"] == result.removed


def test_a_repeated_subject_is_named_as_removed() -> None:
    result = MINIMAL.apply(ESCAPES["two-subjects"], ENVELOPE)
    assert result.removed == ["Subject: repeated; the first is kept"]
    assert Message(result.message).root.header.get_all("subject") == [f"{TAG} Invoice"]


@pytest.mark.parametrize("name", sorted(JUNKED))
def test_what_no_rewrite_can_fix_goes_to_junk_with_the_reason(name: str) -> None:
    result = MINIMAL.apply(ESCAPES[name], ENVELOPE)
    assert result.fallback == "junk"
    if name == "malformed-header-block":
        assert result.skipped == "malformed-header"
    else:
        assert (result.skipped or "").startswith("invalid-output: ")


def test_the_fallback_can_be_deliver_or_bounce() -> None:
    raw = ESCAPES["two-from"]
    spec = (ROOT / "examples" / "flows" / "external-warning.yaml").read_text()
    deliver = load_flow(spec + "fallback: deliver\n", marker_key=KEY).apply(raw, ENVELOPE)
    assert deliver.fallback == "deliver" and deliver.message is raw
    assert deliver.actions == [{"action": {"type": "DEFAULT"}, "allRecipients": True}]
    bounce = load_flow(spec + "fallback: bounce\n", marker_key=KEY).apply(raw, ENVELOPE)
    assert bounce.fallback == "bounce"
    (entry,) = bounce.actions
    assert entry["action"]["type"] == "BOUNCE" and entry["allRecipients"] is True
    assert "notice" in entry["action"]["parameters"]["bounceMessage"]


def test_outbound_mail_is_delivered_under_junk_and_bounced_on_request() -> None:
    spec = ("internal_domains: [example.com]\nrules:\n  - name: w\n    apply:\n"
            "      - banner: NOTICE\n      - subject_prefix: '[OUT]'\n")
    raw = ESCAPES["two-from"].replace(b"s@outside.example.net", b"me@example.com")
    out = Envelope("OUTBOUND", "me@example.com", ["you@example.net"])
    junk = load_flow(spec, marker_key=KEY).apply(raw, out)
    assert junk.fallback == "deliver" and junk.actions[0]["action"]["type"] == "DEFAULT"
    bounce = load_flow(spec + "fallback: {inbound: junk, outbound: bounce}\n",
                       marker_key=KEY).apply(raw, out)
    assert bounce.fallback == "bounce" and bounce.actions[0]["action"]["type"] == "BOUNCE"


def test_recipients_a_rule_bounces_keep_their_bounce() -> None:
    spec = ("internal_domains: [example.com]\nrules:\n"
            "  - {name: w, apply: [{banner: NOTICE}, {subject_prefix: '[X]'}]}\n"
            "  - {name: gone, action: {type: BOUNCE, message: gone,"
            " recipients: [old@example.com]}}\n")
    result = load_flow(spec, marker_key=KEY).apply(
        ESCAPES["two-from"], Envelope("INBOUND", "s@outside.example.net",
                                      ["b@example.com", "old@example.com"]))
    assert result.actions == [
        {"action": {"type": "BOUNCE", "parameters": {"bounceMessage": "gone"}},
         "recipients": ["old@example.com"]},
        {"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]


class Probe:
    """A transform that notes, when it runs, what the flow's `unfinished` had heard."""

    name = "probe"

    def __init__(self, heard: list[Pending]) -> None:
        self.heard = heard
        self.saw: list[Pending] | None = None

    def apply(self, mail: object, context: object) -> bool:
        self.saw = list(self.heard)
        return False


def wire(fallen: Fallen | None) -> tuple[str, list[str]] | None:
    """(the fallback, each recipient action's type) of a Pending's `fallen`."""
    if fallen is None:
        return None
    rung, taken = fallen
    return str(rung), [entry.workmail()["action"]["type"] for entry in taken]


TO_JUNK = ("junk", ["MOVE_TO_JUNK"])


@pytest.mark.parametrize(("fallback", "envelope", "before", "after"), [
    (None, ENVELOPE, TO_JUNK, TO_JUNK),
    ("bounce", ENVELOPE, ("bounce", ["BOUNCE"]), ("bounce", ["BOUNCE"])),
    ("deliver", ENVELOPE, None, None),
    # A colleague: before the rules are matched, the warning may still match.
    (None, Envelope("INBOUND", "me@example.com", ["b@example.com"]), TO_JUNK, None),
    (None, Envelope("OUTBOUND", "s@outside.example.net", ["x@example.net"]), None, None),
])
def test_unfinished_hears_the_fallback_before_reading_and_before_the_rewrite(
        fallback: str | None, envelope: Envelope, before: object, after: object) -> None:
    """What a transport answers should `apply` not return in time, or raise: before the
    message is read (as if the warning matched), then once the rules are matched, both
    before any transform runs."""
    heard: list[Pending] = []
    probe = Probe(heard)
    spec: dict[str, object] = {"internal_domains": ["example.com"], "rules": [
        {"name": "warn", "when": {"sender": "external"},
         "apply": [probe, {"banner": "CAUTION"}, {"subject_prefix": TAG}]}]}
    if fallback:
        spec["fallback"] = fallback
    raw = message().replace(b"s@outside.example.net", envelope.mail_from.encode())
    result = load_flow(spec, marker_key=KEY).apply(raw, envelope, unfinished=heard.append)
    assert [(wire(p.fallen), p.decided) for p in heard] == [(before, False), (after, True)]
    assert probe.saw in (None, heard)  # heard whole before the transforms ran
    assert result.fallback is None  # the rewrite itself went out


def test_a_rule_that_does_not_warn_or_a_message_nobody_gets_has_nothing_pending() -> None:
    heard: list[Pending] = []
    route = load_flow({"internal_domains": ["example.com"], "rules": [
        {"name": "route", "apply": [{"set_header": {"name": "X-Route", "value": "a"}}]}]},
        marker_key=KEY)
    route.apply(message(), ENVELOPE, unfinished=heard.append)
    assert [(p.fallen, p.decided) for p in heard] == [(None, False), (None, True)]
    heard.clear()
    dropped = load_flow({"internal_domains": ["example.com"], "rules": [
        {"name": "warn", "apply": [{"banner": "CAUTION"}], "action": {"type": "DROP"}}]},
        marker_key=KEY)
    dropped.apply(message(), ENVELOPE, unfinished=heard.append)
    assert [(wire(p.fallen), p.decided) for p in heard] == [(TO_JUNK, False), (None, True)]


def test_a_flow_without_a_warning_rule_keeps_delivering_unchanged() -> None:
    spec = ("internal_domains: [example.com]\nrules:\n"
            "  - {name: route, apply: [{set_header: {name: X-Route, value: finance}}]}\n")
    result = load_flow(spec, marker_key=KEY).apply(ESCAPES["two-from"], ENVELOPE)
    assert result.fallback is None and not result.changed
    assert result.skipped == ("invalid-output: unique header From appears 2 times; it may "
                              "appear only once")
    assert result.actions == [{"action": {"type": "DEFAULT"}, "allRecipients": True}]


@pytest.mark.parametrize(("name", "as_file"), [
    # HTML (a phish in a bogus signature), or content Thunderbird decrypts and shows: a
    # file, so that its stylesheet never shares a page with the banner (docs/rendering.md).
    ("bogus-signed-phish", True), ("opaque-pkcs7", True), ("pgp-encrypted", True),
    # Nothing that could restyle the page: a message clients open in place.
    ("invitation", False), ("inline-pgp", False)])
def test_hands_off_mail_from_outside_is_wrapped_by_default(name: str, as_file: bool) -> None:
    raw = ESCAPES[name]
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback is None and result.applied == ["warn:banner", "warn:subject_prefix"]
    attached = Message(result.message).root.children[1]  # type: ignore[index]
    if as_file:
        assert attached.ctype == "application/octet-stream" and attached.cte == "base64"
        assert attached.filename == "original-message.eml" and attached.decoded() == raw
    else:
        assert attached.ctype == "message/rfc822" and attached.body() == raw


def test_hands_off_mail_from_a_colleague_and_outbound_is_left_alone_by_default() -> None:
    spec = ("internal_domains: [example.com]\nrules:\n"
            "  - {name: w, apply: [{banner: NOTICE}, {subject_prefix: '[X]'}]}\n")
    raw = ESCAPES["bogus-signed-phish"].replace(b"s@outside.example.net", b"me@example.com")
    flow_ = load_flow(spec, marker_key=KEY)
    for envelope in (Envelope("INBOUND", "me@example.com", ["b@example.com"]),
                     Envelope("OUTBOUND", "me@example.com", ["you@example.net"])):
        result = flow_.apply(raw, envelope)
        assert not result.changed and result.skipped == "signed message (multipart/signed)"


def test_a_report_from_outside_gets_the_banner_in_its_text() -> None:
    result = MINIMAL.apply(ESCAPES["report-from-outside"], ENVELOPE)
    assert result.fallback is None
    assert Message(result.message).root.ctype == "multipart/report"


@pytest.mark.parametrize("name", ["x-uuencode", "x-gzip64", "uuencoded-plain-beside-html",
                                  "nesting-90", "iso-2022-jp-garbage-html",
                                  "related-image-first-undecodable-html"])
def test_a_body_the_banner_cannot_enter_gets_a_part_in_front_and_stays_named(name: str) -> None:
    raw = ESCAPES[name]
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback == "front" and result.bare, result.summary()
    assert result.skipped is None


def test_the_part_in_front_of_a_bare_alternative_keeps_the_other_alternatives_banner() -> None:
    result = MINIMAL.apply(ESCAPES["uuencoded-plain-beside-html"], ENVELOPE)
    root = Message(result.message).root
    assert root.ctype == "multipart/alternative"
    assert [c.ctype for c in root.children or []] == ["multipart/mixed", "text/html"]
    bodies = select.bodies(root)
    assert BANNER_WORD in decoded_text(bodies["plain"]) and \
        BANNER_WORD in decoded_text(bodies["html"])
    uuencoded = root.children[0].children[1]  # type: ignore[index]
    assert uuencoded.body() == b"begin 644 x\r\n`\r\nend"


def test_iso_2022_jp_plain_with_nec_characters_gets_the_banner_in_its_own_bytes() -> None:
    result = MINIMAL.apply(ESCAPES["iso-2022-jp-nec-plain"], ENVELOPE)
    part = Message(result.message).bodies()["plain"]
    assert part.charset_label == "ISO-2022-JP" and result.fallback is None
    assert part.decoded() == b"CAUTION: external sender s@outside.example.net\r\n\r\n" + NEC


def test_iso_2022_jp_html_with_nec_characters_is_read_as_windows_reads_it() -> None:
    result = MINIMAL.apply(ESCAPES["iso-2022-jp-nec-html"], ENVELOPE)
    part = Message(result.message).bodies()["html"]
    assert part.charset_label == "utf-8" and result.bare == [] and result.fallback is None
    assert "こんにちは ①②③" in part.decoded().decode("utf-8")


def test_iso_2022_kr_with_shifts_gets_the_banner_at_the_top() -> None:
    result = MINIMAL.apply(ESCAPES["iso-2022-kr-shifted"], ENVELOPE)
    part = Message(result.message).bodies()["plain"]
    assert part.decoded().startswith(b"CAUTION: external sender s@outside.example.net\r\n\r\n"
                                     b"\x1b$)C\r\n\x0e")


@pytest.mark.parametrize("name", ["attached-message-long-line", "preamble-long-line",
                                  "epilogue-long-line", "uuencode-long-line",
                                  "opaque-deep-long-line", "content-type-param-unfoldable"])
def test_a_line_nothing_can_shorten_in_place_gets_the_original_attached(name: str) -> None:
    raw = ESCAPES[name]
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback == "wrap" and (result.skipped or "").startswith("invalid-output: ")
    assert _attached_original(result.message) == raw  # byte for byte, in base64


@pytest.mark.parametrize("name", ["forward-with-stylesheet", "octet-stream-named-html",
                                  "encoded-word-content-type", "forward-beside-uuencode"])
def test_a_part_no_guard_confines_gets_the_message_wrapped(name: str) -> None:
    """Thunderbird would show it as HTML in the page of the banner, where its stylesheet
    hides the banner: the whole message goes as an .eml file under the banner, and the
    part is named in `bare`. A part in front does not help: the wrap is taken over it."""
    raw = ESCAPES[name]
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback == "wrap" and result.skipped is None, result.summary()
    assert any(entry.endswith("where its stylesheet can hide the banner")
               for entry in result.bare), result.bare
    attached = Message(result.message).root.children[1]  # type: ignore[index]
    assert attached.ctype == "application/octet-stream" and attached.decoded() == raw


def test_outbound_mail_with_an_attached_html_message_is_edited_in_place() -> None:
    """Our own users' mail: no guard by default, nothing to wrap for."""
    spec = "internal_domains: [example.com]\nrules:\n  - {name: d, apply: [{banner: NOTE}]}\n"
    raw = ESCAPES["forward-with-stylesheet"].replace(b"s@outside.example.net",
                                                     b"me@example.com")
    result = load_flow(spec, marker_key=KEY).apply(
        raw, Envelope("OUTBOUND", "me@example.com", ["you@example.net"]))
    assert result.changed and result.fallback is None and result.bare == []
    assert Message(result.message).root.children[1].ctype == "message/rfc822"  # type: ignore[index]


# -- the other transports: the handler's metric, the SMTP filter's reply -------------------


def test_explain_says_why_a_matched_rule_changed_nothing() -> None:
    lines = explain(MINIMAL, ESCAPES["two-from"], ENVELOPE)
    assert lines[0].startswith("warn: matched: ")
    assert lines[0].endswith("; changed nothing: invalid-output: unique header From appears 2 "
                             "times; it may appear only once; fallback: moved to Junk")
    assert lines[-1] == MINIMAL.apply(ESCAPES["two-from"], ENVELOPE).summary_line()


def test_explain_names_the_lesser_rewrite() -> None:
    lines = explain(MINIMAL, ESCAPES["x-uuencode"], ENVELOPE)
    assert "; changed banner, subject_prefix (front fallback)" in lines[0]


def test_the_messages_are_files_a_user_can_try(tmp_path: Path) -> None:
    """The set is plain bytes: every message parses as mail (Python's parser agrees)."""
    for name, raw in ESCAPES.items():
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["from"] is not None or name == "malformed-header-block", name


def test_an_undecodable_html_alternative_keeps_the_plain_alternatives_banner() -> None:
    raw = multipart(
        b"multipart/alternative", b"Content-Type: text/plain\r\n\r\nPay now.",
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\nend")
    result = MINIMAL.apply(raw, ENVELOPE)
    assert result.fallback == "front"
    bodies = Message(result.message).bodies()
    assert set(bodies) == {"plain", "html"}
    assert decoded_text(bodies["plain"]).startswith("CAUTION") and \
        "Pay now." in decoded_text(bodies["plain"])
    assert BANNER_WORD in decoded_text(bodies["html"])
    assert Message(result.message).root.children[1].children[1].body() == b"begin\r\nend"  # type: ignore[index]


def test_an_undecodable_html_root_of_a_related_alternative_keeps_both_banners() -> None:
    related = (b'Content-Type: multipart/related; boundary="r"\r\n\r\n--r\r\n'
               b"Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
               b"begin\r\nend\r\n--r\r\n" + GIF_PART.replace(b"attachment", b"inline")
               + b"\r\n--r--")
    raw = multipart(b"multipart/alternative", b"Content-Type: text/plain\r\n\r\nPay now.",
                    related)
    result = MINIMAL.apply(raw, ENVELOPE)
    # The unreferenced image shows before the bodies in Thunderbird: a part in front of
    # everything carries the banner first (mimeops.mime.display); past it, both bodies.
    root = Message(result.message).root
    front = root.children[0]  # type: ignore[index]
    assert BANNER_WORD in decoded_text(front)
    bodies = select.bodies(root, skip=front)
    assert set(bodies) == {"plain", "html"} and result.fallback == "front"
    assert "Pay now." in decoded_text(bodies["plain"])
    assert all(BANNER_WORD in decoded_text(part) for part in bodies.values())
    assert sorted(attachments(raw)) == sorted(attachments(result.message))
