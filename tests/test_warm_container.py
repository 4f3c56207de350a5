"""The handler in a long-lived container: moto SSM / Secrets Manager, the emulator over
HTTP, real boto3 clients and a frozen clock (no sleeps) for MIMEOPS_CONFIG_TTL."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import boto3
import pytest

from mimeops import Envelope, load_flow
from mimeops_emulator import LocalAWS
from mimeops_workmail import app, clients, refresh
from mimeops_workmail.invocation import Expired, Invocation
from mimeops_workmail.local import LocalContext
from tests.clock import Clock
from tests.test_handler import DEFAULT, event_for

PARAM = "/mimeops/warm/flow"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused


def tag_flow(tag: str) -> str:
    return f"rules:\n  - name: tag\n    apply: [{{subject_prefix: '[{tag}]'}}]\n"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalAWS]:
    with LocalAWS() as local:
        yield local


@pytest.fixture
def warm(stack: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalAWS, Clock]]:
    aws = stack
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "MIMEOPS_ON_ERROR",
                "MIMEOPS_MARKER_KEY_SECRET", "MIMEOPS_CONFIG_TTL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in aws.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws.s3_endpoint)  # moto: all services
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "warm-test-key")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("MIMEOPS_CONFIG_TTL", "60")
    monkeypatch.setenv("MIMEOPS_CONFIG", "ssm:" + PARAM)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=PARAM, Type="String", Overwrite=True, Value=tag_flow("V1"))
    clients.client.cache_clear()
    clock = Clock()
    app.reset(clock)
    yield aws, clock
    aws.emulator.clear_faults()
    app.reset()
    clients.client.cache_clear()


def run(aws: LocalAWS, **context: int) -> tuple[dict[str, object], bytes | None]:
    """One invocation; the response and the message WorkMail now holds (None: no Put)."""
    event = event_for(aws)
    response = app.lambda_handler(event, LocalContext(**context))
    message_id = str(event["messageId"])
    return response, aws.emulator.message(message_id) if aws.emulator.puts(message_id) else None


def subject_tag(message: bytes | None) -> str | None:
    if message is None:
        return None
    line = next(ln for ln in message.split(b"\n") if ln.startswith(b"Subject:"))
    return line.split(b"[", 1)[1].split(b"]", 1)[0].decode() if b"[" in line else ""


def put_flow(text: str) -> None:
    boto3.client("ssm").put_parameter(Name=PARAM, Type="String", Overwrite=True, Value=text)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_changed_parameter_applies_after_the_ttl(warm: tuple[LocalAWS, Clock]) -> None:
    aws, clock = warm
    assert subject_tag(run(aws)[1]) == "V1"
    put_flow(tag_flow("V2"))
    clock.now += 59
    assert subject_tag(run(aws)[1]) == "V1"  # within the TTL: the flow read at cold start
    clock.now += 2
    assert subject_tag(run(aws)[1]) == "V2"
    assert subject_tag(run(aws)[1]) == "V2"


def test_default_ttl_is_300_seconds(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, clock = warm
    monkeypatch.delenv("MIMEOPS_CONFIG_TTL")
    app.reset(clock)
    assert subject_tag(run(aws)[1]) == "V1"
    put_flow(tag_flow("V2"))
    clock.now += 299
    assert subject_tag(run(aws)[1]) == "V1"
    clock.now += 2
    assert subject_tag(run(aws)[1]) == "V2"


def test_ssm_failing_at_cold_start_delivers_then_heals_next_invocation(
    warm: tuple[LocalAWS, Clock], caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws, _ = warm
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    boto3.client("ssm").delete_parameter(Name=PARAM)
    for _ in range(2):  # never a cached failure: each invocation reads again
        response, written = run(aws)
        assert response == DEFAULT and written is None
    said = [r for r in caplog.records if "cannot read flow" in r.getMessage()]
    assert len(said) == 2 and "ParameterNotFound" in str(said[0].__dict__.get("error"))
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("what") for m in emf if "ConfigReadFailed" in m] == ["flow", "flow"]
    put_flow(tag_flow("BACK"))
    assert subject_tag(run(aws)[1]) == "BACK"  # the very next invocation, clock unchanged


def test_ssm_unreachable_at_cold_start_delivers_unchanged(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, _ = warm
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", UNREACHABLE)
    clients.client.cache_clear()
    response, written = run(aws)
    assert response == DEFAULT and written is None
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", aws.s3_endpoint)
    clients.client.cache_clear()
    assert subject_tag(run(aws)[1]) == "V1"


def test_failed_reread_keeps_the_last_good_flow(
    warm: tuple[LocalAWS, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    aws, clock = warm
    assert subject_tag(run(aws)[1]) == "V1"
    boto3.client("ssm").delete_parameter(Name=PARAM)
    clock.now += 61
    assert subject_tag(run(aws)[1]) == "V1"
    assert any("cannot read flow; keeping the last good one" in m for m in errors(caplog))
    caplog.clear()
    put_flow(tag_flow("V2"))
    assert subject_tag(run(aws)[1]) == "V1"  # not hammered: next try after RETRY_AFTER
    assert errors(caplog) == []
    clock.now += refresh.RETRY_AFTER
    assert subject_tag(run(aws)[1]) == "V2"


def test_invalid_new_flow_keeps_the_last_good_one(
    warm: tuple[LocalAWS, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    aws, clock = warm
    assert subject_tag(run(aws)[1]) == "V1"
    put_flow("rules:\n  - name: tag\n    apply: [{subject_prefx: x}]\n")
    clock.now += 61
    assert subject_tag(run(aws)[1]) == "V1"
    said = [m for m in errors(caplog) if "invalid flow; keeping the last good one" in m]
    assert len(said) == 1
    record = next(r for r in caplog.records if "invalid flow" in r.getMessage())
    assert "subject_prefx" in str(record.__dict__.get("error"))


def test_invalid_flow_at_cold_start_delivers_and_a_fix_arrives(
    warm: tuple[LocalAWS, Clock]
) -> None:
    aws, clock = warm
    put_flow("rules: nope\n")
    assert run(aws) == (DEFAULT, None)
    put_flow(tag_flow("FIXED"))
    clock.now += refresh.RETRY_AFTER
    assert subject_tag(run(aws)[1]) == "FIXED"


@pytest.mark.parametrize(("fallback", "raises"), [(None, False), ("deliver", False),
                                                  ("retry", True)])
def test_on_error_before_any_flow_was_read_comes_from_the_environment(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch,
    fallback: str | None, raises: bool,
) -> None:
    aws, clock = warm
    if fallback:
        monkeypatch.setenv("MIMEOPS_ON_ERROR", fallback)
    app.reset(clock)
    boto3.client("ssm").delete_parameter(Name=PARAM)
    if raises:
        with pytest.raises(app.RetryRequested):
            run(aws)
    else:
        assert run(aws) == (DEFAULT, None)


def test_on_error_retry_env_never_turns_an_invalid_flow_into_a_crash_loop(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, clock = warm
    monkeypatch.setenv("MIMEOPS_ON_ERROR", "retry")
    app.reset(clock)
    put_flow("rules: nope\n")
    assert run(aws) == (DEFAULT, None)


def test_flow_in_force_decides_on_error_when_the_key_cannot_be_read(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, _ = warm
    put_flow("on_error: retry\n" + tag_flow("R"))
    monkeypatch.delenv("MIMEOPS_MARKER_KEY")
    monkeypatch.setenv("MIMEOPS_MARKER_KEY_SECRET", "mimeops/warm/no-such-secret")
    with pytest.raises(app.RetryRequested):
        run(aws)


@pytest.mark.parametrize("where", ["missing", "unreachable"])
def test_marker_secret_failure_answers_default_then_heals(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, where: str,
) -> None:
    aws, _ = warm
    name = f"mimeops/warm/key-{where}"
    monkeypatch.delenv("MIMEOPS_MARKER_KEY")
    monkeypatch.setenv("MIMEOPS_MARKER_KEY_SECRET", name)
    if where == "unreachable":
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", UNREACHABLE)
        clients.client.cache_clear()
    for _ in range(3):
        assert run(aws) == (DEFAULT, None)  # never an exception out of the handler
    assert any("cannot read marker key" in m for m in errors(caplog))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws.s3_endpoint)
    clients.client.cache_clear()
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name=name, SecretString="warm-secret-key")
    try:
        response, written = run(aws)
        assert response == DEFAULT and subject_tag(written) == "V1"
    finally:
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_rotated_marker_key_is_used_after_the_ttl(
    warm: tuple[LocalAWS, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, clock = warm
    name = "mimeops/warm/rotating"
    monkeypatch.delenv("MIMEOPS_MARKER_KEY")
    monkeypatch.setenv("MIMEOPS_MARKER_KEY_SECRET", name)
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name=name, SecretString="old-key")
    retry = Envelope("INBOUND", "m.dupont@partner.example.net", ["jane.doe@example.com"])
    flow = tag_flow("V1")
    try:
        first = run(aws)[1]
        assert first is not None
        assert not load_flow(flow, marker_key=b"old-key").apply(first, retry).changed
        secrets.put_secret_value(SecretId=name, SecretString="new-key old-key")
        clock.now += 61
        second = run(aws)[1]
        assert second is not None
        assert not load_flow(flow, marker_key=b"new-key").apply(second, retry).changed
        assert load_flow(flow, marker_key=b"old-key").apply(second, retry).changed
    finally:
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def _join_workers() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("mimeops-worker-"):
            thread.join(30)
            assert not thread.is_alive()


@pytest.mark.slow  # waits a deadline out
def test_timed_out_worker_cannot_put_log_or_count(
    warm: tuple[LocalAWS, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    aws, _ = warm
    event = event_for(aws)
    message_id = str(event["messageId"])
    # GET answers after 3 s; the handler's budget is 3 s - 1.5 s margin.
    aws.emulator.inject("latency", op="get", message_id=message_id, seconds=3, times=1)
    assert app.lambda_handler(event, LocalContext(timeout_ms=3000)) == DEFAULT
    caplog.clear()
    app.metrics.clear_metrics()
    _join_workers()  # the worker got the message late, applied the flow, reached the Put
    assert aws.emulator.puts(message_id) == []
    assert aws.emulator.message(message_id) == aws.emulator.original(message_id)
    assert [r.getMessage() for r in caplog.records] == []
    assert app.metrics.metric_set == {}


def test_put_and_deadline_check_are_one_step() -> None:
    scope = Invocation(app.logger, app.metrics)
    inside, release = threading.Event(), threading.Event()

    def put() -> None:
        with scope.step():
            inside.set()
            release.wait(30)

    worker = threading.Thread(target=put)
    worker.start()
    assert inside.wait(30)
    assert scope.close(wait=0.05) is False  # a Put under way: the handler cannot wait it out
    release.set()
    worker.join(30)
    with pytest.raises(Expired), scope.step():
        pass  # after the answer no Put starts
    fresh = Invocation(app.logger, app.metrics)
    assert fresh.close(wait=0) is True
    with pytest.raises(Expired):
        fresh.check()


@pytest.mark.slow  # waits a deadline out
def test_put_under_way_at_the_deadline_is_waited_for_and_answered(
    warm: tuple[LocalAWS, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    aws, _ = warm
    run(aws)  # warm: flow read, clients made, so the Put starts at once
    event = event_for(aws)
    message_id = str(event["messageId"])
    # Budget 4.5 s - 1.5 s = 3 s; the Put starts almost at once and takes 3.2 s: it is
    # under way at the deadline and ends within the handler's grace (1 s).
    aws.emulator.inject("latency", op="put", message_id=message_id, seconds=3.2, times=1)
    caplog.clear()
    assert app.lambda_handler(event, LocalContext(timeout_ms=4500)) == DEFAULT
    said = [r.getMessage() for r in caplog.records]
    # Said by the worker (if it got the lock back first) or by the handler: never both.
    assert ("message updated" in said) != ("message updated as the deadline passed" in said)
    assert "processing failed" not in said
    assert len(aws.emulator.puts(message_id)) == 1
    _join_workers()
