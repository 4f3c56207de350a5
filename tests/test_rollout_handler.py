"""Audit mode in the Lambda handler: nothing Put, DEFAULT answered, logged and counted per rule."""

from __future__ import annotations

import json
import sys

import pytest

from mimeops_emulator import LocalAWS
from mimeops_workmail import app
from mimeops_workmail.local import LocalContext
from tests import test_handler
from tests.test_handler import DEFAULT, RAW, event_for

aws, env = test_handler.aws, test_handler.env  # the handler tests' fixtures

FLOW = """\
internal_domains: [example.com]
rules:
  - name: trial-warning
    mode: audit
    when: {direction: INBOUND, sender: external}
    apply: [{banner: {text: "CAUTION"}}, {subject_prefix: "[EXT]"}]
  - name: trial-junk
    mode: audit
    when: {direction: INBOUND}
    action: MOVE_TO_JUNK
"""


def emf_counts(out: str) -> dict[tuple[str, str], float]:
    """(metric name, rule dimension) -> value, from the EMF blobs on stdout."""
    counts: dict[tuple[str, str], float] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                value = blob[name]
                total = sum(value) if isinstance(value, list) else value
                counts[(name, blob.get("rule", ""))] = total
    return counts


def run(env: LocalAWS, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        flow: str) -> tuple[dict[str, object], str, str]:
    monkeypatch.setenv("MIMEOPS_CONFIG", flow)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # The logger keeps the stream it was created with; point it at this test's stdout.
    monkeypatch.setattr(app.logger.registered_handler, "stream", sys.stdout)
    event = event_for(env)
    response = app.lambda_handler(event, LocalContext())
    return response, str(event["messageId"]), capsys.readouterr().out


def test_audit_rules_change_nothing_and_are_logged_and_counted(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    response, message_id, out = run(env, monkeypatch, capsys, FLOW)
    assert response == DEFAULT
    assert env.emulator.puts(message_id) == []
    assert env.emulator.message(message_id) == RAW
    counts = emf_counts(out)
    assert counts[("RuleAudited", "trial-warning")] == 1
    assert counts[("RuleAudited", "trial-junk")] == 1
    assert not any(name == "RuleApplied" for name, _ in counts)
    logs = [json.loads(line) for line in out.splitlines()
            if line.startswith("{") and '"_aws"' not in line]
    (audit,) = [log for log in logs if str(log.get("message")).startswith("audit rules")]
    assert audit["audited"] == ["trial-warning:banner", "trial-warning:subject_prefix",
                                "trial-junk:MOVE_TO_JUNK"]


def test_enforced_rules_are_counted_per_rule(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    flow = FLOW + """\
  - name: tag
    when: {sender: external}
    apply: [{add_header: {name: X-Tag, value: "external"}}]
  - name: never
    when: {direction: OUTBOUND}
    action: DROP
"""
    response, message_id, out = run(env, monkeypatch, capsys, flow)
    assert response == DEFAULT
    assert len(env.emulator.puts(message_id)) == 1
    updated = env.emulator.message(message_id)
    assert b"X-Tag: external" in updated and b"CAUTION" not in updated
    counts = emf_counts(out)
    assert counts[("RuleApplied", "tag")] == 1
    assert ("RuleApplied", "never") not in counts
    assert counts[("RuleAudited", "trial-warning")] == 1
