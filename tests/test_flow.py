"""Flows as an admin writes them: conditions, templates, actions, markers, load errors."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest

from mimeops import Envelope, FlowError, load_flow
from mimeops.cli import marker_key
from mimeops.flow import marker
from mimeops.mime import Message

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "flows" / "demo.yaml"
EXTERNAL = (ROOT / "events" / "messages" / "external.eml").read_bytes()
KEY = b"flow-test-key"


def message(from_: str = "Eve <eve@outside.example.net>", subject: str = "Hello",
            body: str = "Hi there.\n", extra: str = "") -> bytes:
    return (
        f"From: {from_}\nTo: Bob <bob@example.com>\nSubject: {subject}\n"
        f"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <m1@outside.example.net>\n"
        f"{extra}MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n"
        f"--b\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
        f"--b\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>{body}</p></body></html>\n"
        f"--b--\n"
    ).encode()


def inbound(mail_from: str = "eve@outside.example.net") -> Envelope:
    return Envelope("INBOUND", mail_from, ["bob@example.com"])


@pytest.fixture
def demo():
    return load_flow(DEMO, marker_key=KEY)


def bodies(raw: bytes) -> tuple[str, str]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return (parsed.get_body(("plain",)).get_content(),
            parsed.get_body(("html",)).get_content())


def test_external_sender_gets_banner_in_both_bodies_and_prefix(demo) -> None:
    result = demo.apply(message(), inbound())
    plain, html = bodies(result.message)
    assert plain.startswith("CAUTION: external sender eve@outside.example.net")
    banner = "<div>CAUTION: external sender eve@outside.example.net</div>"
    # Guarded (inbound mail): the banner is in its own box, first in the body.
    assert re.search(r'<body style="[^"]*"><style id="[a-z0-9-]+">.*?</style>'
                     r'<[a-z0-9-]+c id="[a-z0-9-]+c" style="[^"]*"><div id="[^"]+"'
                     r'[^>]*>' + re.escape(banner) + "</div><", html)
    assert html.index(banner) < html.index("<p>Hi there.")
    parsed = email.message_from_bytes(result.message, policy=email.policy.default)
    assert parsed["Subject"] == "[EXTERNAL] Hello"
    assert parsed["X-External-Sender"] == "yes"
    assert result.applied == ["external-warning:banner", "external-warning:subject_prefix",
                              "external-warning:add_header"]


def test_internal_sender_gets_nothing(demo) -> None:
    raw = message(from_="Al <al@example.com>")
    result = demo.apply(raw, inbound("al@example.com"))
    assert not result.changed and result.message is raw and result.applied == []


def test_spoofed_internal_from_over_external_envelope_is_external(demo) -> None:
    result = demo.apply(message(from_="CEO <ceo@example.com>"), inbound("x@attacker.example"))
    assert "external-warning:banner" in result.applied


def test_second_application_changes_nothing(demo) -> None:
    once = demo.apply(message(), inbound())
    twice = demo.apply(once.message, inbound())
    assert not twice.changed and twice.message is once.message


def test_forged_marker_does_not_suppress_banner(demo) -> None:
    forged = "X-Mimeops-Processed: v1; rule=external-warning; mac=AAAAAAAAAAAAAAAAAAAAAAAA\n"
    result = demo.apply(message(extra=forged), inbound())
    assert "external-warning:banner" in result.applied
    assert result.message.count(b"X-Mimeops-Processed") == 1
    assert b"mac=AAAAAAAA" not in result.message


def test_marker_copied_from_another_message_does_not_suppress_banner(demo) -> None:
    other = demo.apply(message(subject="Other").replace(b"<m1@", b"<m2@"), inbound())
    copied = next(line for line in other.message.split(b"\n")
                  if line.startswith(b"X-Mimeops-Processed")).decode() + "\n"
    result = demo.apply(message(extra=copied), inbound())
    assert "external-warning:banner" in result.applied
    assert copied.encode() not in result.message


def test_marker_from_another_key_does_not_verify() -> None:
    first = load_flow(DEMO, marker_key=b"key-one").apply(message(), inbound())
    second = load_flow(DEMO, marker_key=b"key-two").apply(first.message, inbound())
    assert "external-warning:add_header" in second.applied


def test_outbound_marker_does_not_count_inbound(demo) -> None:
    raw = message(from_="Al <al@example.com>")
    out = demo.apply(raw, Envelope("OUTBOUND", "al@example.com", ["x@outside.example.net"]))
    assert out.applied == ["legal-footer:footer"]
    back = demo.apply(out.message, inbound("x@outside.example.net"))
    assert "external-warning:banner" in back.applied


def test_script_in_subject_is_escaped_in_html_banner() -> None:
    flow = load_flow("""
