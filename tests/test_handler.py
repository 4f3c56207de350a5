"""The Lambda handler end to end: emulator over HTTP, moto's S3 server, real boto3 clients."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimeops_emulator import LocalAWS
from mimeops_workmail import app, clients
from mimeops_workmail.local import LocalContext
from tests.held import Broken, Stuck

ROOT = Path(__file__).resolve().parent.parent
EVENT = json.loads((ROOT / "events" / "inbound-external.json").read_text())
RAW = (ROOT / "events" / "messages" / "external.eml").read_bytes()
FLOW = (ROOT / "examples" / "flows" / "demo.yaml").read_text()
DEFAULT = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as local:
        yield local


@pytest.fixture
def env(aws: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAWS]:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)  # a profile would override the dummy keys
    for key, value in aws.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIMEOPS_CONFIG", FLOW)
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "handler-test-key")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    app.reset()
    clients.client.cache_clear()
    yield aws
    aws.emulator.clear_faults()
    app.reset()
    clients.client.cache_clear()


def event_for(aws: LocalAWS, raw: bytes = RAW, **changes: object) -> dict[str, object]:
    event = copy.deepcopy(EVENT)
    event["messageId"] = aws.emulator.add_message(raw)
    event.update(changes)
    return event


def test_happy_path_updates_the_message_in_workmail(env: LocalAWS) -> None:
    event = event_for(env)
    response = app.lambda_handler(event, LocalContext())
    assert response == DEFAULT
    assert json.loads(json.dumps(response))["actions"][0]["allRecipients"] is True
    puts = env.emulator.puts(str(event["messageId"]))
    assert len(puts) == 1
    assert re.fullmatch(r"[a-zA-Z0-9\-/]+", puts[0]["key"])
    assert puts[0].get("objectVersion")  # the bucket is versioned: the version is pinned
    updated = env.emulator.message(str(event["messageId"]))
    assert b"CAUTION: external sender m.dupont@partner.example.net" in updated
    assert b"Subject: [EXTERNAL]" in updated


def test_retry_after_success_does_not_apply_twice(env: LocalAWS) -> None:
    event = event_for(env)
    app.lambda_handler(event, LocalContext())
    first = env.emulator.message(str(event["messageId"]))
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert env.emulator.puts(str(event["messageId"])).__len__() == 1
    assert env.emulator.message(str(event["messageId"])) == first


def test_unknown_message_id_answers_default(env: LocalAWS) -> None:
    event = copy.deepcopy(EVENT)
    event["messageId"] = "00000000-0000-0000-0000-00000000dead"
    assert app.lambda_handler(event, LocalContext()) == DEFAULT


@pytest.mark.parametrize("kind", ["frozen", "rejected"])
def test_put_refused_delivers_unchanged_to_junk(env: LocalAWS, kind: str) -> None:
    """The warned rewrite cannot be stored: the message stays as it was and gets the flow's
    fallback action (Junk), never the inbox unwarned."""
    event = event_for(env)
    env.emulator.inject(kind, op="put", message_id=str(event["messageId"]))
    assert app.lambda_handler(event, LocalContext()) == {
        "actions": [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]}
    assert env.emulator.message(str(event["messageId"])) == RAW


def test_transient_5xx_is_retried_within_the_budget(env: LocalAWS) -> None:
    event = event_for(env)
    env.emulator.inject("error5xx", op="get", message_id=str(event["messageId"]), times=1)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert len(env.emulator.puts(str(event["messageId"]))) == 1


@pytest.mark.parametrize("bad", [
    {}, {"summaryVersion": "2018-10-10"}, "not an event",
    {**EVENT, "flowDirection": "SIDEWAYS"}, {**EVENT, "messageId": "UPPER.case"},
])
def test_malformed_event_answers_default(env: LocalAWS, bad: object) -> None:
    assert app.lambda_handler(bad, LocalContext()) == DEFAULT


def test_invalid_flow_delivers_unchanged(env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMEOPS_CONFIG", "rules:\n  - name: r\n    apply: [{nope: 1}]\n")
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert env.emulator.puts(str(event["messageId"])) == []


@pytest.mark.slow  # waits the 2.5 s deadline out
def test_slow_get_still_answers_before_the_deadline(env: LocalAWS) -> None:
    event = event_for(env)
    env.emulator.inject("latency", op="get", message_id=str(event["messageId"]), seconds=6)
    started = time.monotonic()
    response = app.lambda_handler(event, LocalContext(timeout_ms=4000))
    assert response == DEFAULT
    assert time.monotonic() - started < 4.0


def warning_flow(transform: object, on_error: str = "deliver") -> dict[str, object]:
    return {"internal_domains": ["example.com"], "on_error": on_error, "rules": [
        {"name": "external-warning", "when": {"direction": "INBOUND", "sender": "external"},
         "apply": [{"banner": "CAUTION: external sender"}, {"subject_prefix": "[EXTERNAL]"},
                   transform]}]}


JUNK = {"actions": [{"action": {"type": "MOVE_TO_JUNK"}, "allRecipients": True}]}


def test_a_rewrite_past_the_deadline_answers_the_fallback_not_the_inbox(env: LocalAWS) -> None:
    """A sender who makes the rewrite slower than the deadline does not get the message
    delivered unwarned: the flow's fallback action (Junk) answers in time."""
    stuck = Stuck()
    app.reset(flow=warning_flow(stuck))
    event = event_for(env)
    started = time.monotonic()
    try:
        response = app.lambda_handler(event, LocalContext(timeout_ms=2_000))
    finally:
        stuck.release.set()
    assert response == JUNK
    assert time.monotonic() - started < 2.0
    assert env.emulator.puts(str(event["messageId"])) == []
    assert env.emulator.message(str(event["messageId"])) == RAW


