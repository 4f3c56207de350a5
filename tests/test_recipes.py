"""The recipes in examples/flows/, on real messages, checked for what a user would notice."""

from __future__ import annotations

import base64
import codecs
import email
import email.policy
import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from mimeops import Envelope, FlowError, load_flow
from mimeops.flow import Flow, marker
from mimeops.mime import Message, transfer
from tests.conftest import CORPUS, corpus_files, corpus_params

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "examples" / "flows"
EVENTS = ROOT / "events" / "messages"
SAMPLES = ROOT / "tests" / "messages"
KEY = b"t"

EXTERNAL = (EVENTS / "external.eml").read_bytes()    # partner → jane + john, PDF attached
INTERNAL = (EVENTS / "internal.eml").read_bytes()    # john → jane, format=flowed
OUTBOUND = (EVENTS / "outbound.eml").read_bytes()    # jane → partner, CSV attached
SIGNED = (SAMPLES / "external-signed.eml").read_bytes()          # S/MIME, CRLF
INSTALLER = (SAMPLES / "outbound-installer.eml").read_bytes()    # jane → partner, .EXE
INVOICE = (SAMPLES / "finance-invoice.eml").read_bytes()         # → finance, forged X-Route

DEFAULT = [{"action": {"type": "DEFAULT"}, "allRecipients": True}]


def recipe(name: str) -> Flow:
    return load_flow(FLOWS / f"{name}.yaml", marker_key=KEY)


def inbound(mail_from: str = "m.dupont@partner.example.net", *recipients: str) -> Envelope:
    return Envelope("INBOUND", mail_from, list(recipients) or ["jane.doe@example.com"])


def outbound(*recipients: str, mail_from: str = "jane.doe@example.com") -> Envelope:
    return Envelope("OUTBOUND", mail_from, list(recipients) or ["m.dupont@partner.example.net"])


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def plain(raw: bytes) -> str:
    return parse(raw).get_body(("plain",)).get_content()


def html(raw: bytes) -> str:
    return parse(raw).get_body(("html",)).get_content()


def attachments(raw: bytes) -> dict[str, tuple[list[bytes], bytes]]:
    """Every attachment exactly as it is in the message: its Content-* fields and encoded
    body (a message that was one attachment keeps them in a part of its own, after the
    text part the banner goes in)."""
    root = Message(raw).root
    found: dict[str, tuple[list[bytes], bytes]] = {}
    for part in root.walk():
        if part.is_attachment:
            fields = [f.raw for f in part.header if f.key.startswith("content-")]
            found[part.filename or part.ctype] = (fields, part.buf[part.body_start:part.end])
    return found


def body_bytes(raw: bytes) -> bytes:
    """Everything after the top-level header block."""
    return Message(raw).root.body()


def _codec(label: str | None) -> str:
    try:
        return codecs.lookup(label or "ascii").name
    except LookupError:
        return "latin-1"


def assert_idempotent(flow: Flow, raw: bytes, envelope: Envelope) -> None:
    """A second application (a WorkMail retry, or mail that loops back) changes nothing."""
    again = flow.apply(raw, envelope)
    assert not again.changed and again.message is raw and again.applied == []


def mimeops(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "MIMEOPS_MARKER_KEY": KEY.decode()}
    return subprocess.run([sys.executable, "-m", "mimeops", *args], capture_output=True,
                          cwd=ROOT, env=env, timeout=60, check=False)


def attachment_message(filename: str, *, sender: str = "jane.doe@example.com",
                       to: str = "m.dupont@partner.example.net",
                       disposition: str | None = None) -> bytes:
    """A message as a mail client writes it: text + HTML, and one binary attachment."""
    disposition = disposition or f'attachment; filename="{filename}"'
    payload = base64.encodebytes(b"MZ\x90\x00" + bytes(range(256))).decode()
    return (
        f"From: Sender <{sender}>\nTo: {to}\nSubject: the file\n"
        f"Date: Thu, 16 May 2024 09:12:40 +0000\nMessage-ID: <att-1@example.com>\n"
        f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=mix\n\n"
        f"--mix\nContent-Type: multipart/alternative; boundary=alt\n\n"
        f"--alt\nContent-Type: text/plain; charset=utf-8\n\nHere it is.\n"
        f"--alt\nContent-Type: text/html; charset=utf-8\n\n"
        f"<html><body><p>Here it is.</p></body></html>\n--alt--\n"
        f"--mix\nContent-Type: application/octet-stream\nContent-Disposition: {disposition}\n"
        f"Content-Transfer-Encoding: base64\n\n{payload}--mix--\n"
    ).encode()


