"""`mimeops smtp-filter` as a process, between a real SMTP client and a real SMTP sink.

Postfix itself is in test_postfix.py; here the filter's own promises are checked
against the wire: same envelope out, 250 only after the next hop accepted, 451 on
faults, actions mapped to SMTP, limits, concurrency, SIGTERM, one log line each.
"""

from __future__ import annotations

import asyncio
import email
import signal
import smtplib
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope as SMTPEnvelope

from mimeops import load_flow
from mimeops_smtp.server import FilterHandler, Record
from mimeops_smtp.settings import Settings
from tests.conftest import ROOT
from tests.held import Stuck
from tests.smtp_harness import (
    MIMEOPS,
    Filter,
    SinkHandler,
    free_port,
    listening,
    sink,
    submit,
    wait_until,
)

FLOW = """\
internal_domains: [example.com]
on_error: {on_error}
rules:
  - name: external-warning
    when: {{direction: INBOUND, sender: external}}
    apply:
      - banner:
          text: "CAUTION: external sender {{sender}}"
          html: "<div>CAUTION: external sender {{sender}}</div>"
      - subject_prefix: "[EXTERNAL]"
  - name: outbound-tag
    when: {{direction: OUTBOUND}}
    apply:
      - add_header: {{name: X-Outbound, value: "yes"}}
  - name: footer
    apply:
      - footer: {{text: "-- filtered by mimeops", html: "<p>-- filtered by mimeops</p>"}}
  - name: policy
    when: {{header: {{subject: "BOUNCE-ME"}}}}
    action: {{type: BOUNCE, message: "Policy: {{subject}} is not allowed."}}
  - name: drop
    action: {{type: DROP, recipients: [dropped@example.com]}}
  - name: junk
    when: {{direction: INBOUND}}
    action: {{type: MOVE_TO_JUNK, recipients: [junk@example.com]}}
  - name: blocked
    action:
      type: BOUNCE
      message: "Nobody writes to blocked."
      recipients: [blocked@example.com]
"""

SECRET = "the-body-must-never-reach-the-log"


def message(sender: str = "mallory@evil.example", subject: str = "Hello",
            to: str = "alice@example.com") -> bytes:
    return (f"From: Mallory <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <1@evil.example>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Alice,\r\n{SECRET}\r\n"
            ).encode()


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.format(on_error="deliver"), encoding="utf-8")
    return path


@pytest.fixture
def next_hop() -> Iterator[tuple[SinkHandler, int]]:
    with sink() as pair:
        yield pair


@pytest.fixture
def running(flow: Path, next_hop: tuple[SinkHandler, int]) -> Iterator[Filter]:
    with Filter(flow, free_port(), next_hop[1]) as proc:
        yield proc


