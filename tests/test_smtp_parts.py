"""The SMTP filter's pure parts: the per-recipient plan, settings parsing, DSN details."""

from __future__ import annotations

import pytest

from mimeops import ActionType, Envelope, RecipientAction, load_flow
from mimeops_smtp.dsn import ascii_line, header_block, status
from mimeops_smtp.plan import plan
from mimeops_smtp.relay import Reply, options
from mimeops_smtp.server import with_header, xtext
from mimeops_smtp.settings import Settings, header_line, host_port

FLOW = """\
internal_domains: [example.com]
rules:
  - name: junk
    when: {direction: INBOUND}
    action: {type: MOVE_TO_JUNK, recipients: [junk@example.com]}
  - name: drop
    action: {type: DROP, recipients: ["*.drop.example"]}
  - name: bounce
    action: {type: BOUNCE, message: "No.", recipients: [Blocked@Example.com]}
  - name: bypass
    when: {direction: INBOUND}
    action: {type: BYPASS_SPAM_CHECK, recipients: [vip@example.com]}
"""
RAW = b"From: a@evil.example\r\nTo: x@example.com\r\nSubject: s\r\n\r\nbody\r\n"


def test_each_recipient_gets_the_fate_its_rule_chose_as_spelled_in_rcpt_to() -> None:
    rcpts = ["JUNK@example.com", "a@sub.drop.example", "blocked@EXAMPLE.COM",
             "vip@example.com", "plain@example.com"]
    result = load_flow(FLOW).apply(RAW, Envelope("INBOUND", "a@evil.example", rcpts))
    fates = plan(result.recipient_actions, rcpts)
    assert fates.junk == ["JUNK@example.com"]
    assert fates.drop == ["a@sub.drop.example"]
    assert fates.bounce == {"blocked@EXAMPLE.COM": "No."}
    assert fates.deliver == ["vip@example.com", "plain@example.com"]


def test_a_blanket_action_covers_everybody_not_named() -> None:
    actions = [RecipientAction(ActionType.DROP, ("a@example.com",)),
               RecipientAction.everyone(ActionType.BOUNCE, "Go.")]
    fates = plan(actions, ["a@example.com", "b@example.com"])
    assert (fates.drop, fates.bounce, fates.deliver) == (
        ["a@example.com"], {"b@example.com": "Go."}, [])


@pytest.mark.parametrize(("text", "pair"), [
    ("127.0.0.1:10025", ("127.0.0.1", 10025)),
    ("[::1]:10025", ("::1", 10025)),
    ("localhost:0", ("localhost", 0)),
])
def test_host_port(text: str, pair: tuple[str, int]) -> None:
    assert host_port(text, "--listen") == pair


@pytest.mark.parametrize("text", ["10025", "host:", ":25", "host:70000", "host:x"])
def test_bad_host_port_names_the_option(text: str) -> None:
    with pytest.raises(ValueError, match="--next-hop: expected HOST:PORT"):
        host_port(text, "--next-hop")


def test_junk_header_is_one_valid_field() -> None:
    assert header_line("X-Spam-Flag: YES") == ("X-Spam-Flag", "YES")
    for bad in ("no colon", ": v", "Bad Name: v", "X: a\r\nBcc: x@y"):
        with pytest.raises(ValueError, match="--junk-header"):
            header_line(bad)
    assert with_header(RAW, "X-Spam-Flag", "YES").startswith(b"X-Spam-Flag: YES\r\nFrom:")


def test_settings_refuse_nonsense_limits() -> None:
    base = {"listen": ("127.0.0.1", 0), "next_hop": ("127.0.0.1", 25)}
    for field, value in (("concurrency", 0), ("flow_timeout", 0), ("direction", "SIDEWAYS")):
        with pytest.raises(ValueError):
            Settings(**base, **{field: value})  # type: ignore[arg-type]


def test_dsn_helpers() -> None:
    assert status(Reply(550, "5.1.1 no such user")) == "5.1.1"
    assert status(Reply(554, "rejected")) == "5.0.0"
    assert ascii_line("Zürich\r\nBcc: x") == "Z?rich Bcc: x"
    assert header_block(RAW) == b"From: a@evil.example\r\nTo: x@example.com\r\nSubject: s"
    assert xtext("4Q1+2Bx+3D") == "4Q1+x="
    assert options(["BODY=8BITMIME", "SIZE=123", "smtputf8", "RET=HDRS"]) == [
        "BODY=8BITMIME", "SMTPUTF8"]


def test_a_bug_in_the_filter_is_a_451_and_one_log_line(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from aiosmtpd.smtp import Envelope as SMTPEnvelope

    from mimeops_smtp import server

    def broken(*args: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server, "plan", broken)
    envelope = SMTPEnvelope()
    envelope.mail_from, envelope.rcpt_tos, envelope.original_content = (
        "a@evil.example", ["x@example.com"], RAW)
    settings = Settings(("127.0.0.1", 0), ("127.0.0.1", 9))

    async def one() -> str:
        with ThreadPoolExecutor(2) as pool:
            handler = server.FilterHandler(load_flow(FLOW), settings, pool)
            return await handler.handle_DATA(
                SimpleNamespace(), SimpleNamespace(peer=("127.0.0.1", 1)), envelope)  # type: ignore[arg-type]

    # A thread of its own: a Playwright page earlier in the session may hold this thread's loop.
    with caplog.at_level("INFO", logger="mimeops.smtp"), ThreadPoolExecutor(1) as runner:
        reply = runner.submit(asyncio.run, one()).result(timeout=60)
    assert reply.startswith("451 ")
    [line] = caplog.messages
    assert '"error":"RuntimeError"' in line and '"reply":"451"' in line