rules:
  - name: warn
    apply:
      - banner: {text: "Subject: {subject}", html: "<div>Subject: {subject}</div>"}
""", marker_key=KEY)
    result = flow.apply(message(subject="<script>alert(1)</script>"), inbound())
    _, html = bodies(result.message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_crlf_in_template_value_never_creates_a_header_line() -> None:
    flow = load_flow("""
rules:
  - name: tag
    apply:
      - add_header: {name: X-Sender-Name, value: "{sender_name}"}
""", marker_key=KEY)
    evil = "=?utf-8?Q?Eve=0D=0ABcc:_victim@example.com?= <eve@outside.example.net>"
    result = flow.apply(message(from_=evil), inbound())
    lines = result.message.split(b"\n\n", 1)[0].split(b"\n")
    assert not any(line.lower().startswith(b"bcc:") for line in lines)
    parsed = email.message_from_bytes(result.message, policy=email.policy.default)
    assert parsed["Bcc"] is None and "victim" in parsed["X-Sender-Name"]


def test_outbound_exe_bounces_with_valid_response(demo) -> None:
    raw = (b"From: al@example.com\nTo: x@outside.example.net\nSubject: tool\n"
           b"Message-ID: <e@example.com>\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\nhi\n"
           b"--z\nContent-Type: application/octet-stream; name=setup.EXE\n"
           b"Content-Disposition: attachment; filename=setup.EXE\n"
           b"Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--z--\n")
    result = demo.apply(raw, Envelope("OUTBOUND", "al@example.com", ["x@outside.example.net"]))
    assert result.actions == [{"action": {"type": "BOUNCE", "parameters": {
        "bounceMessage": "Executable attachments are not allowed."}}, "allRecipients": True}]
    assert result.skipped == "every recipient is bounced or dropped"
    assert not result.changed


def test_action_for_matching_recipients_only() -> None:
    flow = load_flow("""
rules:
  - name: junk-interns
    when: {direction: INBOUND, header: {Subject: "(?i)lottery"}}
    action: {type: MOVE_TO_JUNK, recipients: ["*.interns.example.com", intern@example.com]}
""", marker_key=KEY)
    result = flow.apply(message(subject="You won the LOTTERY"), Envelope(
        "INBOUND", "eve@outside.example.net",
        ["a@ops.interns.example.com", "bob@example.com", "Intern@Example.com"]))
    assert result.actions == [
        {"action": {"type": "MOVE_TO_JUNK"},
         "recipients": ["a@ops.interns.example.com", "intern@example.com"]},
        {"action": {"type": "DEFAULT"}, "allRecipients": True},
    ]


def test_conditions_combine_and_patterns_are_idn_aware() -> None:
    flow = load_flow("""
rules:
  - name: partner
    when:
      any:
        - sender: bücher.example
        - all: [{size_over: 1MB}, {not: {recipient: example.com}}]
    apply: [{subject_prefix: "[PARTNER]"}]
""", marker_key=KEY)
    idn = message(from_="p@xn--bcher-kva.example")
    assert flow.apply(idn, inbound("p@BÜCHER.example")).applied == ["partner:subject_prefix"]
    assert flow.apply(message(), inbound()).applied == []


def test_stop_ends_evaluation() -> None:
    flow = load_flow("""
rules:
  - {name: first, when: {sender: external}, apply: [{subject_prefix: "[A]"}], stop: true}
  - {name: second, apply: [{subject_prefix: "[B]"}]}
