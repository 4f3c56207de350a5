"""The public API extensions are written against (docs/extending.md): Mail, Context, dict
flows with transform and condition objects, typed results. Real message bytes; every
edit checked to keep all other bytes as they were."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from mimeops import (
    ActionType,
    Context,
    Envelope,
    FlowError,
    Mail,
    RecipientAction,
    Skip,
    load_flow,
)
from mimeops.directory import parse_directory
from mimeops.errors import DirectoryMissing
from mimeops.mime import Message
from mimeops.mime.validate import rejection_reason

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = (ROOT / "events" / "messages" / "external.eml").read_bytes()
INBOUND = Envelope("INBOUND", "m.dupont@partner.example.net", ["jane.doe@example.com"])

MESSAGE = (
    b"From: =?UTF-8?Q?Ren=C3=A9e?= <renee@outside.example>\r\n"
    b"To: Bob <bob@example.com>\r\n"
    b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus\r\n"
    b" Berlin\r\n"
    b"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n"
    b"Message-ID: <api@outside.example>\r\n"
    b"X-Note: one\r\n"
    b"X-Note: two\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="m"\r\n'
    b"\r\n"
    b"--m\r\n"
    b'Content-Type: multipart/alternative; boundary="a"\r\n'
    b"\r\n"
    b"--a\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe aus Berlin.\r\n"
    b"Second line, unchanged.\r\n"
    b"--a\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"<html><body><p>Gr\xc3\xbc\xc3\x9fe aus Berlin.</p></body></html>\r\n"
    b"--a--\r\n"
    b"--m\r\n"
    b'Content-Type: application/pdf; name="r=C3=A9sum=C3=A9.pdf"\r\n'
    b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(b"%PDF-1.4 data").replace(b"\n", b"\r\n")
    + b"--m\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: x@y.example\r\nSubject: inner\r\n"
    b'Content-Type: multipart/mixed; boundary="i"\r\n\r\n'
    b"--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
    b'--i\r\nContent-Type: application/x-msdownload; name="setup.exe"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--i--\r\n"
    b"--m--\r\n"
)


def without(data: bytes, *pieces: bytes) -> bytes:
    for piece in pieces:
        assert data.count(piece) == 1, piece
        data = data.replace(piece, b"")
    return data


# -- headers ---------------------------------------------------------------------------


def test_headers_read_unfolded_and_decoded() -> None:
    headers = Mail(MESSAGE).headers
    assert headers.get("subject") == "Grüße aus Berlin"
    assert headers.get("From") == "Renée <renee@outside.example>"
    assert headers.get_all("X-Note") == ["one", "two"]
    assert headers.get("X-Missing") is None and headers.get_all("X-Missing") == []
    assert "x-note" in headers and "X-Missing" not in headers


def test_header_edits_write_only_the_field_they_touch() -> None:
    mail = Mail(MESSAGE)
    mail.headers.add("X-Scanned", "yes\r\nBcc: evil@example.net")  # no header injection
    assert mail.headers.set("X-Note", "three")
    assert not mail.headers.set("X-Note", "three")
    assert mail.headers.prefix("Subject", "[EXT]")
    out = mail.to_bytes()
    assert b"X-Scanned: yes Bcc: evil@example.net\r\n" in out
    assert b"Subject: [EXT] =?ISO-8859-1?Q?Gr=FC=DFe?= aus\r\n Berlin\r\n" in out
    assert without(out, b"X-Scanned: yes Bcc: evil@example.net\r\n", b"[EXT] ",
                   b"X-Note: three\r\n") == without(MESSAGE, b"X-Note: one\r\nX-Note: two\r\n")
    assert mail.headers.remove("x-note") == 1 and mail.headers.remove("X-Note") == 0


@pytest.mark.parametrize("name", ["From", "date", "Message-ID", "Sender", "Return-Path",
                                  "X-Mimeops-Processed", "Content-Type", "MIME-Version",
                                  "Bad Name", ""])
@pytest.mark.parametrize("verb", ["add", "set", "remove"])
def test_an_edit_workmail_would_refuse_raises_value_error(name: str, verb: str) -> None:
    mail = Mail(MESSAGE)
    edit = getattr(mail.headers, verb)
    with pytest.raises(ValueError, match=f"mail.headers.{verb}: "):
        edit(name) if verb == "remove" else edit(name, "x")
    assert not mail.changed


def test_a_unique_field_is_set_not_added() -> None:
    mail = Mail(MESSAGE)
    with pytest.raises(ValueError, match="Subject may appear only once"):
        mail.headers.add("Subject", "second")
    assert mail.headers.set("Reply-To", "help@example.com")
    assert rejection_reason(MESSAGE, mail.to_bytes()) is None


# -- bodies ------------------------------------------------------------------------------


def test_bodies_are_the_texts_a_client_shows() -> None:
    bodies = Mail(MESSAGE).bodies
    assert [(b.kind, b.content_type, b.charset) for b in bodies] == [
        ("plain", "text/plain", "iso-8859-1"), ("html", "text/html", "utf-8")]
    assert bodies[0].text == "Grüße aus Berlin.\r\nSecond line, unchanged."
    assert bodies[1].text == "<html><body><p>Grüße aus Berlin.</p></body></html>"


def test_setting_text_reencodes_that_part_only() -> None:
    mail = Mail(MESSAGE)
    plain, html = mail.bodies
    plain.text = plain.text  # the same text: nothing changes
    assert not mail.changed
    plain.text = plain.text.replace("Berlin", "Köln")
    out = mail.to_bytes()
    # Quoted-printable keeps the lines the edit did not reach; the rest is as it was.
    assert without(out, b"Gr=FC=DFe aus K=F6ln.") == without(MESSAGE, b"Gr=FC=DFe aus Berlin.")
    assert Mail(out).bodies[0].text == "Grüße aus Köln.\r\nSecond line, unchanged."
    assert rejection_reason(MESSAGE, out) is None
    html.text = html.text + "\n"  # line breaks are written as the message's own
    assert Mail(mail.to_bytes()).bodies[1].text.endswith("</html>\r\n")


def test_text_that_does_not_fit_the_charset_is_written_as_utf8() -> None:
    mail = Mail(MESSAGE)
    plain = mail.bodies[0]
    plain.text = "Preis: 10 € (vorher 12 €)"
    out = mail.to_bytes()
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in out
    assert Mail(out).bodies[0].text == "Preis: 10 € (vorher 12 €)"
    with pytest.raises(TypeError):
        plain.text = b"bytes"  # type: ignore[assignment]


def test_body_insert_is_what_banner_and_footer_use() -> None:
    mail = Mail(MESSAGE)
    plain, html = mail.bodies
    plain.insert("TOP", "BOTTOM")
    html.insert("<p>TOP</p>", "<p>BOTTOM</p>")
    plain, html = Mail(mail.to_bytes()).bodies
    assert plain.text.startswith("TOP\r\n\r\nGrüße") and plain.text.endswith("BOTTOM\r\n")
    assert html.text == ("<html><body><p>TOP</p><p>Grüße aus Berlin.</p><p>BOTTOM</p>"
                         "</body></html>")


def test_the_part_in_front_and_every_shown_html_part() -> None:
    """A message whose client shows an image before the body: the flow puts a text part
    in front (`mail.front`, where the banner goes first); `mail.bodies` stay the sender's;
    `mail.shown_html` lists every HTML part a client may show, and `confine` guards one
    once, adding no text."""
    raw = (b"From: a@outside.example\r\nTo: b@example.com\r\nMessage-ID: <f@outside.example>"
           b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n"
           b"--b\r\nContent-Type: text/html\r\n\r\n<p>first</p>\r\n"
           b"--b\r\nContent-Type: text/html\r\n\r\n<style>p{color:red}</style><p>x</p>\r\n"
           b"--b--\r\n")
    assert Mail(raw).front is None
    fronted = Message(raw).fronted()
    assert fronted is not None
    mail = Mail(fronted)
    assert mail.front is not None and mail.front.kind == "plain" and mail.front.text == ""
    assert [b.text for b in mail.bodies] == ["<p>first</p>"]
    first, second = mail.shown_html
    assert first == mail.bodies[0] and second not in mail.bodies
    assert second.confine("abcdefghijklmnopqrstuvwx")
    assert not second.confine("abcdefghijklmnopqrstuvwx")  # once
    # Its stylesheet now reaches its own content only.
    assert "<p>x</p>" in second.text and "#kabcdefgh-ijklmnop p{color:red}" in second.text


def test_unconfined_names_what_no_guard_reaches() -> None:
    """`mail.unconfined`: an attached message with HTML in the page Thunderbird builds
    around the bodies (its bytes stay as sent); a plain-text one is harmless."""
    assert Mail(MESSAGE).unconfined == []  # its attached message is plain text
    html_inside = MESSAGE.replace(b"--i\r\nContent-Type: text/plain\r\n",
                                  b"--i\r\nContent-Type: text/html\r\n")
    assert Mail(html_inside).unconfined == [
        "message/rfc822: an attached message with HTML, shown in the page the banner is in,"
        " where its stylesheet can hide the banner"]


# -- attachments -------------------------------------------------------------------------


def test_attachments_with_those_of_attached_messages() -> None:
    found = [(a.filename, a.content_type, a.nested) for a in Mail(MESSAGE).attachments]
    assert found == [("résumé.pdf", "application/pdf", False),
                     ("setup.exe", "application/x-msdownload", True)]
    assert Mail(MESSAGE).attachments[0].data == b"%PDF-1.4 data"
    assert Mail(MESSAGE).attachments[1].data == b"MZ"


# -- context -----------------------------------------------------------------------------


def test_context_answers_what_conditions_ask() -> None:
    directory = parse_directory({
        "users": [{"email": "jane.doe@example.com", "display_name": "Jane Doe",
                   "groups": ["legal"]}],
        "groups": [{"name": "legal", "email": "legal@example.com"}]})
    outside = Context(INBOUND, {"sender": "<b>x</b>"}, sender="m.dupont@partner.example.net",
                      sender_name="Jane Doe", internal_domains=frozenset({"example.com"}),
                      directory=directory)
    assert outside.direction == "INBOUND" and not outside.sender_internal
    assert outside.recipients == ["jane.doe@example.com"]
    assert outside.is_internal("x@EXAMPLE.com") and not outside.is_internal("x@example.net")
    assert outside.impersonated == "jane.doe@example.com"
    assert outside.sender_groups == frozenset() and outside.recipient_in(frozenset({"legal"}))
    assert outside.render("From {sender}", html=True) == "From &lt;b&gt;x&lt;/b&gt;"
    inside = Context(Envelope("OUTBOUND", "jane.doe@example.com", ["a@b.example"]),
                     sender="jane.doe@example.com",
                     internal_domains=frozenset({"example.com"}), directory=directory)
    assert inside.sender_internal and inside.sender_groups == frozenset({"legal"})
    assert inside.render("{sender.display_name}") == "Jane Doe"
    nobody = Context(Envelope("OUTBOUND", "jane.doe@example.com", []),
                     sender="jane.doe@example.com", internal_domains=frozenset({"example.com"}))
    with pytest.raises(DirectoryMissing, match="none is configured"):
        _ = nobody.sender_groups


# -- flows from Python -------------------------------------------------------------------


class Stamp:
    """A transform object, as a plugin's."""

    name = "stamp"

    def __init__(self, value: str) -> None:
        self.value = value

    def apply(self, mail: Mail, context: Context) -> bool:
        mail.headers.set("X-Stamp", f"{self.value} {context.direction}")
        return True


