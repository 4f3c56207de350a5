"""Directory-aware flows (docs/directory.md) on real messages: signatures, groups, impersonation.

The static directory file drives `Flow.apply` and `mimeops apply --directory`; the
WorkMail API side is in test_directory_workmail.py.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from mimeops import Envelope, load_flow
from mimeops.directory import (
    CachedDirectory,
    DirectoryError,
    DirectoryUnavailable,
    User,
    load_directory,
    parse_directory,
)
from mimeops.directory.lookalike import mimics, name_key, one_edit, skeleton
from mimeops.flow import Flow, FlowError
from mimeops.mime.addresses import normalize_domain

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "examples" / "flows"
DIRECTORY_FILE = ROOT / "examples" / "directory" / "example-org.yaml"
DIRECTORY = load_directory(DIRECTORY_FILE)
EVENTS = ROOT / "events" / "messages"
OUTBOUND = (EVENTS / "outbound.eml").read_bytes()    # jane → partner, a reply (Outlook)
EXTERNAL = (EVENTS / "external.eml").read_bytes()    # partner → jane + john
INTERNAL = (EVENTS / "internal.eml").read_bytes()    # john → jane
INTERNAL_DOMAINS = frozenset({"example.com", "example.org"})
JANE_SIGNATURE = ["--", "Jane Doe", "Head of Purchasing", "Purchasing", "Example Corp",
                  "Tel: +49 30 555 0100", "1 Example Street, 10115 Berlin"]


def recipe(name: str) -> Flow:
    flow = load_flow(FLOWS / f"{name}.yaml", marker_key=b"k")
    flow.directory = DIRECTORY
    return flow


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def plain(raw: bytes) -> str:
    body = parse(raw).get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html(raw: bytes) -> str:
    body = parse(raw).get_body(("html",))
    assert body is not None
    return str(body.get_content())


def as_sender(raw: bytes, name: str, address: str) -> bytes:
    return re.sub(rb"(?m)^From: .*$", f"From: {name} <{address}>".encode(), raw, count=1)


def sign(raw: bytes, mail_from: str = "jane.doe@example.com") -> tuple[bytes, list[str]]:
    result = recipe("directory-signature").apply(
        raw, Envelope("OUTBOUND", mail_from, ["m.dupont@partner.example.net"]))
    return result.message, result.applied


def reply(previous: bytes, sender: str, to: str, text: str) -> bytes:
    """A reply as mail clients write one: new text on top, the previous message quoted
    ('>' lines in text, a gmail_quote blockquote in HTML)."""
    old = parse(previous)
    quoted = "\n".join("> " + line for line in plain(previous).splitlines())
    body = re.search(r"(?is)<body[^>]*>(.*)</body>", html(previous))
    new = EmailMessage()
    new["From"], new["To"] = sender, to
    new["Subject"] = "Re: Lieferplan"
    new["Date"] = "Thu, 16 May 2024 10:00:00 +0000"
    new["Message-ID"] = make_msgid(domain="mail.example.test")
    new["In-Reply-To"] = old["Message-ID"]
    new["References"] = old["Message-ID"]
    new.set_content(f"{text}\n\nOn Wed, someone wrote:\n{quoted}\n")
    new.add_alternative(
        f"<html><body><div>{text}</div><div class=\"gmail_quote\">On Wed, someone wrote:"
        f"<blockquote>{body.group(1) if body else ''}</blockquote></div></body></html>",
        subtype="html")
    return new.as_bytes(policy=email.policy.SMTP)


def mimeops(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mimeops", *args], capture_output=True,
                          cwd=ROOT, timeout=120, check=False)


# -- signature recipe ----------------------------------------------------------------------------


def test_signature_has_the_users_fields_above_the_quoted_reply() -> None:
    out, applied = sign(OUTBOUND)
    assert applied == ["signature:footer"]
    text = plain(out)
    assert "\n".join(JANE_SIGNATURE) in text.replace("\r\n", "\n")
    assert text.index("Head of Purchasing") < text.index("From: Marie Dupont")
    markup = html(out)
    assert "<b>Jane Doe</b><br>" in markup and "Tel: +49 30 555 0100<br>" in markup
    assert markup.index("Head of Purchasing") < markup.index('id="divRplyFwdMsg"')


def test_signature_lines_with_empty_fields_are_dropped() -> None:
    raw = as_sender(OUTBOUND, "John Smith", "john.smith@example.com")
    out, applied = sign(raw, "john.smith@example.com")
    assert applied == ["signature:footer"]
    text = plain(out).replace("\r\n", "\n")
    start = text.index("--\nJohn Smith")
    assert text[start:].split("\n")[:4] == ["--", "John Smith", "Example Corp", ""]
    assert "Tel:" not in text and "\n, \n" not in text
    markup = html(out)
    block = markup[markup.index("<b>John Smith</b>"):]
    block = block[:block.index("</div>")].replace("\r\n", "\n")
    assert block.split("\n") == ["<b>John Smith</b><br>", "Example Corp<br>", ""]


def test_no_signature_for_a_sender_the_directory_does_not_know() -> None:
    raw = as_sender(OUTBOUND, "Shared Inbox", "orders@example.com")
    out, applied = sign(raw, "orders@example.com")
    assert applied == [] and out == raw


def test_a_banner_with_directory_fields_is_never_dropped_whole() -> None:
    flow = load_flow("internal_domains: [example.com]\nrules:\n  - name: b\n    apply: "
                     "[{banner: \"CAUTION\\n{sender.department}\"}]\n", marker_key=b"k")
    flow.directory = DIRECTORY
    result = flow.apply(EXTERNAL, Envelope("INBOUND", "m.dupont@partner.example.net",
                                           ["jane.doe@example.com"]))
    assert result.applied == ["b:banner"]
    assert plain(result.message).startswith("CAUTION\r\n\r\nHallo")  # the line went


def test_html_escapes_directory_values() -> None:
    directory = parse_directory({"users": [{
        "email": "jane.doe@example.com", "display_name": "Jane <script>x</script>",
        "job_title": "R&D\r\nBcc: evil@example.net"}]})
    flow = recipe("directory-signature")
    flow.directory = directory
    out = flow.apply(OUTBOUND, Envelope("OUTBOUND", "jane.doe@example.com", ["a@b.example"]))
    markup = html(out.message)
    assert "Jane &lt;script&gt;x&lt;/script&gt;" in markup and "<script>" not in markup
    assert "R&amp;D Bcc: evil@example.net<br>" in markup  # the line break is gone too


def test_second_message_in_the_thread_does_not_repeat_the_signature() -> None:
    first, _ = sign(OUTBOUND)
    answer = reply(first, "Marie Dupont <m.dupont@partner.example.net>",
                   "jane.doe@example.com", "Danke, Jane!")
    second = reply(answer, "Jane Doe <jane.doe@example.com>",
                   "m.dupont@partner.example.net", "You're welcome.")
    out, applied = sign(second)
    assert applied == []
    assert out == second
    assert plain(out).count("Head of Purchasing") == 1


def test_html_only_thread_is_recognised_too() -> None:
    first, _ = sign(OUTBOUND)
    second = reply(first, "Jane Doe <jane.doe@example.com>", "m.dupont@partner.example.net",
                   "One more thing.")
    only_html = parse(second)
    only_html.make_mixed()  # keep it simple: drop the plain part, keep the HTML one
    html_part = next(p for p in only_html.walk() if p.get_content_type() == "text/html")
    bare = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"):
        bare[name] = only_html[name]
    bare.set_content(html_part.get_content(), subtype="html")
    raw = bare.as_bytes(policy=email.policy.SMTP)
    _, applied = sign(raw)
    assert applied == []


def test_a_colleague_replying_in_the_thread_gets_their_own_signature() -> None:
    first, _ = sign(OUTBOUND)
    second = reply(first, "John Smith <john.smith@example.com>",
                   "m.dupont@partner.example.net", "Adding my numbers.")
    out, applied = sign(second, "john.smith@example.com")
    assert applied == ["signature:footer"]
    text = plain(out).replace("\r\n", "\n")
    assert text.index("--\nJohn Smith\nExample Corp\n") < text.index("> Head of Purchasing")


def test_a_new_message_that_quotes_the_signature_is_still_signed() -> None:
    first, _ = sign(OUTBOUND)
    second = reply(first, "Jane Doe <jane.doe@example.com>", "m.dupont@partner.example.net",
                   "Forwarding.")
    fresh = re.sub(rb"(?m)^(In-Reply-To|References):\r?\n .*\r?\n", b"", second)
    assert b"In-Reply-To" not in fresh and b"References" not in fresh
    assert sign(fresh)[1] == []  # "Re: Lieferplan": still a reply
    for subject, applied in ((b"Lieferplan", ["signature:footer"]),
                             (b"AW: [EXT] Lieferplan", []), (b"Fwd: Lieferplan", []),
                             (b"Reminder: Lieferplan", ["signature:footer"])):
        raw = fresh.replace(b"Subject: Re: Lieferplan", b"Subject: " + subject)
        assert sign(raw)[1] == applied, subject


def test_once_per_thread_never_lets_an_inbound_sender_skip_a_footer() -> None:
    flow = load_flow("rules:\n  - name: f\n    apply: [{footer: {text: 'Scanned {sender}', "
                     "once_per_thread: true}}]\n", marker_key=b"k")
    forged = reply(EXTERNAL, "Marie Dupont <m.dupont@partner.example.net>",
                   "jane.doe@example.com", "Scanned m.dupont@partner.example.net")
    result = flow.apply(forged, Envelope("INBOUND", "m.dupont@partner.example.net",
                                         ["jane.doe@example.com"]))
    assert result.applied == ["f:footer"]


def test_a_footer_with_directory_fields_is_once_per_thread_by_default() -> None:
    first, _ = sign(OUTBOUND)
    second = reply(first, "Jane Doe <jane.doe@example.com>", "m.dupont@partner.example.net",
                   "Again.")
    envelope = Envelope("OUTBOUND", "jane.doe@example.com", ["m.dupont@partner.example.net"])
    for once, applied in (("", []), (", once_per_thread: false", ["s:footer"])):
        flow = load_flow("internal_domains: [example.com]\nrules:\n  - name: s\n    apply: "
                         "[{footer: {text: \"{sender.display_name}\\n{sender.job_title}\", "
                         f"placement: above_reply{once}}}}}]\n", marker_key=b"k")
        flow.directory = DIRECTORY
        assert flow.apply(second, envelope).applied == applied


def test_a_retry_does_not_sign_twice() -> None:
    first, _ = sign(OUTBOUND)
    again, applied = sign(first)
    assert applied == [] and again == first


def test_cli_apply_with_directory_file(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = mimeops("apply", "--config", str(FLOWS / "directory-signature.yaml"),
                   "--direction", "OUTBOUND", "--directory", str(DIRECTORY_FILE),
                   str(EVENTS / "outbound.eml"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"] == ["signature:footer"]
    second = reply(out.read_bytes(), "Jane Doe <jane.doe@example.com>",
                   "m.dupont@partner.example.net", "And another thing.")
    (tmp_path / "second.eml").write_bytes(second)
    done = mimeops("apply", "--config", str(FLOWS / "directory-signature.yaml"),
                   "--direction", "OUTBOUND", "--directory", str(DIRECTORY_FILE),
                   str(tmp_path / "second.eml"), "-o", str(tmp_path / "out2.eml"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["changed"] is False and summary["applied"] == []


def test_cli_takes_internal_domains_from_the_directory_file_when_the_flow_has_none(
        tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text((FLOWS / "directory-signature.yaml").read_text().replace(
        "internal_domains: [example.com, example.org]", ""), encoding="utf-8")
    done = mimeops("apply", "--config", str(flow), "--direction", "OUTBOUND",
                   "--directory", str(DIRECTORY_FILE), str(EVENTS / "outbound.eml"),
                   "-o", str(tmp_path / "out.eml"))
    assert json.loads(done.stdout)["applied"] == ["signature:footer"], done.stderr
    assert DIRECTORY.domains() == {"example.com"}


def test_cli_without_a_directory_says_what_is_missing() -> None:
    done = mimeops("apply", "--config", str(FLOWS / "directory-signature.yaml"),
                   "--direction", "OUTBOUND", str(EVENTS / "outbound.eml"), "-o", "/dev/null")
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1
    assert "--directory DIR.yaml" in done.stderr.decode()


@pytest.mark.parametrize("command", [
    ["apply", "--direction", "OUTBOUND", "missing.eml"],
    ["explain", "--direction", "OUTBOUND", "missing.eml"],
    ["preview", "missing-folder"],
])
def test_cli_fails_at_load_for_a_workmail_directory_flow_without_a_file(
        command: list[str]) -> None:
    """The flow says `directory: workmail` already: the CLI, which cannot reach WorkMail,
    says so before reading any message, and tells about --directory (not the flow key)."""
    done = mimeops(command[0], "--config", str(FLOWS / "directory-signature.yaml"),
                   *command[1:])
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1, err
    assert "the flow says 'directory: workmail'" in err and "pass --directory DIR.yaml" in err
    assert "set 'directory: workmail'" not in err and "missing" not in err


@pytest.mark.parametrize(("content", "message"), [
    ("users: [{email: a@example.com, titel: x}]",
     "users[0] (a@example.com): unknown field 'titel'"),
    ("users: [{email: not-an-address}]", "users[0] (not-an-address): email: invalid address"),
    ("users: [{email: a@example.com}, {email: A@example.com}]", "already used"),
    ("users: {a: 1}", "users: expected a list"),
    ("- a\n- b\n", "a mapping with a 'users' list"),
    ("users: [{email: a@example.com, groups: ['']}]", "groups: expected group names"),
    ("users: [\n  {email: a@example.com\n", "not valid YAML"),
])
def test_bad_directory_file_is_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "dir.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DirectoryError) as info:
        load_directory(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))
    done = mimeops("apply", "--config", str(FLOWS / "directory-signature.yaml"),
                   "--directory", str(path), str(EVENTS / "outbound.eml"), "-o", "/dev/null")
    assert done.returncode == 2 and message in done.stderr.decode()


# -- impersonation recipe ------------------------------------------------------------------------

OUTSIDE = "someone@mail.outside.example"


def inbound(raw: bytes, mail_from: str) -> list[str]:
    result = recipe("impersonation-warning").apply(
        raw, Envelope("INBOUND", mail_from, ["jane.doe@example.com"]))
    return result.applied


def from_(header_value: str, mail_from: str = OUTSIDE) -> list[str]:
    raw = re.sub(rb"(?m)^From: .*$", b"From: " + header_value.encode("utf-8"), EXTERNAL,
                 count=1)
    return inbound(raw, mail_from)


WARNED = ["impersonation-warning:banner", "impersonation-warning:subject_prefix",
          "impersonation-warning:set_header"]


@pytest.mark.parametrize("header", [
    f'"Jane Doe" <{OUTSIDE}>',
    f'"Doe, Jane" <{OUTSIDE}>',
    f"JANE DOE <{OUTSIDE}>",
    f'"J\u0430ne D\u043ee" <{OUTSIDE}>',                    # Cyrillic a and o
    f'"Maria Garcia" <{OUTSIDE}>',                         # the directory has García
    f"=?utf-8?q?Mar=C3=ADa_Garc=C3=ADa?= <{OUTSIDE}>",     # RFC 2047
    f'"Maria  Garc\u00eda (CEO)" <{OUTSIDE}>',
    f'"Jane Doe | Purchasing" <{OUTSIDE}>',
    f'"Doe, Jane - via Partner Portal" <{OUTSIDE}>',
    f'"Jane Doe, Head of Purchasing" <{OUTSIDE}>',
    f'"Jane\u200b Doe" <{OUTSIDE}>',                        # zero-width space
    f'"jane.doe@example.com" <{OUTSIDE}>',                  # an address as the name
    '"Jane Doe" <jane.doe@example.com>',                    # spoofed From, outside envelope
], ids=lambda h: h.split("<")[0][:30])
def test_display_name_of_a_colleague_from_outside_is_flagged(header: str) -> None:
    assert from_(header) == WARNED


@pytest.mark.parametrize("address", [
    "jane.doe@examp1e.com", "jane.doe@ex\u0430mple.com", "jane.doe@xn--exmple-4nf.com",
    "jane.doe@exampel.com", "billing@example.co", "ceo@mail.examp1e.com",
    "jane.doe@EXAMPLE.CO", "ap@examp1e.org", "ceo@exarnple.com", "hr@examples.com",
])
def test_lookalike_domains_are_flagged(address: str) -> None:
    assert from_(f"Accounts <{address}>", mail_from=address) == WARNED


def test_lookalike_envelope_sender_alone_is_flagged() -> None:
    assert from_("Marie Dupont <m.dupont@partner.example.net>",
                 mail_from="bounce@examp1e.com") == WARNED


@pytest.mark.parametrize(("header", "mail_from"), [
    ("John Smith <john.smith@example.com>", "john.smith@example.com"),      # a colleague
    ("Marie Dupont <m.dupont@partner.example.net>", "m.dupont@partner.example.net"),
    ('"Jane" <jane@outside.example>', "jane@outside.example"),             # first name only
    ("Janet Doerr <j.doerr@outside.example>", "j.doerr@outside.example"),
    ("News <news@exemplary-industries.com>", "news@exemplary-industries.com"),
    ("Support <help@mail.example.com>", "help@mail.example.com"),           # our subdomain
    ("Partner <p@sample.com>", "p@sample.com"),
])
def test_colleagues_and_unrelated_outsiders_are_not_flagged(header: str, mail_from: str) -> None:
    assert from_(header, mail_from) == []


def test_the_banner_says_impersonation_and_is_escaped() -> None:
    raw = re.sub(rb"(?m)^From: .*$", b'From: "Jane Doe <b>" <x@outside.example>', EXTERNAL,
                 count=1)
    flow = recipe("impersonation-warning")
    directory = parse_directory({"users": [{"email": "jane.doe@example.com",
                                            "display_name": "Jane Doe <b>"}]})
    flow.directory = directory
    out = flow.apply(raw, Envelope("INBOUND", "x@outside.example", ["jane.doe@example.com"]))
    assert "POSSIBLE IMPERSONATION" in plain(out.message)
    assert "&ldquo;Jane Doe &lt;b&gt;&rdquo;" in html(out.message)
    assert parse(out.message)["Subject"].startswith("[IMPERSONATION?]")


# -- groups ---------------------------------------------------------------------------------------

GROUPS_FLOW = """
internal_domains: [example.com]
rules:
  - name: from-staff
    when: {sender_group: ALL-STAFF}
    apply: [{add_header: {name: X-Staff, value: "yes"}}]
  - name: to-finance
    when: {recipient_group: [finance, legal]}
    apply: [{add_header: {name: X-Finance, value: "yes"}}]
  - name: from-leadership
    when: {sender_group: leadership}
    apply: [{add_header: {name: X-Lead, value: "yes"}}]
