"""The emulator's mailbox export API over HTTP with real boto3 clients: the shapes,
validation and errors of StartMailboxExportJob, DescribeMailboxExportJob,
ListMailboxExportJobs and CancelMailboxExportJob, and the zip it writes to (moto) S3."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mimeops.preview import find
from mimeops_emulator import Emulator, LocalAWS
from tests.clock import Clock

ROOT = Path(__file__).resolve().parent.parent
ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/workmail-export"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MAILBOX = ROOT / "events" / "messages"
NO_RETRY = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture(scope="module")
def aws(clock: Clock) -> Iterator[LocalAWS]:
    with LocalAWS(clock=clock, export_seconds=10, export_limit=2) as local:
        local.emulator.add_mailbox("bob@example.com", MAILBOX, ORG)
        local.emulator.add_mailbox("carol@example.com", [b"From: a@b.example\n\nhi\n"], ORG)
        local.client("s3").create_bucket(Bucket="exports")
        yield local


@pytest.fixture
def workmail(aws: LocalAWS) -> Iterator[Any]:
    yield aws.client("workmail", config=NO_RETRY)
    for job in aws.emulator.export_jobs():  # leave no job running for the next test
        if job.state == "RUNNING":
            aws.client("workmail").cancel_mailbox_export_job(
                ClientToken="cleanup", JobId=job.id, OrganizationId=ORG)


def start(workmail: Any, token: str = "token-1", **changes: str) -> str:
    parameters = {"ClientToken": token, "OrganizationId": ORG, "EntityId": "bob@example.com",
                  "RoleArn": ROLE, "KmsKeyArn": KEY, "S3BucketName": "exports",
                  "S3Prefix": "preview/run-1", **changes}
    return workmail.start_mailbox_export_job(**parameters)["JobId"]  # type: ignore[no-any-return]


def describe(workmail: Any, job: str) -> dict[str, Any]:
    return workmail.describe_mailbox_export_job(JobId=job, OrganizationId=ORG)  # type: ignore[no-any-return]


def error(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    found = raised.value.response["Error"]
    return found["Code"], found["Message"]


def test_a_job_runs_over_time_and_writes_the_mailbox_as_a_zip(
        aws: LocalAWS, workmail: Any, clock: Clock) -> None:
    job = start(workmail, token="zip-1")
    first = describe(workmail, job)
    assert first["State"] == "RUNNING" and first["EstimatedProgress"] == 0
    assert {first["EntityId"], first["RoleArn"], first["KmsKeyArn"], first["S3BucketName"],
            first["S3Prefix"]} == {first["EntityId"], ROLE, KEY, "exports", "preview/run-1"}
    assert "EndTime" not in first and "S3Path" in first
    clock.now += 4
    assert describe(workmail, job)["EstimatedProgress"] == 40
    clock.now += 6
    done = describe(workmail, job)
    assert done["State"] == "COMPLETED" and done["EstimatedProgress"] == 100
    assert (done["EndTime"] - done["StartTime"]).total_seconds() == 10
    s3 = aws.client("s3")
    head = s3.head_object(Bucket="exports", Key=done["S3Path"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == KEY
    body = s3.get_object(Bucket="exports", Key=done["S3Path"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        exported = [archive.read(name) for name in archive.namelist()]
    assert exported == [item.read() for item in find([str(MAILBOX)]).items]


def test_the_client_token_makes_start_idempotent(workmail: Any) -> None:
    job = start(workmail, token="same")
    assert start(workmail, token="same") == job
    code, message = error(start, workmail, token="same", S3Prefix="elsewhere")
    assert code == "InvalidParameterException" and "ClientToken" in message


def test_too_many_running_jobs_is_limit_exceeded(workmail: Any, clock: Clock) -> None:
    start(workmail, token="limit-1")
    start(workmail, token="limit-2")
    code, _ = error(start, workmail, token="limit-3")
    assert code == "LimitExceededException"
    clock.now += 10  # both finish: room again
    assert start(workmail, token="limit-3")


@pytest.mark.parametrize(("changes", "code", "says"), [
    ({"RoleArn": "arn:aws:iam::123:role/short-account"}, "InvalidParameterException", "RoleArn"),
    ({"RoleArn": "arn:aws:s3:::not-a-role-at-all"}, "InvalidParameterException", "RoleArn"),
    ({"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:alias/x"}, "InvalidParameterException",
     "KmsKeyArn"),
    ({"S3BucketName": "Upper_Case"}, "InvalidParameterException", "S3BucketName"),
    ({"S3BucketName": "two..dots"}, "InvalidParameterException", "S3BucketName"),
    ({"S3BucketName": "192.168.1.1"}, "InvalidParameterException", "S3BucketName"),
    ({"EntityId": "nobody@example.com"}, "EntityNotFoundException", "nobody@example.com"),
    ({"OrganizationId": "m-ffffffffffffffffffffffffffffffff"}, "OrganizationNotFoundException",
     "does not exist"),
    ({"OrganizationId": "m-GGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG"}, "ValidationException",
     "organizationId"),
    ({"S3Prefix": "has space"}, "ValidationException", "s3Prefix"),
    ({"ClientToken": "has space"}, "ValidationException", "clientToken"),
])
def test_start_checks_its_parameters(workmail: Any, changes: dict[str, str], code: str,
                                     says: str) -> None:
    found, message = error(start, workmail, token="bad", **changes)
    assert found == code and says in message


def test_the_user_by_name_or_by_id(workmail: Any) -> None:
    by_name = describe(workmail, start(workmail, token="name", EntityId="bob"))
    by_id = describe(workmail, start(workmail, token="id", EntityId=by_name["EntityId"]))
    assert by_name["EntityId"] == by_id["EntityId"]


def test_a_job_that_cannot_write_fails_with_error_info(workmail: Any, clock: Clock) -> None:
    job = start(workmail, token="no-bucket", S3BucketName="no-such-bucket")
    clock.now += 10
    failed = describe(workmail, job)
    assert failed["State"] == "FAILED" and "NoSuchBucket" in failed["ErrorInfo"]
    assert "no-such-bucket" in failed["ErrorInfo"]


def test_cancel(workmail: Any, clock: Clock) -> None:
    job = start(workmail, token="cancel-me")
    workmail.cancel_mailbox_export_job(ClientToken="c1", JobId=job, OrganizationId=ORG)
    cancelled = describe(workmail, job)
    assert cancelled["State"] == "CANCELLED" and "EndTime" in cancelled
    clock.now += 10  # a cancelled job stays cancelled, and a finished one stays finished
    assert describe(workmail, job)["State"] == "CANCELLED"
    code, _ = error(workmail.cancel_mailbox_export_job, ClientToken="c2",
                    JobId="no-such-job", OrganizationId=ORG)
    assert code == "EntityNotFoundException"
    code, _ = error(describe, workmail, "no-such-job")
    assert code == "EntityNotFoundException"


def test_list_is_paged_newest_first(workmail: Any, clock: Clock) -> None:
    started = [start(workmail, token=f"list-{n}", EntityId="carol@example.com") for n in range(2)]
    clock.now += 10
    first = workmail.list_mailbox_export_jobs(OrganizationId=ORG, MaxResults=1)
    assert [j["JobId"] for j in first["Jobs"]] == [started[-1]] and "NextToken" in first
    everything: list[dict[str, Any]] = []
    more: dict[str, str] = {}
    while True:  # botocore has no paginator for this operation: follow NextToken
        page = workmail.list_mailbox_export_jobs(OrganizationId=ORG, MaxResults=1, **more)
        everything += page["Jobs"]
        if "NextToken" not in page:
            break
        more = {"NextToken": page["NextToken"]}
    assert set(started) <= {j["JobId"] for j in everything}
    assert set(everything[0]) <= {"JobId", "EntityId", "Description", "S3BucketName", "S3Path",
                                  "EstimatedProgress", "State", "StartTime", "EndTime"}
    code, _ = error(workmail.list_mailbox_export_jobs, OrganizationId=ORG, NextToken="bogus")
    assert code == "InvalidParameterException"


def test_jobs_older_than_a_week_are_not_listed(workmail: Any, clock: Clock) -> None:
    job = start(workmail, token="old")
    clock.now += 8 * 24 * 3600
    listed = workmail.list_mailbox_export_jobs(OrganizationId=ORG)["Jobs"]
    assert job not in {j["JobId"] for j in listed}
    assert describe(workmail, job)["State"] == "COMPLETED"


def test_export_faults(aws: LocalAWS) -> None:
    aws.emulator.inject("throttle", op="export", times=1)
    retried = aws.client("workmail")  # standard retries: the throttle is absorbed
    assert retried.list_mailbox_export_jobs(OrganizationId=ORG)["Jobs"] is not None
    aws.emulator.inject("error5xx", op="start_mailbox_export_job", times=1)
    code, _ = error(aws.client("workmail", config=NO_RETRY).start_mailbox_export_job,
                    ClientToken="f", OrganizationId=ORG, EntityId="bob@example.com",
                    RoleArn=ROLE, KmsKeyArn=KEY, S3BucketName="exports", S3Prefix="p")
    assert code == "InternalServerException"


def test_add_mailbox_refuses_a_missing_path() -> None:
    from mimeops.preview import SourceError

    with pytest.raises(SourceError):
        Emulator().add_mailbox("bob@example.com", ROOT / "no-such-folder")


def test_serve_mailbox_option_errors() -> None:
    for bad, says in (("bob@example.com", "EMAIL=PATH"), ("bob@example.com=/no/such", "no such"),
                      ("not-an-address=events", "EMAIL=PATH")):
        done = subprocess.run([sys.executable, "-m", "mimeops", "serve", "--port", "0",
                               "--mailbox", bad], capture_output=True, text=True, cwd=ROOT,
                              timeout=60, check=False)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_admin_summary_is_unchanged_by_exports(aws: LocalAWS) -> None:
    # The admin endpoint still answers (exports add no admin surface).
    import urllib.request

    with urllib.request.urlopen(f"{aws.workmail_endpoint}/_emulator", timeout=10) as answer:
        assert set(json.load(answer)) == {"messages", "faults"}

