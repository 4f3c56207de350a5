"""A real Postfix in front of `mimeops smtp-filter`, wired exactly as docs/smtp.md says.

Each run builds its own Postfix instance (`postfix -c DIR`, queue and loopback
ports of its own, configuration = a minimal base + the main.cf and
master.cf blocks), relaying to a Python sink on the next hop, and stops it at
the end. The machine's own Postfix, if any, is not used or touched.
"""

from __future__ import annotations

import os
import signal
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtp_harness import (
    Filter,
    Postfix,
    Received,
    SinkHandler,
    postfix_problem,
    sink,
    submit,
    wait_until,
)
from tests.test_smtp_filter import FLOW, SECRET, message

pytestmark = pytest.mark.postfix


@pytest.fixture(scope="module", autouse=True)
def postfix_here() -> None:
    problem = postfix_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)  # .ci/run installs Postfix: a missing one is a CI fault
        pytest.skip(problem)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flow") / "flow.yaml"
    path.write_text(FLOW.format(on_error="deliver"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mta() -> Iterator[tuple[Postfix, SinkHandler]]:
    with sink() as (handler, port), Postfix(port) as postfix:
        yield postfix, handler


@pytest.fixture
def world(mta: tuple[Postfix, SinkHandler], flow: Path
          ) -> Iterator[tuple[Postfix, SinkHandler, Filter]]:
    postfix, handler = mta
    handler.messages.clear()
    handler.hold = False
    handler.waiting.clear()
    handler.release.clear()
    with Filter(flow, postfix.filter_port, postfix.reinject_port) as proc:
        yield postfix, handler, proc


def arrived(handler: SinkHandler, rcpt: str) -> list[Received]:
    return [m for m in handler.messages if rcpt in m.rcpt_tos]


def test_a_message_submitted_to_postfix_arrives_filtered(
        world: tuple[Postfix, SinkHandler, Filter]) -> None:
    postfix, handler, proc = world
    submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"], message())
    [got] = wait_until(lambda: arrived(handler, "alice@example.com"),
                       "the message at the next hop", 60)
    assert got.mail_from == "mallory@evil.example"
    assert b"CAUTION: external sender mallory@evil.example" in got.data
    assert b"-- filtered by mimeops" in got.data
    assert b"Subject: [EXTERNAL] Hello" in got.data
    assert got.data.count(b"Received: from") >= 2  # Postfix, filter, Postfix again
    [record] = wait_until(proc.records, "the filter's log line", 30)
    assert record["reply"] == "250" and record["changed"] is True
    # Postfix told the filter its queue ID (XFORWARD), and the filter told the reinjection.
    assert record["client"] == "127.0.0.1" and record["queue_id"]
    wait_until(lambda: f"orig_queue_id={record['queue_id']}" in postfix.maillog(),
               "the reinjection to log the original queue ID", 30)
    wait_until(lambda: postfix.queue() == [], "an empty queue")


def test_a_bounce_rule_makes_postfix_return_a_dsn(
        world: tuple[Postfix, SinkHandler, Filter]) -> None:
    postfix, handler, proc = world
    submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"],
           message(subject="BOUNCE-ME"))
    [dsn] = wait_until(lambda: arrived(handler, "mallory@evil.example"),
                       "the bounce to the sender", 60)
    assert dsn.mail_from == "<>"
    assert b"report-type=delivery-status" in dsn.data
    assert b"Policy: BOUNCE-ME is not allowed." in dsn.data
    assert arrived(handler, "alice@example.com") == []
    assert wait_until(proc.records, "the filter's log line", 30)[0]["reply"] == "550"


def test_a_killed_filter_leaves_the_message_queued_until_it_is_back(
        mta: tuple[Postfix, SinkHandler], flow: Path) -> None:
    postfix, handler = mta
    handler.messages.clear()
    # Between the filter and Postfix's reinjection port, a gate we can stall: while it
    # holds, the filter has the message half-relayed when it is killed.
    with sink() as (gate, gate_port):
        gate.forward_to = postfix.reinject_port
        gate.hold = True
        with Filter(flow, postfix.filter_port, gate_port) as proc:
            submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"],
                   message(subject="Queued"))
            wait_until(gate.waiting.is_set, "the filter to be relaying the message", 60)
            proc.stop(signal.SIGKILL)
        gate.release.set()  # the stalled transaction ends 451: nothing went further
        deferred = wait_until(
            lambda: [m for m in postfix.queue() if m.get("queue_name") == "deferred"],
            "the message in Postfix's deferred queue", 60)
        assert [m["sender"] for m in deferred] == ["mallory@evil.example"]
        assert "lost connection" in deferred[0]["recipients"][0]["delay_reason"]
        assert handler.messages == [] and gate.messages == []
        gate.hold = False
        with Filter(flow, postfix.filter_port, gate_port) as again:
            postfix.flush()
            [got] = wait_until(lambda: arrived(handler, "alice@example.com"),
                               "the queued message delivered after the restart", 90)
            [record] = wait_until(again.records, "the filter's log line", 30)
    assert b"Subject: [EXTERNAL] Queued" in got.data
    assert b"CAUTION: external sender" in got.data and SECRET.encode() in got.data
    assert record["reply"] == "250"
    wait_until(lambda: postfix.queue() == [], "an empty queue")