"""


def groups_applied(mail_from: str, recipients: list[str]) -> list[str]:
    flow = load_flow(GROUPS_FLOW, marker_key=b"k")
    flow.directory = DIRECTORY
    raw = as_sender(INTERNAL, "X", mail_from)
    return [a.split(":")[0] for a in flow.apply(raw, Envelope("INBOUND", mail_from,
                                                              recipients)).applied]


def test_sender_group_follows_nested_groups() -> None:
    # jane is in purchasing, purchasing in all-staff; john is in finance
    assert groups_applied("jane.doe@example.com", ["john.smith@example.com"]) == [
        "from-staff", "to-finance"]
    assert groups_applied("jane@example.com", ["x@example.com"]) == ["from-staff"]  # alias


def test_recipient_group_matches_the_group_address_too() -> None:
    assert "to-finance" in groups_applied("ceo@example.com", ["finance@example.com"])
    assert groups_applied("ceo@example.com", ["jane.doe@example.com"]) == [
        "from-staff", "from-leadership"]


def test_an_outsider_using_our_address_in_the_envelope_gets_no_groups() -> None:
    flow = load_flow(GROUPS_FLOW, marker_key=b"k")
    flow.directory = DIRECTORY
    result = flow.apply(EXTERNAL, Envelope("INBOUND", "jane.doe@example.com",
                                           ["x@outside.example"]))
    assert result.applied == []


@pytest.mark.parametrize(("when", "error"), [
    ("{sender_group: []}", "expected a group name"),
    ("{recipient_group: 3}", "expected a group name"),
    ("{impersonates_user: 'yes'}", "expected true or false"),
    ("{lookalike_domain: 1}", "expected true or false"),
])
def test_directory_conditions_are_checked_at_load(when: str, error: str) -> None:
    with pytest.raises(FlowError, match=error):
        load_flow(f"rules:\n  - name: r\n    when: {when}\n    action: DROP\n")


def test_unknown_sender_field_and_directory_value_fail_at_load() -> None:
    with pytest.raises(FlowError, match=r"unknown template field \{sender.mobile\}"):
        load_flow("rules: [{name: r, apply: [{banner: '{sender.mobile}'}]}]")
    with pytest.raises(FlowError, match=r"directory \(line 1\): expected workmail"):
        load_flow("directory: ldap\nrules: [{name: r, action: DROP}]")


def test_a_flow_without_directory_features_never_asks_for_one() -> None:
    flow = load_flow(FLOWS / "external-warning.yaml", marker_key=b"k")
    assert flow.directory is None
    assert flow.apply(EXTERNAL, Envelope("INBOUND", "m.dupont@partner.example.net",
                                         ["jane.doe@example.com"])).changed


# -- normalisation and look-alikes --------------------------------------------------------------


def test_name_keys() -> None:
    assert name_key("Doe, Jane") == name_key("jane DOE") == name_key("J\u0430ne D\u00f6e")
    assert name_key("Jane Doe") != name_key("Janet Doe")
    assert skeleton("examp1e") == skeleton("example") == skeleton("ex\u0430mple")
    assert skeleton("rn") == skeleton("m")


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("example", "exampel", True), ("example", "exmple", True), ("example", "examples", True),
    ("example", "exbmple", True), ("example", "example", False), ("example", "exapmle", True),
    ("example", "axampel", False), ("ab", "ba", True), ("abc", "cab", False),
])
def test_one_edit(a: str, b: str, expected: bool) -> None:
    assert one_edit(a, b) is expected and one_edit(b, a) is expected


def test_mimics_is_idn_aware() -> None:
    cyrillic = normalize_domain("ex\u0430mple.com")
    assert cyrillic.startswith("xn--")
    assert mimics(cyrillic, INTERNAL_DOMAINS) == "example.com"
    internal_idn = frozenset({normalize_domain("bücher.example")})
    assert mimics(normalize_domain("bucher.example"), internal_idn) is not None
    assert mimics(normalize_domain("bücher.example"), internal_idn) is None


# -- the cache ------------------------------------------------------------------------------------


class Counting:
    """A directory that counts lookups and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def user(self, address: str) -> User | None:
        self.calls += 1
        if self.fail:
            raise OSError("connection refused")
        return User(address) if address.startswith("jane") else None

    def groups(self, address: str) -> frozenset[str]:
        self.calls += 1
        return frozenset({"g"})

    def people(self) -> list[User]:
        self.calls += 1
        return [User("jane@example.com", display_name="Jane Doe")]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_ttl_negative_entries_and_size_bound() -> None:
    inner, clock = Counting(), Clock()
    cache = CachedDirectory(inner, ttl=60, size=2, clock=clock)
    assert cache.user("jane@example.com") is not None
    assert cache.user("nobody@example.com") is None
    assert cache.user("JANE@example.com") is not None and cache.user("nobody@example.com") is None
    assert inner.calls == 2  # hits, the miss included
    clock.now += 61
    cache.user("jane@example.com")
    assert inner.calls == 3
    cache.groups("a@example.com")
    cache.people()
    assert len(cache) == 2  # bounded: the oldest entries went
    cache.user("nobody@example.com")
    assert inner.calls == 6