# == external-warning ==========================================================================

BANNER = "CAUTION: This email came from outside the organization ({})."


def test_external_sender_sees_banner_in_text_and_html_and_tagged_subject() -> None:
    result = recipe("external-warning").apply(EXTERNAL, inbound(
        "m.dupont@partner.example.net", "jane.doe@example.com", "john.smith@example.com"))
    assert result.changed and result.skipped is None and result.actions == DEFAULT
    assert result.applied == ["external-warning:banner", "external-warning:subject_prefix",
                              "external-warning:set_header"]
    text, markup = plain(result.message), html(result.message)
    assert text.startswith(BANNER.format("m.dupont@partner.example.net"))
    assert text.index("CAUTION") < text.index("Hallo Jane")
    assert "(<b>m.dupont@partner.example.net</b>)" in markup
    assert markup.index("<b>CAUTION:</b>") > markup.index("<body")
    assert markup.index("<b>CAUTION:</b>") < markup.index("Hallo Jane")
    assert markup.count("CAUTION") == 1 and text.count("CAUTION") == 1
    parsed = parse(result.message)
    assert parsed["Subject"] == "[EXTERNAL] " + parse(EXTERNAL)["Subject"]
    assert parsed.get_all("X-External-Sender") == ["m.dupont@partner.example.net"]
    assert attachments(result.message) == attachments(EXTERNAL)  # the PDF, byte for byte
    assert_idempotent(recipe("external-warning"), result.message, inbound())


def test_internal_sender_gets_nothing() -> None:
    result = recipe("external-warning").apply(INTERNAL, inbound("john.smith@example.com"))
    assert result.message is INTERNAL and result.applied == [] and result.actions == DEFAULT


def test_from_claiming_our_domain_over_an_outside_envelope_is_warned() -> None:
    result = recipe("external-warning").apply(INTERNAL, inbound("bounce@mailer.example.net"))
    assert "external-warning:banner" in result.applied
    assert plain(result.message).startswith(BANNER.format("john.smith@example.com"))
    assert parse(result.message)["Subject"] == "[EXTERNAL] Team lunch on Friday"


def test_reply_that_already_carries_the_tag_is_not_tagged_twice() -> None:
    raw = EXTERNAL.replace(b"Subject: =?UTF-8?Q?", b"Subject: Re: [EXTERNAL] =?UTF-8?Q?")
    result = recipe("external-warning").apply(raw, inbound())
    assert "external-warning:subject_prefix" not in result.applied
    assert "external-warning:banner" in result.applied
    assert parse(result.message)["Subject"].count("[EXTERNAL]") == 1


def test_sender_forged_warning_header_is_replaced_not_doubled() -> None:
    raw = EXTERNAL.replace(b"X-Mailer:", b"X-External-Sender: no\nX-Mailer:")
    result = recipe("external-warning").apply(raw, inbound())
    assert parse(result.message).get_all("X-External-Sender") == ["m.dupont@partner.example.net"]


def test_hostile_sender_address_cannot_inject_markup_into_the_banner() -> None:
    raw = EXTERNAL.replace(b"From: =?UTF-8?Q?Marie_Dupont?= <m.dupont@partner.example.net>",
                           b'From: Eve <"<img src=x onerror=alert(1)>"@evil.example>')
    result = recipe("external-warning").apply(raw, inbound("eve@evil.example"))
    markup = html(result.message)
    assert "<img src=x" not in markup
    assert "(<b>&quot;&lt;img src=x onerror=alert(1)&gt;&quot;@evil.example</b>)" in markup


def test_signed_external_mail_is_attached_whole_under_the_banner() -> None:
    """`protected: wrap`: a sender cannot dodge the banner by signing the message, and the
    signature still verifies on the attached original: an .eml file, since the signed
    message has HTML that Thunderbird would show next to the banner."""
    result = recipe("external-warning").apply(SIGNED, inbound())
    assert result.skipped is None and result.fallback is None
    assert result.applied == ["external-warning:banner", "external-warning:subject_prefix",
                              "external-warning:set_header"]
    first, attached = Message(result.message).root.children  # type: ignore[misc]
    assert b"CAUTION" in first.body() and attached.ctype == "application/octet-stream"
    assert attached.filename == "original-message.eml" and attached.decoded() == SIGNED
    parsed = parse(result.message)
    assert parsed["Subject"] == "[EXTERNAL] Updated bank details"
    assert parsed["X-External-Sender"] == "m.dupont@partner.example.net"
    assert_idempotent(recipe("external-warning"), result.message, inbound())