@pytest.mark.parametrize("sender", ["m.dupont@partner.example.net", "jane.doe@example.com"])
def test_a_deadline_before_the_rules_are_matched_answers_the_fallback(
        env: LocalAWS, sender: str) -> None:
    """Before its rules are matched, any message may be one a warning matches: at the
    deadline the flow's fallback answers (a colleague's mail too: only mail that takes
    the whole deadline to read gets there)."""
    stuck = Stuck()
    flow = warning_flow({"subject_prefix": "[X]"})
    flow["rules"] = [{**flow["rules"][0], "when": {"custom": stuck}}]  # type: ignore[index]
    app.reset(flow=flow)
    raw = RAW.replace(b"m.dupont@partner.example.net", sender.encode())
    event = event_for(env, raw, envelope={"mailFrom": {"address": sender},
                                          "recipients": [{"address": "john.smith@example.com"}]})
    try:
        response = app.lambda_handler(event, LocalContext(timeout_ms=2_000))
    finally:
        stuck.release.set()
    assert response == JUNK
    assert env.emulator.puts(str(event["messageId"])) == []


@pytest.mark.parametrize(("sender", "expected"), [
    ("m.dupont@partner.example.net", JUNK),   # a rule that warns matched: its fallback
    ("jane.doe@example.com", DEFAULT),        # none did: delivered unchanged, as before
])
def test_a_fault_in_the_rewrite_answers_the_fallback_when_a_warning_matched(
        env: LocalAWS, sender: str, expected: dict[str, object]) -> None:
    app.reset(flow=warning_flow(Broken()))
    raw = RAW.replace(b"m.dupont@partner.example.net", sender.encode())
    event = event_for(env, raw, envelope={"mailFrom": {"address": sender},
                                          "recipients": [{"address": "john.smith@example.com"}]})
    assert app.lambda_handler(event, LocalContext()) == expected
    assert env.emulator.puts(str(event["messageId"])) == []


def test_a_fault_before_the_rules_are_matched_follows_on_error(env: LocalAWS) -> None:
    """A condition that fails (a directory that cannot answer is one) is the flow's
    `on_error`, as before: nothing matched yet, so no fallback applies."""
    flow = warning_flow({"subject_prefix": "[X]"})
    flow["rules"] = [{**flow["rules"][0], "when": {"custom": Broken()}}]  # type: ignore[index]
    app.reset(flow=flow)
    assert app.lambda_handler(event_for(env), LocalContext()) == DEFAULT


def test_under_on_error_retry_a_fault_after_a_warning_matched_still_retries(
        env: LocalAWS) -> None:
    app.reset(flow=warning_flow(Broken(), on_error="retry"))
    with pytest.raises(app.RetryRequested):
        app.lambda_handler(event_for(env), LocalContext())