def test_cache_serves_stale_on_failure_and_raises_without_an_entry() -> None:
    inner, clock = Counting(), Clock()
    cache = CachedDirectory(inner, ttl=60, clock=clock)
    assert cache.user("jane@example.com") is not None
    inner.fail = True
    clock.now += 120
    assert cache.user("jane@example.com") == User("jane@example.com")
    with pytest.raises(DirectoryUnavailable, match="connection refused"):
        cache.user("jane.other@example.com")


def test_one_fetch_at_a_time_and_stale_answers_while_refreshing() -> None:
    gate, started = threading.Event(), threading.Event()

    class Slow(Counting):
        def people(self) -> list[User]:
            started.set()
            assert gate.wait(10)
            return super().people()

    inner, clock = Slow(), Clock()
    cache = CachedDirectory(inner, ttl=60, clock=clock)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.people()))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    assert started.wait(10)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert inner.calls == 1 and len(results) == 3
    clock.now += 61
    gate.clear()
    started.clear()
    refresher = threading.Thread(target=cache.people)
    refresher.start()
    assert started.wait(10)
    assert cache.people() == results[0]  # stale, without waiting for the refresh
    gate.set()
    refresher.join(10)
    assert inner.calls == 2


def test_a_failing_directory_is_a_fault_for_on_error() -> None:
    inner = Counting()
    inner.fail = True
    flow = recipe("directory-signature")
    flow.directory = CachedDirectory(inner)
    with pytest.raises(DirectoryUnavailable):
        flow.apply(OUTBOUND, Envelope("OUTBOUND", "jane.doe@example.com", ["a@b.example"]))