def test_signed_external_mail_keeps_its_body_and_still_gets_the_tag_under_headers() -> None:
    spec = (FLOWS / "external-warning.yaml").read_text().replace(
        "protected: wrap", "protected: headers")
    flow = load_flow(spec, marker_key=KEY)
    result = flow.apply(SIGNED, inbound())
    assert result.skipped == "signed message (multipart/signed)"
    assert result.applied == ["external-warning:subject_prefix", "external-warning:set_header"]
    assert body_bytes(result.message) == body_bytes(SIGNED)  # signature still verifies
    assert b"CAUTION" not in result.message
    parsed = parse(result.message)
    assert parsed["Subject"] == "[EXTERNAL] Updated bank details"
    assert parsed["X-External-Sender"] == "m.dupont@partner.example.net"
    assert b"\r\nX-External-Sender: m.dupont@partner.example.net\r\n" in result.message  # CRLF kept
    assert_idempotent(flow, result.message, inbound())


@pytest.mark.skipif(not (CORPUS / "flanker" / "signed.eml").is_file(), reason="corpus absent")
def test_signed_corpus_message_is_tagged_and_attached_whole() -> None:
    raw = (CORPUS / "flanker" / "signed.eml").read_bytes()
    result = recipe("external-warning").apply(raw, inbound("sender@example.dom"))
    assert result.skipped is None and "external-warning:banner" in result.applied
    assert parse(result.message)["Subject"] == "[EXTERNAL] M2Crypto S/MIME testing"
    assert Message(result.message).root.children[1].body() == raw  # type: ignore[index]


def test_outbound_mail_is_not_warned() -> None:
    result = recipe("external-warning").apply(OUTBOUND, outbound())
    assert result.message is OUTBOUND and result.applied == []


@pytest.mark.parametrize("path", corpus_params())
def test_external_warning_on_every_corpus_message(path: Path | None) -> None:
    """Every real-world message is tagged, body-bannered where it has a body we may edit,
    keeps its attachments byte for byte, and a second pass changes nothing."""
    assert path is not None
    raw = path.read_bytes()
    flow = recipe("external-warning")
    result = flow.apply(raw, inbound("someone@outside.example.net"))
    if result.fallback == "junk":
        # No header block (a bare body), a block that cannot be read with certainty,
        # or a repeated immutable field WorkMail refuses: no warned output, so Junk.
        assert result.message is raw and result.applied == [] and result.skipped
        assert result.actions == [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]
        return
    assert "external-warning:set_header" in result.applied
    assert "external-warning:subject_prefix" in result.applied
    wrapped = Message(result.message).root.children or []
    if len(wrapped) == 2 and wrapped[1].filename == "original-message.eml":
        # Signed mail, or a line no folding can fix: the original attached whole.
        assert transfer.decode(wrapped[1].cte, wrapped[1].body()).split() == raw.split()
        assert_idempotent(flow, result.message, inbound("someone@outside.example.net"))
        return
    assert attachments(result.message) == attachments(raw)
    if result.skipped is not None:
        assert not any(a.endswith((":banner", ":footer")) for a in result.applied)
        assert body_bytes(result.message) == body_bytes(raw)
    if "external-warning:banner" in result.applied:
        decoded = [transfer.decode(part.cte, part.body()).decode(
                       _codec(part.charset_label), "replace")
                   for part in Message(result.message).bodies().values()]
        assert any("CAUTION" in text for text in decoded)
    assert_idempotent(flow, result.message, inbound("someone@outside.example.net"))