""", marker_key=KEY)
    assert flow.apply(message(), inbound()).applied == ["first:subject_prefix"]


def test_subject_prefix_not_repeated_in_replies(demo) -> None:
    result = demo.apply(message(subject="Re: [EXTERNAL] Hello"), inbound())
    assert "external-warning:subject_prefix" not in result.applied


@pytest.mark.parametrize(("text", "expected"), [
    ("rules:\n  - name: r\n    apply: [{bannr: {text: x}}]\n",
     "rule 'r': apply (line 3)[0]: unknown op 'bannr'"),
    ("rules:\n  - name: r\n    when: {header: {Subject: '(['}}\n    apply: [{subject_prefix: x}]\n",
     "rule 'r': when (line 3).header.Subject: bad regular expression"),
    ("rules:\n  - name: r\n    apply: [{banner: {text: '{nope}'}}]\n",
     "rule 'r': apply (line 3)[0].banner.text: unknown template field {nope}"),
    ("rules:\n  - name: r\n    when: {direction: OUTBOUND}\n    action: MOVE_TO_JUNK\n",
     "rule 'r': action (line 4).type: MOVE_TO_JUNK is allowed only on inbound mail"),
    ("rules:\n  - name: r\n    apply: [{subject_prefix: x}]\n    stop: maybe\n",
     "rule 'r': stop (line 4): expected true or false"),
    ("rules:\n  - name: r\n    apply: [{add_header: {name: Subject, value: x}}]\n",
     "rule 'r': apply (line 3)[0].add_header.name: Subject may appear only once"),
    ("rules:\n  - name: r\n    apply: [{set_header: {name: From, value: x}}]\n",
     "rule 'r': apply (line 3)[0].set_header.name: From cannot be changed"),
    ("rules:\n  - name: r\n    aply: []\n", "rule 'r' (line 3): unknown field 'aply'"),
    ("rules: []\n", "rules (line 1): expected a non-empty list"),
    ("rules:\n  - name: r\n    name: s\n", "duplicate key 'name' (line 3)"),
    ("rules: [\n", "not valid YAML or JSON"),
    ('{"rules": [{"name": "r", "when": {"size_over": "lots"}, "action": "DROP"}]}',
     "rule 'r': when (line 1).size_over: expected a size"),
])
def test_flow_errors_name_rule_and_field(text: str, expected: str) -> None:
    with pytest.raises(FlowError) as info:
        load_flow(text)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


DROP_RULE = "rules: [{name: r, action: DROP}]\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("internal_domains: [example.com, example..com]\n" + DROP_RULE,
     "internal_domains (line 1)[1]: 'example..com' is not a valid domain name: "
     "a domain name cannot have two periods in a row"),
    ("internal_domains: [exa_mple.com]\n" + DROP_RULE, "invalid characters: '_'"),
    ("internal_domains: [-example.com]\n" + DROP_RULE, "cannot have a hyphen at its start"),
    ("internal_domains: [examplecom]\n" + DROP_RULE, "'examplecom' is not a valid domain name: "
                                                       "it has no period"),
    ("internal_domains: [localhost.]\n" + DROP_RULE, "is not a valid domain name"),
    ("rules: [{name: r, when: {sender: '*.example..com'}, action: DROP}]\n",
     "rule 'r': when (line 1).sender: 'example..com' is not a valid domain name"),
    ("rules: [{name: r, when: {recipient: [example.com, 'ex ample.com']}, action: DROP}]\n",
     "rule 'r': when (line 1).recipient[1]: invalid domain pattern 'ex ample.com'"),
    ("rules: [{name: r, when: {recipient: [partner..example]}, action: DROP}]\n",
     "recipient[0]: 'partner..example' is not a valid domain name"),
    ("rules: [{name: r, when: {sender: jane@example..com}, action: DROP}]\n",
     "invalid address pattern 'jane@example..com'"),
])
def test_domains_are_checked_at_load_with_email_validators_rules(text: str,
                                                                 expected: str) -> None:
    """One typo in internal_domains would make every colleague external: a load error."""
    with pytest.raises(FlowError) as info:
        load_flow(text)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_valid_domains_load_in_their_ascii_form() -> None:
    flow = load_flow("internal_domains: [Example.COM, bücher.example, example.org.]\n"
                     + DROP_RULE)
    assert flow.internal_domains == {"example.com", "xn--bcher-kva.example", "example.org"}


def test_flow_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - name: r\n    apply: [{footer: 3}]\n")
    with pytest.raises(FlowError, match=r"bad\.yaml: rule 'r': apply \(line 3\)\[0\]\.footer"):
        load_flow(str(path))


def test_sample_message_round_trip_through_demo(demo) -> None:
    result = demo.apply(EXTERNAL, Envelope("INBOUND", "m.dupont@partner.example.net",
                                           ["jane.doe@example.com"]))
    assert result.changed
    before, after = Message(EXTERNAL), Message(result.message)
    pdf_before = [p for p in before.root.walk() if p.ctype == "application/pdf"]
    pdf_after = [p for p in after.root.walk() if p.ctype == "application/pdf"]
    assert pdf_before and pdf_before[0].body() == pdf_after[0].body()
    assert marker.HEADER.encode() in result.message


def test_long_one_line_json_flow_loads() -> None:
    import json

    text = json.dumps({"rules": [{"name": "r", "apply": [{"banner": "x" * 400}]}]})
    assert load_flow(text).rules[0].name == "r"


ABOVE_REPLY = """
rules:
  - name: disclaimer
    apply:
      - footer: {text: "Confidential.", html: "<p>Confidential.</p>", placement: above_reply}
