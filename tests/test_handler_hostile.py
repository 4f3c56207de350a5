"""The handler on mail that is no message, bodies left bare, and output WorkMail would refuse.

Same set-up as test_handler: the emulator over HTTP, moto's S3 server, real boto3.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from mimeops.flow import core
from mimeops_emulator import LocalAWS
from mimeops_workmail import app
from mimeops_workmail.local import LocalContext
from tests.test_handler import DEFAULT, aws, env, event_for  # noqa: F401  (fixtures)

TOP = (b"From: Sender <s@outside.example.net>\r\nTo: jane.doe@example.com\r\n"
       b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nMessage-ID: <h@outside.example.net>\r\n"
       b"Subject: hi\r\n")


@pytest.fixture
def wm(env: LocalAWS) -> LocalAWS:  # noqa: F811
    """test_handler's environment: emulator, S3, the demo flow, metrics on."""
    return env


def _run(wm: LocalAWS, raw: bytes, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch, **changes: Any) -> tuple[dict[str, Any], str, str]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    event = event_for(wm, raw, **changes)
    response = app.lambda_handler(event, LocalContext())
    return response, str(event["messageId"]), capsys.readouterr().out


def _metrics(out: str) -> list[tuple[str, dict[str, Any]]]:
    """(metric name, the EMF blob) for every metric the handler emitted."""
    found = []
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            found.extend((m["Name"], blob) for m in directive["Metrics"])
    return found


JUNK = {"actions": [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]}


@pytest.mark.parametrize("raw", [b"", random.Random(3).randbytes(2048),
                                 b"no header here\r\njust text\r\n"])
def test_not_a_message_goes_to_junk_unchanged_with_its_reason(
        wm: LocalAWS, raw: bytes, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo flow's warning rule matched (the sender is outside): no warned output can
    be made of this, so the flow's fallback (junk) applies."""
    response, message_id, out = _run(wm, raw, capsys, monkeypatch)
    assert response == JUNK
    assert wm.emulator.puts(message_id) == []
    assert wm.emulator.message(message_id) == raw
    skipped = [blob for name, blob in _metrics(out) if name == "Skipped"]
    assert [blob["reason"] for blob in skipped] == ["not-a-message"]
    assert [blob["action"] for name, blob in _metrics(out) if name == "Fallback"] == ["junk"]


def test_bare_bodies_are_logged_and_counted_by_reason_and_the_lesser_rewrite_too(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (TOP + b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\nM86)C\r\nend\r\n")
    response, message_id, out = _run(wm, raw, capsys, monkeypatch)
    assert response == DEFAULT
    assert len(wm.emulator.puts(message_id)) == 1  # the banner went in front of it
    bare = [blob for name, blob in _metrics(out) if name == "Bare"]
    assert [blob["reason"] for blob in bare] == ["unknown transfer encoding"]
    assert [blob["rewrite"] for name, blob in _metrics(out)
            if name == "LesserRewrite"] == ["front"]


def test_output_workmail_would_refuse_is_never_put(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: were the engine's own check to let a bad message through, the
    handler's check before the Put stops it (the same rules the emulator enforces)."""
    monkeypatch.setattr(core, "structure_reason", lambda original, updated, known=None: None)
    raw = TOP + b"Date: Tue, 04 Mar 2025 10:00:00 +0000\r\n\r\nHello.\r\n"
    response, message_id, out = _run(wm, raw, capsys, monkeypatch)
    assert response == JUNK  # the warning cannot reach the reader: the flow's fallback
    assert wm.emulator.puts(message_id) == []
    assert wm.emulator.message(message_id) == raw
    invalid = [blob for name, blob in _metrics(out) if name == "Invalid"]
    assert [blob["reason"] for blob in invalid] == ["unique"]
    assert [blob["action"] for name, blob in _metrics(out) if name == "Fallback"] == ["junk"]


def test_a_rejected_update_of_warned_mail_goes_to_junk(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """WorkMail refuses the Put (MessageRejected): the message would arrive unwarned."""
    raw = TOP + b"\r\nHello.\r\n"
    event = event_for(wm, raw)
    wm.emulator.inject("rejected", op="put", message_id=str(event["messageId"]))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    response = app.lambda_handler(event, LocalContext())
    out = capsys.readouterr().out
    assert response == JUNK
    assert wm.emulator.message(str(event["messageId"])) == raw
    assert [blob["action"] for name, blob in _metrics(out) if name == "Fallback"] == ["junk"]


def test_no_warned_output_means_junk_a_fallback_metric_and_a_warning(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = TOP + b"From: ceo@example.com\r\n\r\nPay the invoice.\r\n"
    response, message_id, out = _run(wm, raw, capsys, monkeypatch)
    assert response == JUNK and wm.emulator.puts(message_id) == []
    assert [blob["action"] for name, blob in _metrics(out) if name == "Fallback"] == ["junk"]
    warnings = [r for r in caplog.records if "no warned output" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert warnings[0].fallback == "junk"  # type: ignore[attr-defined]
    assert warnings[0].reason.startswith(  # type: ignore[attr-defined]
        "invalid-output: unique header From appears 2")
    (applied,) = [r for r in caplog.records if r.getMessage() == "flow applied"]
    assert applied.fallback == "junk"  # type: ignore[attr-defined]


def test_an_unfoldable_line_no_longer_stops_the_warning(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = TOP + b"X-Blob: " + b"x" * 1500 + b"\r\n\r\nHello.\r\n"
    response, message_id, out = _run(wm, raw, capsys, monkeypatch)
    assert response == DEFAULT and len(wm.emulator.puts(message_id)) == 1
    assert b"CAUTION" in wm.emulator.message(message_id)
    assert not [blob for name, blob in _metrics(out) if name == "Skipped"]


def test_truncated_event_with_a_pathological_to_does_not_crash(
        wm: LocalAWS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    word = b"\r\n\t=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?="
    to = b'"test" <test@test.com>,' + word * 3000
    raw = (b"From: Sender <s@outside.example.net>\r\nTo: " + to + b"\r\nCc: " + b"( " * 2000
           + b"\r\nSubject: hi\r\n\r\nHello.\r\n")
    response, message_id, out = _run(wm, raw, capsys, monkeypatch, truncated=True)
    assert response == DEFAULT
    assert "processing failed" not in out
    assert len(wm.emulator.puts(message_id)) == 1