def test_external_warning_cli() -> None:
    done = mimeops("apply", "--config", str(FLOWS / "external-warning.yaml"),
                   str(EVENTS / "external.eml"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert summary == {"changed": True, "skipped": None, "actions": DEFAULT, "applied": [
        "external-warning:banner", "external-warning:subject_prefix",
        "external-warning:set_header"], "bare": []}
    # The CLI writes what the Python API returns (same key, envelope from the headers).
    api = recipe("external-warning").apply(EXTERNAL, inbound(
        "m.dupont@partner.example.net", "jane.doe@example.com", "john.smith@example.com"))
    assert done.stdout == api.message


def test_external_warning_cli_signed_mail_and_rerun(tmp_path: Path) -> None:
    out, again = tmp_path / "out.eml", tmp_path / "again.eml"
    config = str(FLOWS / "external-warning.yaml")
    signed = str(SAMPLES / "external-signed.eml")
    done = mimeops("apply", "--config", config, signed, "-o", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped"] is None and summary["changed"]
    assert b'filename="original-message.eml"' in out.read_bytes()
    rerun = mimeops("apply", "--config", config, str(out), "-o", str(again))
    assert json.loads(rerun.stdout)["changed"] is False
    assert again.read_bytes() == out.read_bytes()


# == outbound-disclaimer =======================================================================

DISCLAIMER = "This email and any attachments are confidential and intended solely"
DISCLAIMER_END = "Example Corp, 1 Example Street, Example City."


def test_outbound_mail_gets_the_footer_below_the_quoted_conversation() -> None:
    result = recipe("outbound-disclaimer").apply(OUTBOUND, outbound(
        "m.dupont@partner.example.net", "logistics@partner.example.net"))
    assert result.applied == ["outbound-disclaimer:footer"] and result.actions == DEFAULT
    text, markup = plain(result.message), html(result.message)
    assert text.rstrip().endswith(DISCLAIMER_END)
    assert text.index(DISCLAIMER) > text.index("anbei unser Angebot")  # below the quote
    assert DISCLAIMER_END + "</div></body>" in markup.replace("\n", "")
    assert markup.index(DISCLAIMER) > markup.index("anbei unser Angebot")
    assert text.count(DISCLAIMER) == 1 and markup.count(DISCLAIMER) == 1
    assert attachments(result.message) == attachments(OUTBOUND)  # the CSV, byte for byte
    parsed = parse(result.message)
    assert parsed["Subject"] == parse(OUTBOUND)["Subject"]
    assert_idempotent(recipe("outbound-disclaimer"), result.message, outbound())


def test_disclaimer_keeps_format_flowed_plain_text_readable() -> None:
    result = recipe("outbound-disclaimer").apply(INTERNAL, outbound(
        "jane.doe@example.com", mail_from="john.smith@example.com"))
    text = plain(result.message)
    assert text.rstrip().endswith(DISCLAIMER_END)
    assert parse(result.message).get_body(("plain",)).get_param("format") == "flowed"
    assert DISCLAIMER in html(result.message)


def test_inbound_mail_gets_no_disclaimer() -> None:
    result = recipe("outbound-disclaimer").apply(EXTERNAL, inbound())
    assert result.message is EXTERNAL and result.applied == []


@pytest.mark.skipif(not (CORPUS / "flanker" / "mailgun-pic.eml").is_file(),
                    reason="corpus absent")
def test_disclaimer_on_a_base64_corpus_message_with_an_image() -> None:
    raw = (CORPUS / "flanker" / "mailgun-pic.eml").read_bytes()
    result = recipe("outbound-disclaimer").apply(raw, outbound(mail_from="hello@example.com"))
    text, markup = plain(result.message), html(result.message)
    assert text.startswith(plain(raw)) and text.rstrip().endswith(DISCLAIMER_END)
    assert "Regards,<br>Alex" in markup and DISCLAIMER in markup
    assert attachments(result.message) == attachments(raw)  # mailgun.png


def test_outbound_disclaimer_cli(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = mimeops("apply", "--config", str(FLOWS / "outbound-disclaimer.yaml"), "--direction",
                   "OUTBOUND", str(EVENTS / "outbound.eml"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"changed": True, "skipped": None, "actions": DEFAULT,
                                       "applied": ["outbound-disclaimer:footer"], "bare": []}
    assert plain(out.read_bytes()).rstrip().endswith(DISCLAIMER_END)
    rerun = mimeops("apply", "--config", str(FLOWS / "outbound-disclaimer.yaml"), "--direction",
                    "OUTBOUND", str(out), "-o", str(tmp_path / "again.eml"))
    assert json.loads(rerun.stdout)["changed"] is False


# == block-executables =========================================================================

BOUNCE_TEXT = ("Your message was not sent: it has an executable attachment (.exe, .js, .scr, "
               ".bat, .cmd, .vbs or .msi). Please share programs and scripts through the company "
               "file share instead.")
BOUNCE = [{"action": {"type": "BOUNCE", "parameters": {"bounceMessage": BOUNCE_TEXT}},
           "allRecipients": True}]
JUNK = [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]
BLOCKED = ["tool.exe", "run.js", "screen.scr", "fix.bat", "fix.cmd", "macro.vbs", "setup.msi",
           "SETUP.EXE", "Invoice.pdf.exe", "Run.Js"]


@pytest.mark.parametrize("filename", BLOCKED)
def test_outbound_executable_bounces_and_message_is_left_alone(filename: str) -> None:
    raw = attachment_message(filename)
    result = recipe("block-executables").apply(raw, outbound(
        "m.dupont@partner.example.net", "logistics@partner.example.net"))
    assert result.actions == BOUNCE
    assert result.message is raw and not result.changed and result.applied == []


@pytest.mark.parametrize("filename", BLOCKED)
def test_inbound_executable_goes_to_junk(filename: str) -> None:
    raw = attachment_message(filename, sender="eve@outside.example.net", to="jane.doe@example.com")
    result = recipe("block-executables").apply(raw, inbound("eve@outside.example.net"))
    assert result.actions == JUNK
    assert result.message is raw


def test_outbound_installer_sample_bounces() -> None:
    result = recipe("block-executables").apply(INSTALLER, outbound())
    assert result.actions == BOUNCE and result.message is INSTALLER


@pytest.mark.parametrize("disposition", [
    "attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.exe",               # RFC 2231
    'attachment; filename="=?utf-8?B?UmVjaG51bmcgTcOkcnouZXhl?="',        # RFC 2047 (Outlook)
    "attachment; filename*0*=UTF-8''setup; filename*1=.e; filename*2=xe",  # continuations
    'inline; filename="setup.exe"',
], ids=["rfc2231", "rfc2047", "continuations", "inline"])
def test_encoded_executable_names_are_recognized(disposition: str) -> None:
    raw = attachment_message("", disposition=disposition)
    assert recipe("block-executables").apply(raw, outbound()).actions == BOUNCE


def test_executable_inside_a_forwarded_message_bounces() -> None:
    inner = attachment_message("payload.vbs").decode()
    raw = (
        "From: jane.doe@example.com\nTo: m.dupont@partner.example.net\nSubject: Fwd: the file\n"
        "Message-ID: <fwd-1@example.com>\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\n"
        "See below.\n--outer\nContent-Type: message/rfc822\n"
        "Content-Disposition: attachment; filename=\"the file.eml\"\n\n"
        f"{inner}\n--outer--\n"
    ).encode()
    assert recipe("block-executables").apply(raw, outbound()).actions == BOUNCE


@pytest.mark.parametrize("filename", ["forecast.csv", "exec-summary.pdf", "setup.exe.pdf",
                                      "notes.jsx", "archive.zip", "msi", "readme.vbs.txt"])
def test_other_attachments_pass_untouched(filename: str) -> None:
    raw = attachment_message(filename)
    result = recipe("block-executables").apply(raw, outbound())
    assert result.actions == DEFAULT and result.message is raw


def test_real_outbound_message_with_csv_is_delivered() -> None:
    result = recipe("block-executables").apply(OUTBOUND, outbound())
    assert result.actions == DEFAULT and result.message is OUTBOUND


@pytest.mark.skipif(not corpus_files(), reason="corpus absent")
def test_block_executables_agrees_with_the_stdlib_on_the_corpus() -> None:
    """For every corpus message, bounce exactly when Python's email package sees a blocked
    file name; never rewrite."""
    flow = recipe("block-executables")
    blocked = (".exe", ".js", ".scr", ".bat", ".cmd", ".vbs", ".msi")
    seen = 0
    for path in corpus_files():
        raw = path.read_bytes()
        names = [str(p.get_filename() or "").lower() for p in parse(raw).walk()]
        seen += any(names)
        result = flow.apply(raw, outbound())
        expected = BOUNCE if any(n.endswith(blocked) for n in names) else DEFAULT
        assert (result.actions, result.message is raw) == (expected, True), path
    assert seen > 50  # the corpus really has attachments (zip, pdf, images, ...)


@pytest.mark.skipif(not (CORPUS / "spamscope" / "mail_test_15").is_file(), reason="corpus absent")
def test_real_phishing_zip_renamed_to_exe_is_bounced_and_junked() -> None:
    raw = (CORPUS / "spamscope" / "mail_test_15").read_bytes()
    assert recipe("block-executables").apply(raw, inbound("x@ncs.gov.ng")).actions == DEFAULT
    renamed = raw.replace(b'REQUEST FOR QUOTE.zip"', b'REQUEST FOR QUOTE.scr"')
    assert recipe("block-executables").apply(renamed, inbound("x@ncs.gov.ng")).actions == JUNK
    assert recipe("block-executables").apply(renamed, outbound()).actions == BOUNCE


def test_bounce_wins_over_other_recipes_rewriting() -> None:
    """Combined with the disclaimer, a bounced message is not rewritten at all."""
    flow = load_flow(
        (FLOWS / "block-executables.yaml").read_text(encoding="utf-8") + "\n"
        + (FLOWS / "outbound-disclaimer.yaml").read_text(encoding="utf-8").split("rules:\n", 1)[1],
        marker_key=KEY)
    result = flow.apply(INSTALLER, outbound())
    assert result.actions == BOUNCE and result.message is INSTALLER
    assert result.skipped == "every recipient is bounced or dropped"
    delivered = flow.apply(OUTBOUND, outbound())
    assert delivered.applied == ["outbound-disclaimer:footer"] and delivered.actions == DEFAULT


def test_block_executables_cli() -> None:
    config = str(FLOWS / "block-executables.yaml")
    done = mimeops("apply", "--config", config, "--direction", "OUTBOUND",
                   str(SAMPLES / "outbound-installer.eml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == INSTALLER
    summary = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert summary == {"changed": False, "skipped": None, "applied": [], "actions": BOUNCE,
                       "bare": []}
    junk = mimeops("apply", "--config", config, str(SAMPLES / "outbound-installer.eml"))
    assert json.loads(junk.stderr.decode().strip().splitlines()[-1])["actions"] == JUNK


# == internal-confidential =====================================================================

INTERNAL_ONLY = "Internal only: do not forward outside Example Corp."


def internal_memo(to: str, cc: str | None = None) -> bytes:
    cc_line = f"Cc: {cc}\n" if cc else ""
    return (
        f"From: Al Example <al@example.com>\nTo: {to}\n{cc_line}Subject: Q3 numbers\n"
        f"Date: Mon, 20 May 2024 09:00:00 +0000\nMessage-ID: <memo-1@example.com>\n"
        f"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n"
        f"--b\nContent-Type: text/plain; charset=utf-8\n\nDraft numbers attached.\n"
        f"--b\nContent-Type: text/html; charset=utf-8\n\n"
        f"<html><body><p>Draft numbers attached.</p></body></html>\n--b--\n"
    ).encode()


def test_internal_mail_gets_internal_only_footer() -> None:
    envelope = outbound("jane.doe@example.com", mail_from="john.smith@example.com")
    result = recipe("internal-confidential").apply(INTERNAL, envelope)
    assert result.applied == ["internal-confidential:footer"] and result.actions == DEFAULT
    text, markup = plain(result.message), html(result.message)
    assert text.rstrip().endswith(INTERNAL_ONLY)
    assert text.index("John Smith | Purchasing") < text.index(INTERNAL_ONLY)
    assert markup.rstrip().endswith(f"{INTERNAL_ONLY}</p>")
    assert markup.index("gmail_signature") < markup.index(INTERNAL_ONLY)
    assert_idempotent(recipe("internal-confidential"), result.message, envelope)


@pytest.mark.parametrize(("to", "cc"), [
    ("Bob <bob@EXAMPLE.com>", None),
    ("bob@example.com", "Carol <carol@example.org>"),
    ("=?utf-8?q?J=C3=BCrgen?= <j@example.com>, bob@example.com", None),
    ("undisclosed-recipients:;", None),
])
def test_memo_to_colleagues_only_is_marked(to: str, cc: str | None) -> None:
    result = recipe("internal-confidential").apply(
        internal_memo(to, cc), outbound("bob@example.com", mail_from="al@example.com"))
    assert result.applied == ["internal-confidential:footer"]


@pytest.mark.parametrize("outsider", [
    "x@partner.example.net",
    "x@example.com.evil.net",            # looks like ours, is not
    "x@example.community",
    "c@sub.example.com",                 # internal_domains are exact
])
def test_memo_reaching_anyone_outside_is_not_marked(outsider: str) -> None:
    # The envelope decides: a To/Cc header can name anyone, a Bcc is in no header.
    for memo in (internal_memo(f"bob@example.com, {outsider}"), internal_memo("bob@example.com")):
        result = recipe("internal-confidential").apply(
            memo, outbound("bob@example.com", outsider, mail_from="al@example.com"))
        assert result.applied == [] and not result.changed


@pytest.mark.parametrize("envelope", [
    outbound("m.dupont@partner.example.net", mail_from="al@example.com"),   # envelope: outside
    outbound("bob@example.com", mail_from="al@outside.example.net"),        # sender not ours
    inbound("al@example.com", "bob@example.com"),                           # inbound direction
], ids=["external-envelope-recipient", "external-envelope-sender", "inbound"])
def test_internal_only_needs_internal_sender_recipients_and_outbound(envelope: Envelope) -> None:
    result = recipe("internal-confidential").apply(internal_memo("bob@example.com"), envelope)
    assert result.applied == []


def test_real_reply_to_a_partner_is_not_marked() -> None:
    result = recipe("internal-confidential").apply(OUTBOUND, outbound(
        "m.dupont@partner.example.net", "logistics@partner.example.net"))
    assert result.message is OUTBOUND


def test_bcc_to_an_outsider_is_not_marked() -> None:
    result = recipe("internal-confidential").apply(internal_memo("bob@example.com"), outbound(
        "bob@example.com", "spy@outside.example.net", mail_from="al@example.com"))
    assert result.applied == []


def test_internal_confidential_cli(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    config = str(FLOWS / "internal-confidential.yaml")
    done = mimeops("apply", "--config", config, "--direction", "OUTBOUND",
                   str(EVENTS / "internal.eml"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"changed": True, "skipped": None, "actions": DEFAULT,
                                       "applied": ["internal-confidential:footer"], "bare": []}
    assert INTERNAL_ONLY in plain(out.read_bytes()) and INTERNAL_ONLY in html(out.read_bytes())
    partner = mimeops("apply", "--config", config, "--direction", "OUTBOUND",
                      str(EVENTS / "outbound.eml"), "-o", str(tmp_path / "partner.eml"))
    assert json.loads(partner.stdout)["changed"] is False


# == routing-header ============================================================================


def routes(raw: bytes) -> list[str]:
    return [str(v) for v in parse(raw).get_all("X-Route") or []]


def test_finance_invoice_gets_exactly_one_route_header() -> None:
    envelope = inbound("billing@supplier.example.net", "finance@example.com",
                       "jane.doe@example.com")
    result = recipe("routing-header").apply(INVOICE, envelope)
    assert result.applied == ["route-finance:set_header"] and result.actions == DEFAULT
    assert routes(result.message) == ["finance"]  # the forged payments-fasttrack is gone
    assert body_bytes(result.message) == body_bytes(INVOICE)
    assert attachments(result.message)["Invoice-2024-0815.pdf"] == attachments(INVOICE)[
        "Invoice-2024-0815.pdf"]
    assert_idempotent(recipe("routing-header"), result.message, envelope)


@pytest.mark.parametrize("recipient", ["finance@example.com", "FINANCE@Example.COM",
                                       "ap@finance.example.com", "x@emea.finance.example.com",
                                       "ap@a.b.finance.example.com"])
def test_finance_recipients_are_routed(recipient: str) -> None:
    result = recipe("routing-header").apply(EXTERNAL, inbound(
        "m.dupont@partner.example.net", "jane.doe@example.com", recipient))
    assert routes(result.message) == ["finance"]


@pytest.mark.parametrize("recipient", ["finance.team@example.com", "jane.doe@example.com",
                                       "x@finance.example.com.evil.net",
                                       "x@notfinance.example.com", "finance@example.org"])
def test_other_recipients_are_not_routed_and_forged_route_is_removed(recipient: str) -> None:
    flow = recipe("routing-header")
    assert flow.apply(EXTERNAL, inbound("m.dupont@partner.example.net", recipient)).message \
        is EXTERNAL
    envelope = inbound("billing@supplier.example.net", recipient)
    result = flow.apply(INVOICE, envelope)
    assert result.applied == ["strip-route:remove_header"]
    assert routes(result.message) == []
    assert body_bytes(result.message) == body_bytes(INVOICE)
    assert_idempotent(flow, result.message, envelope)


def test_several_forged_route_headers_become_one() -> None:
    raw = EXTERNAL.replace(b"X-Mailer:", b"X-Route: sales\nx-route: legal\nX-Mailer:")
    result = recipe("routing-header").apply(raw, inbound(
        "m.dupont@partner.example.net", "finance@example.com"))
    assert routes(result.message) == ["finance"]
    assert result.message.count(b"X-Route: finance") == 1


def test_outbound_finance_mail_is_routed_too() -> None:
    result = recipe("routing-header").apply(OUTBOUND, outbound("ap@emea.finance.example.com"))
    assert routes(result.message) == ["finance"]
    assert attachments(result.message) == attachments(OUTBOUND)


def test_signed_finance_mail_is_routed_without_touching_the_signed_body() -> None:
    result = recipe("routing-header").apply(SIGNED, inbound(
        "m.dupont@partner.example.net", "finance@example.com"))
    assert result.skipped == "signed message (multipart/signed)"
    assert routes(result.message) == ["finance"]
    assert body_bytes(result.message) == body_bytes(SIGNED)


def test_routing_header_cli(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    config = str(FLOWS / "routing-header.yaml")
    done = mimeops("apply", "--config", config, str(SAMPLES / "finance-invoice.eml"),
                   "-o", str(out))  # envelope recipients from To + Cc: finance@, jane.doe@
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"changed": True, "skipped": None, "actions": DEFAULT,
                                       "applied": ["route-finance:set_header"], "bare": []}
    assert routes(out.read_bytes()) == ["finance"]
    other = mimeops("apply", "--config", config, "--recipient", "jane.doe@example.com",
                    str(SAMPLES / "finance-invoice.eml"), "-o", str(tmp_path / "other.eml"))
    assert json.loads(other.stdout)["applied"] == ["strip-route:remove_header"]
    assert routes((tmp_path / "other.eml").read_bytes()) == []


# == engine gaps the recipes ran into (see the report on issue 4) ==============================


def test_remove_in_one_rule_then_set_in_another_is_idempotent() -> None:
    flow = load_flow("""
rules:
  - {name: strip-route, apply: [{remove_header: X-Route}]}
  - {name: route-finance, when: {recipient: finance@example.com},
     apply: [{set_header: {name: X-Route, value: finance}}]}
""", marker_key=KEY)
    envelope = inbound("m.dupont@partner.example.net", "finance@example.com")
    once = flow.apply(EXTERNAL, envelope)
    assert routes(once.message) == ["finance"]
    assert_idempotent(flow, once.message, envelope)


@pytest.mark.parametrize("message", ["", "{subject}"])
def test_bounce_message_that_renders_empty_still_bounces(message: str) -> None:
    flow = load_flow(json.dumps({"rules": [{"name": "r", "when": {"attachment_extension": "exe"},
                                            "action": {"type": "BOUNCE", "message": message}}]}),
                     marker_key=KEY)
    raw = attachment_message("a.exe").replace(b"Subject: the file\n", b"")
    assert flow.apply(raw, outbound()).actions[0]["action"]["type"] == "BOUNCE"


@pytest.mark.parametrize("filename", ["setup.exe.", "setup.exe "])
def test_trailing_dot_or_space_does_not_hide_an_executable(filename: str) -> None:
    result = recipe("block-executables").apply(attachment_message(filename), outbound())
    assert result.actions == BOUNCE


def test_recipes_reject_a_typo_like_the_loader_does(tmp_path: Path) -> None:
    broken = tmp_path / "external-warning.yaml"
    broken.write_text((FLOWS / "external-warning.yaml").read_text(encoding="utf-8")
                      .replace("subject_prefix:", "subject_prefx:"), encoding="utf-8")
    with pytest.raises(FlowError, match="unknown op 'subject_prefx'"):
        load_flow(broken)
    done = mimeops("apply", "--config", str(broken), str(EVENTS / "external.eml"))
    assert done.returncode == 2 and len(done.stderr.decode().splitlines()) == 1


def test_marker_names_the_recipe_rule() -> None:
    result = recipe("external-warning").apply(EXTERNAL, inbound())
    values = [str(v) for v in parse(result.message).get_all(marker.HEADER)]
    assert len(values) == 1 and values[0].startswith("v1; rule=external-warning; mac=")