"""


def test_footer_above_reply_sits_under_the_new_message_only() -> None:
    raw = (ROOT / "events" / "messages" / "outbound.eml").read_bytes()
    flow = load_flow(ABOVE_REPLY, marker_key=KEY)
    result = flow.apply(raw, Envelope("OUTBOUND", "jane.doe@example.com", ["x@partner.example"]))
    plain, html = bodies(result.message)
    assert plain.index("Confidential.") < plain.index("____") < plain.index("From: Marie")
    assert plain.index("Jane Doe") < plain.index("Confidential.")
    assert "<p>Confidential.</p><div id=\"appendonsend\">" in html
    assert flow.apply(result.message, Envelope(
        "OUTBOUND", "jane.doe@example.com", ["x@partner.example"])).changed is False


@pytest.mark.parametrize("quote", [
    "On Tue, May 14, 2024 at 9:26 AM Marie Dupont <\nm.dupont@partner.example.net> wrote:\n> old\n",
    "-----Original Message-----\nFrom: a@b.example\n\nold\n",
    "> old line\n> more\n",
    "Am 14.05.2024 um 09:26 schrieb Marie Dupont <m.dupont@partner.example.net>:\n\nalt\n",
    "Le 14 mai 2024 à 09:26, Marie a écrit :\n> ancien\n",
])
def test_footer_above_plain_text_reply_markers(quote: str) -> None:
    raw = (b"From: al@example.com\nTo: x@partner.example\nSubject: Re: x\n"
           b"Message-ID: <r@example.com>\nContent-Type: text/plain; charset=utf-8\n\n"
           b"New text.\n\n" + quote.encode())
    result = load_flow(ABOVE_REPLY, marker_key=KEY).apply(raw, Envelope(
        "OUTBOUND", "al@example.com", ["x@partner.example"]))
    body = email.message_from_bytes(result.message, policy=email.policy.default).get_content()
    assert body == "New text.\n\nConfidential.\n\n" + quote


def test_footer_above_reply_without_a_reply_goes_to_the_end() -> None:
    flow = load_flow(ABOVE_REPLY, marker_key=KEY)
    plain, html = bodies(flow.apply(message(), inbound()).message)
    assert plain.rstrip().endswith("Confidential.")
    # Inbound mail: guarded, the footer in its own box after the sender's content (and
    # at the end of the guard's column).
    assert re.search(r"<p>Confidential\.</p></div></k[a-z2-7-]+c></body></html>$",
                     html.rstrip())


def test_placement_is_checked() -> None:
    with pytest.raises(FlowError, match=r"footer\.placement: expected end or above_reply"):
        load_flow("rules:\n  - name: r\n    apply: [{footer: {text: x, placement: top}}]\n")
    with pytest.raises(FlowError, match=r"unknown field 'placement'"):
        load_flow("rules:\n  - name: r\n    apply: [{banner: {text: x, placement: end}}]\n")


def test_key_rotation_keeps_retries_idempotent() -> None:
    old = load_flow(DEMO, marker_key=b"old-key").apply(message(), inbound())
    rotated = load_flow(DEMO, marker_key=(b"new-key", b"old-key"))
    assert not rotated.apply(old.message, inbound()).changed  # the old marker still counts
    fresh = rotated.apply(message(), inbound())
    assert not load_flow(DEMO, marker_key=b"new-key").apply(fresh.message, inbound()).changed


def test_marker_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line reads $MIMEOPS_MARKER_KEY; the engine alone reads nothing."""
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "new-key  old-key")
    assert marker_key.resolve() == (b"new-key", b"old-key")
    once = load_flow(DEMO, marker_key=b"old-key").apply(message(), inbound())
    assert not load_flow(DEMO, marker_key=marker_key.resolve()).apply(
        once.message, inbound()).changed
    assert load_flow(DEMO).apply(once.message, inbound()).changed


def test_flow_without_a_key_signs_with_its_own(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No key given: a random key of the Flow's own (idempotent for that Flow, no file
    written, no environment read)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    flow = load_flow(DEMO)
    once = flow.apply(message(), inbound())
    assert once.changed and not flow.apply(once.message, inbound()).changed
    assert load_flow(DEMO).apply(once.message, inbound()).changed
    assert list(tmp_path.iterdir()) == []
