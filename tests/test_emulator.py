"""mimeops_emulator through real boto3 clients over HTTP (no mocks, no stubs).

One LocalAWS (moto S3 server + emulator) is shared by the module; each test adds its
own messages and S3 keys, and faults/request logs are reset around every test.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mimeops_emulator import Emulator, LocalAWS

REPO = Path(__file__).resolve().parents[1]
ORG_ID = "m-0123456789abcdef0123456789abcdef"

ORIGINAL = (
    b"Return-Path: <alice@example.net>\r\n"
    b"From: Alice Example <alice@example.net>\r\n"
    b"To: Bob <bob@example.com>\r\n"
    b"Subject: Quarterly numbers\r\n"
    b"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n"
    b"Message-ID: <abc123@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"H\xc3\xa9llo Bob\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Hello Bob</p>\r\n"
    b"--b1--\r\n"
)

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
THREE_ATTEMPTS = Config(retries={"mode": "standard", "total_max_attempts": 3})


def edit(old: bytes, new: bytes, raw: bytes = ORIGINAL) -> bytes:
    """ORIGINAL with one exact fragment replaced (fails loudly if it is absent)."""
    assert old in raw, old
    return raw.replace(old, new, 1)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS(bucket="emulator-tests") as local:
        yield local


@pytest.fixture
def emu(aws: LocalAWS) -> Iterator[Emulator]:
    aws.emulator.clear_faults()
    aws.emulator.clear_requests()
    yield aws.emulator
    aws.emulator.clear_faults()


@pytest.fixture(scope="module")
def flow(aws: LocalAWS) -> Any:
    """Message Flow client that never retries, so each call is one HTTP request."""
    return aws.client("workmailmessageflow", config=NO_RETRY)


@pytest.fixture(scope="module")
def s3(aws: LocalAWS) -> Any:
    return aws.client("s3")


def upload(aws: LocalAWS, s3: Any, body: bytes) -> tuple[str, str]:
    """Store ``body`` under a fresh pattern-safe key; return (key, version id)."""
    key = f"updated/{uuid.uuid4()}"
    response = s3.put_object(Bucket=aws.bucket, Key=key, Body=body)
    return key, response["VersionId"]


def put(flow: Any, message_id: str, bucket: str, key: str, **extra: str) -> Any:
    reference = {"bucket": bucket, "key": key, **extra}
    return flow.put_raw_message_content(messageId=message_id, content={"s3Reference": reference})


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def http_call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One urllib request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


# -- GetRawMessageContent ---------------------------------------------------------------


def test_get_returns_the_exact_bytes(emu: Emulator, flow: Any) -> None:
    raw = (
        b"From: a@example.net\r\nSubject:  two  spaces \r\nX-Mixed: lf only\n"
        b"\r\nbody \xff\xfe 8-bit\r\nbare lf\nno final newline"
    )
    message_id = emu.add_message(raw)
    response = flow.get_raw_message_content(messageId=message_id)
    assert response["messageContent"].read() == raw
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/octet-stream"
    assert emu.requests == [("GET", f"/messages/{message_id}")]


def test_add_message_generates_uuid_or_takes_the_given_id(emu: Emulator) -> None:
    generated = emu.add_message(ORIGINAL)
    assert str(uuid.UUID(generated)) == generated
    assert emu.add_message(ORIGINAL, message_id="given-id-1") == "given-id-1"
    with pytest.raises(ValueError, match="regular expression"):
        emu.add_message(ORIGINAL, message_id="Not_Valid")


def test_unknown_message_is_resource_not_found(emu: Emulator, flow: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        flow.get_raw_message_content(messageId="no-such-message")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "no-such-message" in message
    assert isinstance(excinfo.value, flow.exceptions.ResourceNotFoundException)


@pytest.mark.parametrize(
    ("message_id", "constraint"),
    [
        ("Upper-Case", "Member must satisfy regular expression pattern: [a-z0-9\\-]*"),
        ("a" * 121, "Member must have length less than or equal to 120"),
    ],
)
def test_message_id_shape_is_validated_by_the_service(
    emu: Emulator, flow: Any, message_id: str, constraint: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        flow.get_raw_message_content(messageId=message_id)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '{message_id}' at 'messageId' "
        f"failed to satisfy constraint: {constraint}"
    )


# -- PutRawMessageContent ---------------------------------------------------------------


def test_put_then_get_returns_the_updated_message(
    aws: LocalAWS, emu: Emulator, flow: Any, s3: Any
) -> None:
    message_id = emu.add_message(ORIGINAL)
    updated = edit(b"Subject: Quarterly numbers", b"Subject: [EXTERNAL] Quarterly numbers")
    key, _ = upload(aws, s3, updated)
    assert put(flow, message_id, aws.bucket, key)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert flow.get_raw_message_content(messageId=message_id)["messageContent"].read() == updated
    assert emu.message(message_id) == updated
    assert emu.original(message_id) == ORIGINAL
    assert emu.puts(message_id) == [{"bucket": aws.bucket, "key": key}]


def test_key_with_a_dot_is_a_validation_exception(aws: LocalAWS, emu: Emulator, flow: Any) -> None:
    message_id = emu.add_message(ORIGINAL)
    with pytest.raises(ClientError) as excinfo:
        put(flow, message_id, aws.bucket, "a.b")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value 'a.b' at 'content.s3Reference.key' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\-/]*"
    )
    assert emu.puts(message_id) == []


def test_several_shape_violations_are_reported_together(emu: Emulator, flow: Any) -> None:
    message_id = emu.add_message(ORIGINAL)
    with pytest.raises(ClientError) as excinfo:
        put(flow, message_id, "Bad_Bucket", "under_score")
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: Value 'Bad_Bucket' at ")
    assert "; Value 'under_score' at 'content.s3Reference.key'" in message


@pytest.mark.parametrize("missing", ["object", "bucket", "version"])
def test_unreadable_s3_object_is_invalid_content_location(
    aws: LocalAWS, emu: Emulator, flow: Any, s3: Any, missing: str
) -> None:
    message_id = emu.add_message(ORIGINAL)
    key, _ = upload(aws, s3, ORIGINAL)
    if missing == "object":
        args: dict[str, str] = {"bucket": aws.bucket, "key": "updated/never-written"}
    elif missing == "bucket":
        args = {"bucket": "no-such-bucket-here", "key": key}
    else:
        args = {"bucket": aws.bucket, "key": key, "objectVersion": "no-such-version"}
    with pytest.raises(ClientError) as excinfo:
        put(flow, message_id, **args)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidContentLocation", 400)
    assert {"object": "NoSuchKey", "bucket": "NoSuchBucket", "version": "NoSuchVersion"}[
        missing
    ] in message
    assert emu.message(message_id) == ORIGINAL


def test_object_version_is_honoured(aws: LocalAWS, emu: Emulator, flow: Any, s3: Any) -> None:
    message_id = emu.add_message(ORIGINAL)
    first = edit(b"Subject: Quarterly numbers", b"Subject: version one")
    second = edit(b"Subject: Quarterly numbers", b"Subject: version two")
    key = f"updated/{uuid.uuid4()}"
    v1 = s3.put_object(Bucket=aws.bucket, Key=key, Body=first)["VersionId"]
    v2 = s3.put_object(Bucket=aws.bucket, Key=key, Body=second)["VersionId"]
    assert v1 != v2
    put(flow, message_id, aws.bucket, key, objectVersion=v1)
    assert emu.message(message_id) == first
    put(flow, message_id, aws.bucket, key)
    assert emu.message(message_id) == second
    assert emu.puts(message_id) == [
        {"bucket": aws.bucket, "key": key, "objectVersion": v1},
        {"bucket": aws.bucket, "key": key},
    ]


def test_bucket_has_versioning_enabled(aws: LocalAWS, s3: Any) -> None:
    assert s3.get_bucket_versioning(Bucket=aws.bucket)["Status"] == "Enabled"


LONG_LINE = b"<p>Hello Bob</p>" + b"x" * (999 - len(b"<p>Hello Bob</p>"))

REJECTED = {
    "long line": (edit(b"<p>Hello Bob</p>", LONG_LINE), "999 octets"),
    "long final line without CRLF": (ORIGINAL + b"a" * 999, "999 octets"),
    "duplicated Subject": (
        edit(b"Subject: Quarterly numbers\r\n", b"Subject: a\r\nSUBJECT: b\r\n"),
        "unique header Subject appears 2 times",
    ),
    "changed From": (
        edit(b"From: Alice Example <alice@example.net>", b"From: Mallory <m@example.org>"),
        "immutable header From was changed",
    ),
    "removed Date": (
        edit(b"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n", b""),
        "immutable header Date was removed",
    ),
    "changed Message-ID": (
        edit(b"<abc123@example.net>", b"<other@example.net>"),
        "immutable header Message-ID was changed",
    ),
    "multipart without boundary": (
        edit(b'multipart/alternative; boundary="b1"', b"multipart/alternative"),
        "without a boundary parameter",
    ),
    "boundary never found": (
        edit(b'boundary="b1"', b'boundary="not-in-body"'),
        "boundary never occurs",
    ),
    "nested multipart broken": (
        edit(
            b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n",
            b"--b1\r\nContent-Type: multipart/related; boundary=inner\r\n\r\n<p>Hi</p>\r\n",
        ),
        "MIME part 1.2 (multipart/related)",
    ),
    "no header block": (b"\r\nJust a body without any header\r\n", "no header fields"),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_invalid_updates_are_message_rejected_with_the_reason(
    aws: LocalAWS, emu: Emulator, flow: Any, s3: Any, case: str
) -> None:
    updated, reason = REJECTED[case]
    message_id = emu.add_message(ORIGINAL)
    key, _ = upload(aws, s3, updated)
    with pytest.raises(ClientError) as excinfo:
        put(flow, message_id, aws.bucket, key)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("MessageRejected", 400)
    assert reason in message
    assert emu.message(message_id) == ORIGINAL
    assert emu.puts(message_id) == []


ACCEPTED = {
    "998-octet line": edit(b"<p>Hello Bob</p>", LONG_LINE[:998]),
    "refolded From": edit(
        b"From: Alice Example <alice@example.net>", b"From:  Alice Example\r\n\t<alice@example.net>"
    ),
    "no close delimiter": edit(b"--b1--\r\n", b""),
    "new non-unique headers": edit(b"MIME-Version", b"Received: x\r\nReceived: y\r\nMIME-Version"),
    "forwarded broken message": edit(
        b"--b1--\r\n",
        b"--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: old\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n--b1--\r\n",
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_valid_updates_real_mail_produces_are_accepted(
    aws: LocalAWS, emu: Emulator, flow: Any, s3: Any, case: str
) -> None:
    message_id = emu.add_message(ORIGINAL)
    key, _ = upload(aws, s3, ACCEPTED[case])
    put(flow, message_id, aws.bucket, key)
    assert emu.message(message_id) == ACCEPTED[case]


# -- faults -----------------------------------------------------------------------------


def test_frozen_message_cannot_be_updated(aws: LocalAWS, emu: Emulator, flow: Any, s3: Any) -> None:
    message_id = emu.add_message(ORIGINAL)
    updated = edit(b"Quarterly", b"[EXT] Quarterly")
    key, _ = upload(aws, s3, updated)
    emu.inject("frozen", op="put", message_id=message_id)
    with pytest.raises(ClientError) as excinfo:
        put(flow, message_id, aws.bucket, key)
    assert error_of(excinfo)[0] == "MessageFrozen"
    assert isinstance(excinfo.value, flow.exceptions.MessageFrozen)
    assert emu.message(message_id) == ORIGINAL
    put(flow, message_id, aws.bucket, key)  # times=1: the fault is used up
    assert emu.message(message_id) == updated


def test_rejected_fault_rejects_a_valid_put(
    aws: LocalAWS, emu: Emulator, flow: Any, s3: Any
) -> None:
    message_id = emu.add_message(ORIGINAL)
    key, _ = upload(aws, s3, ORIGINAL)
    emu.inject("rejected", times=-1)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            put(flow, message_id, aws.bucket, key)
        assert error_of(excinfo)[0] == "MessageRejected"
    assert emu.puts(message_id) == []


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("throttle", "ThrottlingException", 429), ("error5xx", "InternalServerException", 500)],
)
def test_transient_faults_are_retried_by_botocore(
    aws: LocalAWS, emu: Emulator, kind: str, code: str, status: int
) -> None:
    retrying = aws.client("workmailmessageflow", config=THREE_ATTEMPTS)
    message_id = emu.add_message(ORIGINAL)
    emu.inject(kind, op="get", times=1)
    response = retrying.get_raw_message_content(messageId=message_id)
    assert response["messageContent"].read() == ORIGINAL
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert emu.requests == [("GET", f"/messages/{message_id}")] * 2
    assert emu.faults() == []


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("throttle", "ThrottlingException", 429), ("error5xx", "InternalServerException", 500)],
)
def test_persistent_faults_surface_as_client_error_without_retries(
    emu: Emulator, flow: Any, kind: str, code: str, status: int
) -> None:
    message_id = emu.add_message(ORIGINAL)
    emu.inject(kind, op="any", times=-1)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            flow.get_raw_message_content(messageId=message_id)
        assert error_of(excinfo)[0::2] == (code, status)
    assert len(emu.requests) == 2  # one HTTP request per call: retries really are off
    assert len(emu.faults()) == 1  # times=-1 never runs out


def test_standard_mode_default_gives_up_after_three_attempts(
    aws: LocalAWS, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No max_attempts anywhere: what a handler gets from Config(retries={"mode": "standard"}).
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    default_client = aws.client("workmailmessageflow")
    message_id = emu.add_message(ORIGINAL)
    emu.inject("error5xx", op="get", message_id=message_id, times=-1)
    with pytest.raises(ClientError) as excinfo:
        default_client.get_raw_message_content(messageId=message_id)
    assert error_of(excinfo)[0] == "InternalServerException"
    assert excinfo.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(emu.requests) == 3


def test_latency_delays_then_serves(emu: Emulator, flow: Any) -> None:
    message_id = emu.add_message(ORIGINAL)
    emu.inject("latency", op="get", seconds=0.3)
    started = time.monotonic()
    content = flow.get_raw_message_content(messageId=message_id)["messageContent"].read()
    assert time.monotonic() - started >= 0.3
    assert content == ORIGINAL
    assert emu.faults() == []


def test_fault_limited_to_one_message_and_op(emu: Emulator, flow: Any) -> None:
    target = emu.add_message(ORIGINAL)
    other = emu.add_message(ORIGINAL)
    emu.inject("throttle", op="get", message_id=target, times=-1)
    assert flow.get_raw_message_content(messageId=other)["messageContent"].read() == ORIGINAL
    with pytest.raises(ClientError) as excinfo:
        flow.get_raw_message_content(messageId=target)
    assert error_of(excinfo)[0] == "ThrottlingException"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "throttle", "op": "delete"}, "unknown fault op"),
        ({"kind": "frozen", "op": "get"}, "applies to op 'put' only"),
        ({"kind": "throttle", "times": 0}, "times must be"),
        ({"kind": "latency", "seconds": -1}, "seconds must be"),
    ],
)
def test_inject_rejects_bad_arguments(emu: Emulator, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        emu.inject(**kwargs)
    assert emu.faults() == []


# -- WorkMail ListMailDomains -----------------------------------------------------------


def test_list_mail_domains_through_the_workmail_client(aws: LocalAWS, emu: Emulator) -> None:
    emu.add_organization(ORG_ID, ["example.com", "example.org", "example.net"])
    workmail = aws.client("workmail", config=NO_RETRY)
    everything = workmail.list_mail_domains(OrganizationId=ORG_ID)
    assert everything["MailDomains"] == [
        {"DomainName": "example.com", "DefaultDomain": True},
        {"DomainName": "example.org", "DefaultDomain": False},
        {"DomainName": "example.net", "DefaultDomain": False},
    ]
    assert "NextToken" not in everything
    first = workmail.list_mail_domains(OrganizationId=ORG_ID, MaxResults=2)
    assert [d["DomainName"] for d in first["MailDomains"]] == ["example.com", "example.org"]
    rest = workmail.list_mail_domains(
        OrganizationId=ORG_ID, MaxResults=2, NextToken=first["NextToken"]
    )
    assert [d["DomainName"] for d in rest["MailDomains"]] == ["example.net"]
    assert "NextToken" not in rest
    assert emu.requests[-1] == ("POST", "/")


def test_list_mail_domains_errors(aws: LocalAWS, emu: Emulator) -> None:
    workmail = aws.client("workmail", config=NO_RETRY)
    with pytest.raises(ClientError) as excinfo:
        workmail.list_mail_domains(OrganizationId="m-" + "f" * 32)
    assert error_of(excinfo)[0::2] == ("OrganizationNotFoundException", 400)
    assert isinstance(excinfo.value, workmail.exceptions.OrganizationNotFoundException)
    with pytest.raises(ClientError) as excinfo:
        workmail.list_mail_domains(OrganizationId="m-" + "F" * 32)
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ValueError, match="invalid organization id"):
        emu.add_organization("m-123", ["example.com"])


def test_workmail_endpoint_env_var_reaches_the_emulator(aws: LocalAWS, emu: Emulator) -> None:
    emu.add_organization(ORG_ID, ["example.com"])
    with aws.patch_env():
        workmail = boto3.client("workmail", config=NO_RETRY)
        domains = workmail.list_mail_domains(OrganizationId=ORG_ID)["MailDomains"]
    assert domains == [{"DomainName": "example.com", "DefaultDomain": True}]


# -- wire details -----------------------------------------------------------------------


def test_errors_on_the_wire_carry_header_and_type(aws: LocalAWS, emu: Emulator) -> None:
    message_id = emu.add_message(ORIGINAL)
    status, headers, body = http_call(
        f"{aws.workmail_endpoint}/messages/{message_id}",
        "POST",
        b"{}",
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert headers["Content-Length"] == str(len(body))
    assert json.loads(body) == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'content' failed to satisfy "
        "constraint: Member must not be null",
    }
    status, headers, body = http_call(f"{aws.workmail_endpoint}/nothing/here")
    assert (status, json.loads(body)["__type"]) == (404, "UnknownOperationException")


def test_keep_alive_serves_several_requests_on_one_connection(aws: LocalAWS, emu: Emulator) -> None:
    message_id = emu.add_message(ORIGINAL)
    host, port = aws.workmail_endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        statuses = []
        for path in (f"/messages/{message_id}", "/messages/unknown-id", f"/messages/{message_id}"):
            connection.request("GET", path)
            sock = connection.sock
            response = connection.getresponse()
            assert response.getheader("Content-Length") is not None
            response.read()
            statuses.append(response.status)
            assert connection.sock is sock  # not closed by the server
        assert statuses == [200, 404, 200]
    finally:
        connection.close()


def test_standalone_emulator_lifecycle_and_stop_drops_clients() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator:
        message_id = emulator.add_message(ORIGINAL)
        assert emulator.start() == emulator.url  # idempotent
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        connection.request("GET", f"/messages/{message_id}")
        assert connection.getresponse().read() == ORIGINAL
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.request("GET", f"/messages/{message_id}")
        connection.getresponse()
    connection.close()


# -- admin endpoints ----------------------------------------------------------------------


def test_admin_endpoints(aws: LocalAWS, emu: Emulator, flow: Any) -> None:
    base = f"{aws.workmail_endpoint}/_emulator"
    status, _, body = http_call(f"{base}/messages?id=admin-loaded", "POST", ORIGINAL)
    assert (status, json.loads(body)) == (200, {"messageId": "admin-loaded"})
    status, _, body = http_call(f"{base}/messages", "POST", b"From: x@example.net\r\n\r\nhi\r\n")
    generated = json.loads(body)["messageId"]
    assert emu.message(generated) == b"From: x@example.net\r\n\r\nhi\r\n"
    assert http_call(f"{base}/messages/admin-loaded")[2] == ORIGINAL
    assert http_call(f"{base}/messages/admin-loaded/puts")[2] == b"[]"
    assert http_call(f"{base}/messages/not-there")[0] == 404

    fault = {"kind": "throttle", "op": "get", "messageId": "admin-loaded", "times": 1}
    status, _, body = http_call(f"{base}/faults", "POST", json.dumps(fault).encode())
    assert status == 200
    assert json.loads(body)["fault"] == {**fault, "seconds": 0.0}
    with pytest.raises(ClientError) as excinfo:
        flow.get_raw_message_content(messageId="admin-loaded")
    assert error_of(excinfo)[0] == "ThrottlingException"

    status, _, body = http_call(f"{base}/faults", "POST", b'{"kind": "explode"}')
    assert status == 400 and "unknown fault kind" in json.loads(body)["message"]
    http_call(f"{base}/faults", "POST", b'{"kind": "error5xx", "times": -1}')
    assert len(emu.faults()) == 1
    assert http_call(f"{base}/faults", "DELETE")[0] == 200
    assert emu.faults() == []

    org = {"organizationId": ORG_ID, "domains": ["admin.example"]}
    assert http_call(f"{base}/organizations", "POST", json.dumps(org).encode())[0] == 200
    workmail = aws.client("workmail", config=NO_RETRY)
    assert workmail.list_mail_domains(OrganizationId=ORG_ID)["MailDomains"][0] == {
        "DomainName": "admin.example",
        "DefaultDomain": True,
    }
    # admin traffic is not API traffic
    assert all(not path.startswith("/_emulator") for _, path in emu.requests)


# -- environment ------------------------------------------------------------------------


def test_env_and_patch_env(aws: LocalAWS, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    env = aws.env
    assert env["AWS_ENDPOINT_URL_S3"] == aws.s3_endpoint
    assert env["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"] == aws.workmail_endpoint
    assert env["AWS_ENDPOINT_URL_WORKMAIL"] == aws.workmail_endpoint
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["MIMEOPS_BUCKET"] == aws.bucket == "emulator-tests"

    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    message_id = emu.add_message(ORIGINAL)
    with aws.patch_env():
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["MIMEOPS_BUCKET"] == aws.bucket
        client = boto3.client("workmailmessageflow", config=NO_RETRY)  # no endpoint_url
        assert client.get_raw_message_content(messageId=message_id)["messageContent"].read() == (
            ORIGINAL
        )
        boto3.client("s3").head_bucket(Bucket=os.environ["MIMEOPS_BUCKET"])
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert "AWS_ENDPOINT_URL_S3" not in os.environ


# -- serve ------------------------------------------------------------------------------


def _read_lines(stream: Any, sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


def test_serve_prints_env_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mimeops_emulator", "--port", "0", "--bucket", "served-bucket"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        printed: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "MIMEOPS_BUCKET" not in printed:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            name, _, value = line.strip().partition("=")
            printed[name] = value
        assert printed["MIMEOPS_BUCKET"] == "served-bucket"
        url = printed["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"]
        assert printed["AWS_ENDPOINT_URL_WORKMAIL"] == url

        status, _, _ = http_call(f"{url}/_emulator/messages?id=served-1", "POST", ORIGINAL)
        assert status == 200
        credentials: dict[str, Any] = {
            "region_name": printed["AWS_DEFAULT_REGION"],
            "aws_access_key_id": printed["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": printed["AWS_SECRET_ACCESS_KEY"],
        }
        s3 = boto3.client("s3", endpoint_url=printed["AWS_ENDPOINT_URL_S3"], **credentials)
        updated = edit(b"Quarterly", b"[EXT] Quarterly")
        s3.put_object(Bucket="served-bucket", Key="updated/served-1", Body=updated)
        flow = boto3.client("workmailmessageflow", endpoint_url=url, config=NO_RETRY, **credentials)
        put(flow, "served-1", "served-bucket", "updated/served-1")
        assert flow.get_raw_message_content(messageId="served-1")["messageContent"].read() == (
            updated
        )

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