def test_missing_bucket_delivers_unchanged(env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    """The update cannot be stored: unchanged, and to Junk, since the demo flow's
    warning matched this message from outside (never the inbox unwarned); a message
    no warning matched goes to the inbox unchanged."""
    monkeypatch.setenv("MIMEOPS_BUCKET", "no-such-bucket")
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == JUNK
    assert env.emulator.message(str(event["messageId"])) == RAW
    monkeypatch.setenv("MIMEOPS_CONFIG", "rules:\n  - name: tag\n    apply:\n"
                       "      - add_header: {name: X-Seen, value: 'yes'}\n")
    app.reset()
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert env.emulator.message(str(event["messageId"])) == RAW


def test_on_error_retry_raises_so_workmail_retries(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMEOPS_CONFIG", "on_error: retry\n" + FLOW)
    event = event_for(env)
    env.emulator.inject("error5xx", op="any", message_id=str(event["messageId"]), times=-1)
    with pytest.raises(app.RetryRequested):
        app.lambda_handler(event, LocalContext())


def test_a_flow_needing_a_directory_without_one_fails_once_at_load_never_retried(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A permanent configuration error: reported (one log line, one count) when the flow
    is read, not for every message; each message is delivered unchanged, and even under
    `on_error: retry` WorkMail is never asked to retry (it would fail the same way)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("MIMEOPS_CONFIG", "on_error: retry\ninternal_domains: [example.com]\n"
                       "rules:\n  - name: legal\n    when: {sender_group: legal}\n"
                       "    apply: [{footer: Confidential.}]\n")
    events = [event_for(env) for _ in range(3)]
    for event in events:
        assert app.lambda_handler(event, LocalContext()) == DEFAULT
        assert env.emulator.puts(str(event["messageId"])) == []
    errors = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].getMessage().startswith("invalid flow")
    said = str(errors[0].__dict__.get("error"))
    assert "rule 'legal' uses the directory" in said and "directory: workmail" in said
    counted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    assert [m.get("what") for m in counted if "ConfigReadFailed" in m] == ["flow-invalid"]
    assert not any("Failed" in m for m in counted)


def test_truncated_event_takes_recipients_from_headers(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = ("rules:\n  - name: b\n"
            "    action: {type: BOUNCE, message: 'no', recipients: john.smith@example.com}\n")
    event = event_for(env, truncated=True)
    event["envelope"] = {"mailFrom": {"address": "m.dupont@partner.example.net"},
                         "recipients": [{"address": "jane.doe@example.com"}]}
    monkeypatch.setenv("MIMEOPS_CONFIG", flow)
    response = app.lambda_handler(event, LocalContext())
    assert response["actions"][0] == {"action": {"type": "BOUNCE",
                                                 "parameters": {"bounceMessage": "no"}},
                                      "recipients": ["john.smith@example.com"]}


def test_throttling_is_retried_within_the_budget(env: LocalAWS) -> None:
    event = event_for(env)
    env.emulator.inject("throttle", op="put", message_id=str(event["messageId"]), times=1)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert len(env.emulator.puts(str(event["messageId"]))) == 1


@pytest.mark.slow  # runs the whole 13.5 s budget out
def test_twenty_second_get_answers_within_workmail_limit(env: LocalAWS) -> None:
    event = event_for(env)
    env.emulator.inject("latency", op="get", message_id=str(event["messageId"]),
                        seconds=20, times=-1)
    started = time.monotonic()
    response = app.lambda_handler(event, LocalContext(timeout_ms=15_000))
    elapsed = time.monotonic() - started
    assert response == DEFAULT
    assert elapsed < 15.0


def test_flow_from_ssm_parameter(env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    boto3.client("ssm").put_parameter(Name="/mimeops/flow", Type="String", Overwrite=True,
                                      Value="rules:\n  - name: tag\n    apply: "
                                            "[{subject_prefix: '[SSM]'}]\n")
    monkeypatch.setenv("MIMEOPS_CONFIG", "ssm:/mimeops/flow")
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert b"Subject: [SSM] " in env.emulator.message(str(event["messageId"]))


def test_internal_domains_from_workmail(env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    org = "m-" + "0123456789abcdef" * 2
    env.emulator.add_organization(org, ["example.com", "partner.example.net"])
    monkeypatch.setenv("MIMEOPS_CONFIG", f"organization_id: {org}\n" + FLOW)
    event = event_for(env)  # from partner.example.net: internal for this organization
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert env.emulator.puts(str(event["messageId"])) == []


def test_metrics_and_logs_carry_no_message_content(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    event = event_for(env)
    app.lambda_handler(event, LocalContext())
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for blob in emf for d in blob["_aws"]["CloudWatchMetrics"]
             for m in d["Metrics"]}
    assert {"Processed", "Modified", "MessageBytes", "Latency"} <= names
    assert "partner.example.net" not in out and "Lieferplan" not in out
    assert "Hallo Jane" not in out


@pytest.mark.parametrize("store", ["secretsmanager", "ssm"])
def test_marker_key_from_secrets_manager_or_ssm(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    import boto3

    monkeypatch.delenv("MIMEOPS_MARKER_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", env.s3_endpoint)  # moto: all services
    if store == "secretsmanager":
        client = boto3.client("secretsmanager")
        client.create_secret(Name="mimeops-marker-test", SecretString="k" * 32)
        monkeypatch.setenv("MIMEOPS_MARKER_KEY_SECRET", "mimeops-marker-test")
        key = b"k" * 32
    else:
        boto3.client("ssm").put_parameter(Name="/mimeops/marker", Type="SecureString",
                                          Value="s" * 32, Overwrite=True)
        monkeypatch.setenv("MIMEOPS_MARKER_KEY_SECRET", "ssm:/mimeops/marker")
        key = b"s" * 32
    event = event_for(env)
    app.lambda_handler(event, LocalContext())
    updated = env.emulator.message(str(event["messageId"]))
    # The marker verifies with that key, and only with that key.
    from mimeops import Envelope, load_flow

    retry = Envelope("INBOUND", "m.dupont@partner.example.net", ["jane.doe@example.com"])
    assert not load_flow(FLOW, marker_key=key).apply(updated, retry).changed
    assert load_flow(FLOW, marker_key=b"other").apply(updated, retry).changed


def test_invalid_flow_is_logged_once_per_container(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MIMEOPS_CONFIG", "rules: nope\n")
    for _ in range(3):
        assert app.lambda_handler(event_for(env), LocalContext()) == DEFAULT
    said = [r for r in caplog.records if "invalid flow" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR"


@pytest.mark.parametrize("enabled", [True, False])
def test_tracer_is_imported_only_when_enabled(enabled: bool) -> None:
    import os
    import subprocess
    import sys

    code = ("import sys, handlers.app as app; from mimeops_workmail.local import LocalContext;"
            "print(app.lambda_handler({}, LocalContext())['actions'][0]['action']['type'],"
            " 'aws_xray_sdk' in sys.modules)")
    env_vars = {**os.environ, "MIMEOPS_TRACING": "true" if enabled else "false",
                "POWERTOOLS_METRICS_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env_vars, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.split()[-2:] == ["DEFAULT", str(enabled)]


@pytest.mark.parametrize("config", [
    "examples/flows/demo.yaml",                     # a path inside the package
    '{"rules": [{"name": "t", "apply": [{"subject_prefix": "[T]"}]}]}',
    "internal_domains: [example.com]\nrules: [{name: t, apply: [{subject_prefix: '[T]'}]}]",
    "--- {rules: [{name: t, apply: [{subject_prefix: '[T]'}]}]}",
])
def test_config_as_package_path_or_inline_text(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, config: str
) -> None:
    monkeypatch.setenv("MIMEOPS_CONFIG", config)
    monkeypatch.chdir("/")  # a package path must not depend on the working directory
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert len(env.emulator.puts(str(event["messageId"]))) == 1


def test_a_flow_file_missing_from_the_package_says_how_to_package_it(
    env: LocalAWS, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """FlowConfig=flow.yaml with no FLOW given to the build: mail flows unchanged, and the
    log line says how to package the flow (the flow-read alarm fires on its metric)."""
    monkeypatch.setenv("MIMEOPS_CONFIG", "flow.yaml")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.chdir("/")
    event = event_for(env)
    assert app.lambda_handler(event, LocalContext()) == DEFAULT
    assert env.emulator.puts(str(event["messageId"])) == []
    (said,) = [r for r in caplog.records if "invalid flow" in r.getMessage()]
    error = said.__dict__["error"]
    assert error.startswith("MIMEOPS_CONFIG=flow.yaml: no such file in the deployment package")
    assert "make sam-build FLOW=path/to/flow.yaml" in error
    out = capsys.readouterr().out
    reads = [json.loads(line) for line in out.splitlines() if '"ConfigReadFailed"' in line]
    assert [blob["what"] for blob in reads] == ["flow-invalid"]