class Unnamed(Stamp):
    name = ""


class FromOutside:
    """A condition object: asks the context what `sender: external` asks."""

    def matches(self, mail: Mail, context: Context) -> bool:
        return not context.sender_internal


class HasPdf:
    def matches(self, mail: Mail, context: Context) -> bool:
        return any(a.content_type == "application/pdf" for a in mail.attachments)


def test_a_dict_flow_with_transform_and_condition_objects() -> None:
    flow = load_flow({
        "internal_domains": ["example.com"],
        "rules": [
            {"name": "objects", "when": {"direction": "INBOUND", "custom": [FromOutside(),
                                                                            HasPdf()]},
             "apply": [Stamp("one"), {"subject_prefix": "[EXT]"}, Unnamed("two")]},
            {"name": "never", "when": {"custom": HasPdf(), "direction": "OUTBOUND"},
             "apply": [Stamp("x")]},
        ]}, marker_key=b"k")
    result = flow.apply(EXTERNAL, INBOUND)
    assert result.applied == ["objects:stamp", "objects:subject_prefix", "objects:Unnamed"]
    assert b"X-Stamp: two INBOUND" in result.message
    assert not flow.apply(result.message, INBOUND).changed  # marked like any rule


@pytest.mark.parametrize(("when", "error"), [
    ({"custom": "FromOutside"}, "when.custom: expected objects with a matches(mail, context)"),
    ({"custom": []}, "when.custom: expected a condition object"),
    ({"custom": object()}, "when.custom: expected objects with a matches"),
])
def test_custom_takes_only_condition_objects(when: dict[str, object], error: str) -> None:
    with pytest.raises(FlowError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_flow({"rules": [{"name": "r", "when": when, "apply": [Stamp("x")]}]})


def test_an_object_that_is_no_transform_is_a_load_error() -> None:
    with pytest.raises(FlowError, match=r"rule 'r': apply\[0\]: expected one op"):
        load_flow({"rules": [{"name": "r", "apply": [HasPdf()]}]})


# -- typed results -----------------------------------------------------------------------


def test_results_are_typed_and_keep_their_documented_views() -> None:
    flow = load_flow("rules:\n  - name: b\n    when: {direction: INBOUND}\n"
                     "    action: {type: BOUNCE, message: 'Go away', "
                     "recipients: jane.doe@example.com}\n"
                     "  - name: j\n    when: {direction: INBOUND}\n"
                     "    action: MOVE_TO_JUNK\n", marker_key=b"k")
    result = flow.apply(EXTERNAL, Envelope("INBOUND", "a@x.example",
                                           ["jane.doe@example.com", "bob@example.com"]))
    assert result.recipient_actions == (
        RecipientAction(ActionType.BOUNCE, ("jane.doe@example.com",), "Go away"),
        RecipientAction(ActionType.MOVE_TO_JUNK))
    assert result.actions == [
        {"action": {"type": "BOUNCE", "parameters": {"bounceMessage": "Go away"}},
         "recipients": ["jane.doe@example.com"]},
        {"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]
    signed = load_flow("protected: skip\nrules:\n  - name: w\n    apply: [{banner: x}]\n").apply(
        (ROOT / "tests" / "messages" / "external-signed.eml").read_bytes(), INBOUND)
    assert signed.skip is not None and signed.skip.kind is Skip.PROTECTED
    assert signed.skipped == "signed message (multipart/signed)" == signed.skip.label
    junk = load_flow("rules:\n  - name: w\n    apply: [{banner: x}]\n").apply(b"\x00\x01", INBOUND)
    assert junk.skip is not None and junk.skip.kind is Skip.NOT_A_MESSAGE
    assert junk.skipped == "not-a-message"


def test_remove_header_sender_is_a_load_error_naming_the_field(tmp_path: Path) -> None:
    for name in ("Sender", "Return-Path"):
        flow = tmp_path / "flow.yaml"
        flow.write_text("rules:\n  - name: r\n    apply:\n"
                        f"      - remove_header: {{name: {name}}}\n")
        done = subprocess.run([sys.executable, "-m", "mimeops", "validate", str(flow)],
                              capture_output=True, text=True, cwd=ROOT, check=False)
        assert done.returncode == 2
        assert done.stderr == (f"mimeops: error: {flow}: rule 'r': apply (line 3)[0]."
                               f"remove_header.name: {name} cannot be changed (WorkMail "
                               "rejects the message)\n")


class Scrub:
    """A body transform (touches_body): the flow's `protected` applies to it."""

    touches_body = True

    def apply(self, mail: Mail, context: Context) -> bool:
        for body in mail.bodies:
            body.text = body.text.replace("e", "3")
        return bool(mail.bodies)


class Signature(Stamp):
    needs_directory = True


@pytest.mark.parametrize(("protected", "applied"), [
    ("skip", []), ("headers", ["r:stamp"]), ("wrap", ["r:Scrub", "r:stamp"])])
def test_touches_body_puts_a_plugin_under_protected(protected: str, applied: list[str]) -> None:
    signed = (ROOT / "tests" / "messages" / "external-signed.eml").read_bytes()
    flow = load_flow({"protected": protected,
                      "rules": [{"name": "r", "apply": [Scrub(), Stamp("x")]}]}, marker_key=b"k")
    result = flow.apply(signed, INBOUND)
    assert result.applied == applied
    assert result.skipped == (None if protected == "wrap"
                              else "signed message (multipart/signed)")


def test_needs_directory_makes_the_flow_refused_without_one() -> None:
    flow = load_flow({"rules": [{"name": "sig", "apply": [Signature("x")]},
                                {"name": "plain", "apply": [Stamp("y")]}]})
    assert flow.needs_directory
    assert flow.missing_directory() == (
        "rule 'sig' uses the directory (sender_group, recipient_group, impersonates_user, "
        "{sender.*} fields or a plugin that needs it) but none is configured")
    flow.directory = parse_directory({"users": []})
    assert flow.missing_directory() is None
    assert not load_flow({"rules": [{"name": "p", "apply": [Stamp("y")]}]}).needs_directory