# -- what a reader sees (Chromium) ---------------------------------------------------------------


def test_reader_sees_the_warning_first_and_the_signature_above_the_quote(page: Any) -> None:
    raw = re.sub(rb"(?m)^From: .*$", b'From: "Jane Doe" <jane.doe@outside.example>', EXTERNAL,
                 count=1)
    warned = recipe("impersonation-warning").apply(
        raw, Envelope("INBOUND", "jane.doe@outside.example", ["jane.doe@example.com"]))
    page.set_content(html(warned.message))
    shown = page.inner_text("body")
    assert shown.lstrip().startswith("WARNING \u2013 POSSIBLE IMPERSONATION")
    assert "\u201cJane Doe\u201d" in shown and "jane.doe@outside.example" in shown

    signed, _ = sign(OUTBOUND)
    page.set_content(html(signed))
    shown = page.inner_text("body")
    assert shown.index("Head of Purchasing") < shown.index("From: Marie Dupont")
    top = page.get_by_text("Head of Purchasing").bounding_box()
    quote = page.get_by_text("Hallo Jane,").bounding_box()
    assert top is not None and quote is not None and top["y"] < quote["y"]


def test_cache_evicts_the_least_recently_used_entry() -> None:
    inner = Counting()
    cache = CachedDirectory(inner, ttl=60, size=2, clock=Clock())
    cache.user("jane@example.com")
    cache.user("bob@example.com")
    cache.user("jane@example.com")        # a hit: jane is now the most recent
    cache.groups("team@example.com")      # a third entry: bob goes
    calls = inner.calls
    cache.user("jane@example.com")
    assert inner.calls == calls
    cache.user("bob@example.com")
    assert inner.calls == calls + 1