def test_relays_the_rewritten_message_with_the_same_envelope(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    refused = submit(running.port, "mallory@evil.example",
                     ["alice@example.com", "Bob@Example.com"], message())
    assert refused == {}
    [got] = handler.messages
    assert got.mail_from == "mallory@evil.example"
    assert got.rcpt_tos == ["alice@example.com", "Bob@Example.com"]
    assert b"CAUTION: external sender mallory@evil.example" in got.data
    assert b"-- filtered by mimeops" in got.data
    assert b"Subject: [EXTERNAL] Hello" in got.data
    [record] = running.records()
    assert record["reply"] == "250" and record["direction"] == "INBOUND"
    assert record["changed"] is True and record["delivered"] == 2
    assert "external-warning:banner" in record["applied"]
    assert SECRET not in "\n".join(running.lines())


def test_direction_comes_from_internal_domains(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    submit(running.port, "jane@example.com", ["partner@other.example"],
           message(sender="jane@example.com", to="partner@other.example"))
    [got] = handler.messages
    assert b"X-Outbound: yes" in got.data and b"CAUTION" not in got.data
    assert running.records()[0]["direction"] == "OUTBOUND"


def test_a_fixed_direction_ignores_a_forged_internal_sender(
        flow: Path, next_hop: tuple[SinkHandler, int]) -> None:
    handler, port = next_hop
    with Filter(flow, free_port(), port, "--direction", "INBOUND") as proc:
        submit(proc.port, "jane@example.com", ["alice@example.com"],
               message(sender="jane@example.com"))
    [got] = handler.messages
    assert b"X-Outbound" not in got.data and b"-- filtered by mimeops" in got.data
    assert proc.records()[0]["direction"] == "INBOUND"


def test_mixed_actions_deliver_junk_drop_and_a_dsn_for_the_bounced(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    rcpts = ["alice@example.com", "junk@example.com", "dropped@example.com",
             "blocked@example.com"]
    assert submit(running.port, "mallory@evil.example", rcpts, message()) == {}
    by_rcpt = {tuple(m.rcpt_tos): m for m in handler.messages}
    assert set(by_rcpt) == {("alice@example.com",), ("junk@example.com",),
                            ("mallory@evil.example",)}
    assert b"X-Spam-Flag" not in by_rcpt["alice@example.com",].data
    junk = by_rcpt["junk@example.com",].data
    assert junk.startswith(b"X-Spam-Flag: YES\r\n") and b"CAUTION" in junk
    report = by_rcpt["mallory@evil.example",]
    assert report.mail_from == "<>"  # the null sender: a DSN never bounces back
    assert b"multipart/report; report-type=delivery-status" in report.data
    assert b"Final-Recipient: rfc822; blocked@example.com" in report.data
    assert b"Diagnostic-Code: smtp; 550 5.7.1 Nobody writes to blocked." in report.data
    assert b"dropped@example.com" not in report.data
    parsed = email.message_from_bytes(report.data)
    assert parsed.get_content_type() == "multipart/report"
    assert [p.get_content_type() for p in parsed.get_payload()] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    explanation = parsed.get_payload()[0].get_payload(decode=True).decode()
    assert "<blocked@example.com>: 550 5.7.1 Nobody writes to blocked." in explanation
    assert b"Subject: Hello" in report.data  # the original's headers, not its body
    assert SECRET.encode() not in report.data
    record = running.records()[0]
    assert (record["delivered"], record["junk"], record["dropped"], record["bounced"]) == (
        2, 1, 1, 1)


def test_mail_no_warned_rewrite_can_carry_is_relayed_with_the_junk_header(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    """The fallback action (junk, the default) under SMTP: the message unchanged, the
    junk header on top for the mailbox server's Sieve rule; the log line says why."""
    handler, _ = next_hop
    raw = message().replace(b"Subject:", b"From: ceo@example.com\r\nSubject:")
    assert submit(running.port, "mallory@evil.example", ["alice@example.com"], raw) == {}
    [got] = handler.messages
    assert got.data.startswith(b"X-Spam-Flag: YES\r\n")
    assert got.data.removeprefix(b"X-Spam-Flag: YES\r\n") == raw
    [record] = running.records()
    assert record["fallback"] == "junk" and record["junk"] == 1 and record["reply"] == "250"
    assert record["skipped"].startswith("invalid-output: unique header From appears 2 times")


def test_the_bounce_fallback_is_a_550(
        tmp_path: Path, next_hop: tuple[SinkHandler, int]) -> None:
    handler, port = next_hop
    path = tmp_path / "bounce.yaml"
    path.write_text(FLOW.format(on_error="deliver") + "fallback: bounce\n", encoding="utf-8")
    raw = message().replace(b"Subject:", b"From: ceo@example.com\r\nSubject:")
    with Filter(path, free_port(), port) as proc, \
            pytest.raises(smtplib.SMTPDataError) as refused:
        submit(proc.port, "mallory@evil.example", ["alice@example.com"], raw)
    assert refused.value.smtp_code == 550 and b"notice" in refused.value.smtp_error
    assert handler.messages == [] and proc.records()[0]["fallback"] == "bounce"


def test_a_bounce_for_everybody_is_a_550_with_the_rule_message(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    with pytest.raises(smtplib.SMTPDataError) as refused:
        submit(running.port, "mallory@evil.example", ["alice@example.com"],
               message(subject="BOUNCE-ME"))
    assert refused.value.smtp_code == 550
    assert b"Policy: BOUNCE-ME is not allowed." in refused.value.smtp_error
    assert handler.messages == []


def test_a_dead_next_hop_is_a_451_and_the_message_stays_with_the_client(flow: Path) -> None:
    dead = free_port()
    with Filter(flow, free_port(), dead) as proc:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            submit(proc.port, "mallory@evil.example", ["alice@example.com"], message())
        assert deferred.value.smtp_code == 451
        with sink(dead) as (handler, _):  # the next hop is back: the retry gets through
            submit(proc.port, "mallory@evil.example", ["alice@example.com"], message())
            assert len(handler.messages) == 1
    assert [r["reply"] for r in proc.records()] == ["451", "250"]


def test_next_hop_refusals_map_per_recipient(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    handler.refuse["gone@example.com"] = "550 5.1.1 no such user"
    assert submit(running.port, "mallory@evil.example",
                  ["alice@example.com", "gone@example.com"], message()) == {}
    kept, report = handler.messages
    assert kept.rcpt_tos == ["alice@example.com"]
    assert report.rcpt_tos == ["mallory@evil.example"]
    assert b"Final-Recipient: rfc822; gone@example.com" in report.data
    assert b"Status: 5.1.1" in report.data
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user" in report.data
    handler.refuse["later@example.com"] = "450 4.2.1 mailbox busy"
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        submit(running.port, "mallory@evil.example",
               ["alice@example.com", "later@example.com"], message())
    assert deferred.value.smtp_code == 451  # the client keeps it and retries everyone


@pytest.mark.parametrize(("on_error", "code"), [("deliver", 250), ("retry", 451)])
def test_a_flow_fault_follows_on_error(tmp_path: Path, on_error: str, code: int) -> None:
    """A colleague's outgoing mail (no warning's fallback applies to it): on_error alone
    decides. Mail a warning matched is the next test's."""
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.format(on_error=on_error), encoding="utf-8")
    raw = message(sender="bob@example.com")
    with sink() as (handler, hop), Filter(path, free_port(), hop,
                                           "--flow-timeout", "0.000001") as proc:
        try:
            submit(proc.port, "bob@example.com", ["carol@example.net"], raw)
            reply = 250
        except smtplib.SMTPDataError as error:
            reply = error.smtp_code
    assert reply == code
    assert [m.data for m in handler.messages] == ([raw] if on_error == "deliver" else [])
    assert proc.records()[0]["error"] == "flow timeout"


@pytest.mark.parametrize(("fallback", "relayed", "where"), [
    ("junk", True, "apply"), ("bounce", False, "apply"),
    ("junk", True, "when"),  # before the rules are matched: the warning may match
])
def test_a_flow_past_its_timeout_takes_the_fallback_of_a_warning(
        fallback: str, relayed: bool, where: str) -> None:
    """A sender who makes the flow overrun `--flow-timeout` (the rewrite, or the parse
    and conditions before it) gets the flow's fallback (the junk header, or a 550), never
    the message relayed unwarned. In process: the flow holds a transform or condition
    object that waits for the test, so the overrun is certain."""
    stuck = Stuck()
    rule: dict[str, object] = {
        "name": "external-warning", "when": {"direction": "INBOUND", "sender": "external"},
        "apply": [{"banner": "CAUTION"}, {"subject_prefix": "[EXTERNAL]"}]}
    if where == "apply":
        rule["apply"] = [*rule["apply"], stuck]  # type: ignore[misc]
    else:
        rule["when"] = {"custom": stuck}
    flow = load_flow({"internal_domains": ["example.com"], "fallback": fallback,
                      "rules": [rule]})
    raw = message()
    envelope = SMTPEnvelope()
    envelope.mail_from, envelope.rcpt_tos = "mallory@evil.example", ["alice@example.com"]
    record = Record("127.0.0.1", envelope.mail_from, 1, len(raw))
    with sink() as (handler, hop), ThreadPoolExecutor(3) as pool:
        settings = Settings(("127.0.0.1", 0), ("127.0.0.1", hop), flow_timeout=0.5)
        try:  # its own thread: another test may have left this thread's loop running
            reply = pool.submit(asyncio.run, FilterHandler(flow, settings, pool).process(
                envelope, raw, {}, record)).result()
        finally:
            stuck.release.set()
    assert record.fields["error"] == "flow timeout"
    assert record.fields["fallback"] == fallback
    if relayed:
        assert reply.startswith("250")
        (kept,) = handler.messages
        assert kept.data == b"X-Spam-Flag: YES\r\n" + raw
    else:
        assert reply.startswith("550") and handler.messages == []


def test_a_message_over_max_size_is_refused(flow: Path,
                                            next_hop: tuple[SinkHandler, int]) -> None:
    handler, hop = next_hop
    with (Filter(flow, free_port(), hop, "--max-size", "2000") as proc,
          pytest.raises(smtplib.SMTPException) as refused):
        submit(proc.port, "mallory@evil.example", ["alice@example.com"],
               message() + b"x" * 3000 + b"\r\n")
    assert "552" in str(refused.value)
    assert handler.messages == []


def test_a_stuck_message_blocks_no_other(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    handler.hold_for.add("slow@example.com")
    outcome: dict[str, object] = {}

    def slow() -> None:
        try:
            submit(running.port, "mallory@evil.example", ["slow@example.com"], message())
            outcome["slow"] = 250
        except smtplib.SMTPDataError as error:
            outcome["slow"] = error.smtp_code

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(handler.waiting.is_set, "the slow message to reach the next hop")
    submit(running.port, "mallory@evil.example", ["alice@example.com"], message())
    assert [m.rcpt_tos for m in handler.messages] == [["alice@example.com"]]
    handler.release.set()
    thread.join(30)
    assert outcome["slow"] == 451


def test_sigterm_finishes_the_message_in_flight_then_exits(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    handler.hold = True
    outcome: dict[str, object] = {}

    def send() -> None:
        try:
            submit(running.port, "mallory@evil.example", ["alice@example.com"], message())
        except smtplib.SMTPDataError as error:
            outcome["code"] = error.smtp_code

    thread = threading.Thread(target=send)
    thread.start()
    wait_until(handler.waiting.is_set, "the message to reach the next hop")
    assert running.process is not None
    running.process.send_signal(signal.SIGTERM)
    wait_until(lambda: not listening(running.port), "the filter to stop listening")
    assert running.process.poll() is None  # still answering the message in flight
    handler.release.set()
    assert running.process.wait(20) == 0
    thread.join(30)
    assert outcome["code"] == 451
    assert len(running.records()) == 1


@pytest.mark.parametrize(("args", "needle"), [
    (["--listen", "nowhere", "--next-hop", "127.0.0.1:25"], "--listen: expected HOST:PORT"),
    (["--listen", "127.0.0.1:0", "--next-hop", "127.0.0.1:25", "--junk-header", "X"],
     "--junk-header"),
    (["--listen", "127.0.0.1:0", "--next-hop", "127.0.0.1:25", "--concurrency", "0"],
     "--concurrency"),
    (["--listen", "127.0.0.1:2525", "--next-hop", "127.0.0.1:2525"], "would loop"),
])
def test_bad_usage_is_one_line_and_exit_2(flow: Path, args: list[str], needle: str) -> None:
    done = subprocess.run([MIMEOPS, "smtp-filter", "--config", str(flow), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_invalid_flow_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{name: x, action: {type: NOPE}}]\n", encoding="utf-8")
    done = subprocess.run([MIMEOPS, "smtp-filter", "--config", str(bad), "--listen",
                           "127.0.0.1:0", "--next-hop", "127.0.0.1:25"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "NOPE" in done.stderr


def test_a_line_over_1000_octets_is_accepted_and_rewritten_within_the_limit(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    long_line = b"z" * 5000
    submit(running.port, "mallory@evil.example", ["alice@example.com"],
           message() + long_line + b"\r\n")
    [got] = handler.messages
    body = got.data.split(b"\r\n\r\n", 1)[1]
    assert long_line in body.replace(b"=\r\n", b"")  # all there, as quoted-printable
    assert max(len(line) for line in got.data.split(b"\r\n")) <= 998


def test_internationalized_addresses_pass_through_with_smtputf8(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    raw = ("From: Jürgen <jürgen@bücher.example>\r\nTo: zoë@example.com\r\n"
           "Subject: Grüße\r\n\r\nHallo\r\n").encode()
    with smtplib.SMTP("127.0.0.1", running.port, timeout=60) as client:
        client.command_encoding = "utf-8"
        client.sendmail("jürgen@bücher.example", ["zoë@example.com"], raw,
                        mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [got] = handler.messages
    assert (got.mail_from, got.rcpt_tos) == ("jürgen@bücher.example", ["zoë@example.com"])
    assert b"CAUTION: external sender j=C3=BCrgen@b=C3=BCcher.example" in got.data


def test_xforward_names_the_original_client_in_the_log(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    handler, _ = next_hop
    with smtplib.SMTP("127.0.0.1", running.port, timeout=60) as client:
        client.ehlo()
        assert "ADDR" in client.esmtp_features["xforward"]
        assert client.docmd("XFORWARD", "NAME=mx.evil.example ADDR=192.0.2.7")[0] == 250
        assert client.docmd("XFORWARD", "IDENT=4Q1+2Bx SOURCE=REMOTE")[0] == 250
        assert client.docmd("XFORWARD", "COLOR=red")[0] == 501
        client.sendmail("mallory@evil.example", ["alice@example.com"], message())
        client.mail("mallory@evil.example")
        assert client.docmd("XFORWARD", "ADDR=192.0.2.8")[0] == 503  # too late
        client.rset()
        client.sendmail("mallory@evil.example", ["alice@example.com"], message())
    first, second = running.records()
    assert (first["client"], first["queue_id"]) == ("192.0.2.7", "4Q1+x")
    assert "client" not in second  # the attributes held for one transaction only
    assert len(handler.messages) == 2


def test_sighup_reloads_the_flow_and_keeps_the_old_one_when_the_new_is_broken(
        flow: Path, next_hop: tuple[SinkHandler, int]) -> None:
    handler, hop = next_hop
    with Filter(flow, free_port(), hop) as proc:
        assert proc.process is not None
        flow.write_text(FLOW.format(on_error="deliver").replace("[EXTERNAL]", "[OUTSIDE]"),
                        encoding="utf-8")
        proc.process.send_signal(signal.SIGHUP)
        wait_until(lambda: '"reloaded"' in "\n".join(proc.lines()), "the reload")
        submit(proc.port, "mallory@evil.example", ["alice@example.com"], message())
        flow.write_text("rules: [{name: x, action: {type: NOPE}}]\n", encoding="utf-8")
        proc.process.send_signal(signal.SIGHUP)
        wait_until(lambda: '"reload failed"' in "\n".join(proc.lines()), "the failed reload")
        submit(proc.port, "mallory@evil.example", ["alice@example.com"], message())
    assert [m.data.count(b"Subject: [OUTSIDE] Hello") for m in handler.messages] == [1, 1]


def test_a_bounce_is_never_answered_with_a_dsn(
        running: Filter, next_hop: tuple[SinkHandler, int]) -> None:
    """Null sender (a bounce itself) with a bounced recipient: no DSN, no loop."""
    handler, _ = next_hop
    submit(running.port, "", ["alice@example.com", "blocked@example.com"], message())
    assert [(m.mail_from, m.rcpt_tos) for m in handler.messages] == [
        ("<>", ["alice@example.com"])]
    assert running.records()[0]["bounced"] == 1


def test_listening_beyond_loopback_warns_of_relaying(
        flow: Path, next_hop: tuple[SinkHandler, int]) -> None:
    port = free_port()
    with Filter(flow, port, next_hop[1]) as loopback:
        lines = wait_until(lambda: [ln for ln in loopback.lines() if '"listening"' in ln]
                           and loopback.lines(), "the listening line")  # the warning precedes it
        assert not any('"warning"' in line for line in lines)
    wide = Filter(flow, port, next_hop[1])
    wide.args[wide.args.index("--listen") + 1] = f"0.0.0.0:{port}"
    with wide:
        wait_until(lambda: any("relay through the next hop" in ln for ln in wide.lines()),
                   "the warning")


def test_directory_file_feeds_the_impersonation_recipe(
        next_hop: tuple[SinkHandler, int]) -> None:
    handler, port = next_hop
    flow = ROOT / "examples" / "flows" / "impersonation-warning.yaml"
    directory = ROOT / "examples" / "directory" / "example-org.yaml"
    with Filter(flow, free_port(), port, "--directory", str(directory)) as proc:
        impostor = message(subject="Invoice").replace(b"From: Mallory", b"From: Jane Doe")
        assert submit(proc.port, "mallory@evil.example", ["jane.doe@example.com"],
                      impostor) == {}
        assert submit(proc.port, "mallory@evil.example", ["jane.doe@example.com"],
                      message(subject="Invoice")) == {}
    warned, plain = handler.messages
    assert b"impersonat" in warned.data.lower() and b"impersonat" not in plain.data.lower()