def test_one_recipient_per_transaction_lets_postfix_bounce_per_recipient(flow: Path) -> None:
    """docs/smtp.md's `mimeops_destination_recipient_limit = 1`: Postfix's own DSN per recipient."""
    with sink() as (handler, port), Postfix(
            port, extra_main="mimeops_destination_recipient_limit = 1\n") as postfix, Filter(
            flow, postfix.filter_port, postfix.reinject_port) as proc:
        submit(postfix.smtp_port, "mallory@evil.example",
               ["alice@example.com", "blocked@example.com"], message())
        [dsn] = wait_until(lambda: arrived(handler, "mallory@evil.example"),
                           "Postfix's bounce for the blocked recipient", 60)
        [got] = wait_until(lambda: arrived(handler, "alice@example.com"),
                           "the message for the other recipient", 60)
        records = wait_until(lambda: len(proc.records()) == 2 and proc.records(),
                             "two transactions at the filter", 30)
    assert sorted(r["reply"] for r in records) == ["250", "550"]
    assert all(r["recipients"] == 1 for r in records)
    assert b"mimeops-dsn-" not in dsn.data  # Postfix wrote this one, not the filter
    assert b"blocked@example.com" in dsn.data and b"Nobody writes to blocked." in dsn.data
    assert b"CAUTION: external sender" in got.data


def test_the_smtp_bench_delivers_every_message_bannered(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """`make bench-smtp` in miniature: it counts what arrived, and checks the banner."""
    from bench import smtp

    assert smtp.main(["--messages", "4", "--levels", "1,2", "--budget", "60"]) == 0
    table = capsys.readouterr().out
    assert "| 1 |" in table and "| 2 |" in table and "| Postfix + mimeops |" in table


def test_a_stopped_filter_leaves_mail_queued_until_it_is_back(
        mta: tuple[Postfix, SinkHandler], flow: Path) -> None:
    """docs/smtp.md's claim for an operator: filter down, mail waits; filter up, it flows."""
    postfix, handler = mta
    handler.messages.clear()
    submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"],
           message(subject="While down"))
    wait_until(lambda: [m for m in postfix.queue() if m.get("queue_name") == "deferred"],
               "the message deferred while the filter is down", 60)
    assert handler.messages == []
    with Filter(flow, postfix.filter_port, postfix.reinject_port):
        postfix.flush()
        [got] = wait_until(lambda: arrived(handler, "alice@example.com"),
                           "the message once the filter is back", 90)
    assert b"Subject: [EXTERNAL] While down" in got.data and b"CAUTION" in got.data
    wait_until(lambda: postfix.queue() == [], "an empty queue")


def test_before_the_queue_the_client_sees_the_filter_reply(flow: Path) -> None:
    """docs/smtp.md's `smtpd_proxy_filter` block: 250 or the bounce's 550 at submission."""
    with sink() as (handler, port), Postfix(port, before_queue=True) as postfix, Filter(
            flow, postfix.filter_port, postfix.reinject_port) as proc:
        submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"], message())
        [got] = wait_until(lambda: arrived(handler, "alice@example.com"),
                           "the message through the proxy filter", 60)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            submit(postfix.smtp_port, "mallory@evil.example", ["alice@example.com"],
                   message(subject="BOUNCE-ME"))
        assert [r["reply"] for r in proc.records()] == ["250", "550"]
    assert b"CAUTION: external sender" in got.data and b"[EXTERNAL] Hello" in got.data
    assert refused.value.smtp_code == 550
    assert b"Policy: BOUNCE-ME is not allowed." in refused.value.smtp_error


def test_one_listener_per_direction_ignores_a_forged_internal_sender(flow: Path) -> None:
    """docs/smtp.md's per-direction block: the port decides the direction, not MAIL FROM."""
    forged = message(sender="jane@example.com")
    with sink() as (handler, port), Postfix(port, per_direction=True) as postfix, Filter(
            flow, postfix.filter_port, postfix.reinject_port, "--direction", "INBOUND"), Filter(
            flow, postfix.outbound_filter_port, postfix.reinject_port,
            "--direction", "OUTBOUND"):
        submit(postfix.smtp_port, "jane@example.com", ["alice@example.com"], forged)
        submit(postfix.submission_port, "jane@example.com", ["partner@other.example"],
               message(sender="jane@example.com", to="partner@other.example"))
        [inbound] = wait_until(lambda: arrived(handler, "alice@example.com"),
                               "the message from port 25", 60)
        [outbound] = wait_until(lambda: arrived(handler, "partner@other.example"),
                                "the message from submission", 60)
    assert b"-- filtered by mimeops" in inbound.data and b"X-Outbound" not in inbound.data
    assert b"X-Outbound: yes" in outbound.data