def test_impersonation_rule_first_then_the_external_warning_gives_one_banner() -> None:
    combined = (FLOWS / "impersonation-warning.yaml").read_text() + "\n".join(
        "  " + line if line.strip() else line
        for line in ("- name: external-warning", "  when: {direction: INBOUND, sender: external}",
                     "  apply: [{banner: 'CAUTION: external sender {sender}'}]")) + "\n"
    flow = load_flow(combined, marker_key=b"k")
    flow.directory = DIRECTORY
    envelope = Envelope("INBOUND", OUTSIDE, ["jane.doe@example.com"])
    spoofed = re.sub(rb"(?m)^From: .*$", f'From: "Jane Doe" <{OUTSIDE}>'.encode(), EXTERNAL,
                     count=1)
    assert flow.apply(spoofed, envelope).applied == WARNED
    plain_outsider = flow.apply(EXTERNAL, Envelope("INBOUND", "m.dupont@partner.example.net",
                                                   ["jane.doe@example.com"]))
    assert plain_outsider.applied == ["external-warning:banner"]


def test_preview_and_explain_take_the_directory_file_too(tmp_path: Path) -> None:
    impostor = re.sub(rb"(?m)^From: .*$", f'From: "Jane Doe" <{OUTSIDE}>'.encode(), EXTERNAL,
                      count=1)
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "impostor.eml").write_bytes(impostor)
    (tmp_path / "mail" / "partner.eml").write_bytes(EXTERNAL)
    flow = str(FLOWS / "impersonation-warning.yaml")
    done = mimeops("preview", "--config", flow, "--directory", str(DIRECTORY_FILE),
                   str(tmp_path / "mail"))
    assert done.returncode == 0, done.stderr
    tally = json.loads(done.stdout.decode().splitlines()[-1])
    assert tally["messages"] == 2 and tally["rules"]["impersonation-warning"] == 1
    done = mimeops("explain", "--config", flow, "--directory", str(DIRECTORY_FILE),
                   "--mail-from", OUTSIDE, str(tmp_path / "mail" / "impostor.eml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("impersonation-warning: matched: ")
    assert "impersonates_user: true" in done.stdout.decode()
    bad = mimeops("preview", "--config", flow, "--directory", str(tmp_path / "none.yaml"),
                  str(tmp_path / "mail"))
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1
