"""`mimeops preview workmail://ORG/USER` with real boto3 clients over
HTTP: against the emulator (`mimeops_emulator`, its clock moved by the client's
injected sleep: no test waits), and against a second, minimal implementation of the
export operations written here, which is not the project's emulator."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mimeops.cli import main
from mimeops_emulator import LocalAWS
from mimeops_workmail import clients, export_job, s3_object
from mimeops_workmail.preview_source import SOURCE
from tests.clock import Clock
from tests.conftest import corpus_files
from tests.preview_reports import report_entries
from tests.test_cli_errors import HIDE

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "examples" / "flows" / "external-warning.yaml"
ORG = "m-00000000000000000000000000000000"
ROLE = "arn:aws:iam::123456789012:role/workmail-export"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OPTIONS = ["--export-bucket", "exports", "--export-role", ROLE, "--export-kms-key", KEY]
SAMPLES = ROOT / "events" / "messages"
DOCS = ROOT / "docs" / "preview.md"


def mailbox_folder() -> Path:
    files = corpus_files()
    return files[0].parent.parent if files else SAMPLES


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture(scope="module")
def aws(clock: Clock) -> Iterator[LocalAWS]:
    with LocalAWS(clock=clock, export_seconds=20) as local:
        local.emulator.add_mailbox("bob@example.com", mailbox_folder(), ORG)
        local.emulator.add_mailbox("carol@example.com", SAMPLES, ORG)
        local.client("s3").create_bucket(Bucket="exports")
        yield local


@pytest.fixture
def env(aws: LocalAWS, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(SOURCE, "sleep", clock.sleep)
    clock.waits.clear()
    return clock


def preview(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(["preview", "--config", str(FLOW), *args])
    except SystemExit as stopped:  # a one-line error
        code = int(stopped.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict[str, Any]:
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow  # the whole corpus through an export: make test runs it, make check does not
def test_a_mailbox_export_previews_like_the_files(
        env: Clock, aws: LocalAWS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    opened: list[s3_object.S3Object] = []
    real = s3_object.S3Object.__init__

    def keep(self: s3_object.S3Object, *args: Any) -> None:
        real(self, *args)
        opened.append(self)

    monkeypatch.setattr(s3_object.S3Object, "__init__", keep)
    # Ranges well under the zip's size, with the corpus or only the samples beside us.
    mailbox = sum(p.stat().st_size for p in mailbox_folder().rglob("*") if p.is_file())
    monkeypatch.setattr(s3_object, "BUFFER", max(1024, min(256 * 1024, mailbox // 8)))
    code, out, err = preview(capsys, *OPTIONS, "--report", str(tmp_path / "export.html"),
                             f"workmail://{ORG}/bob@example.com")
    assert code == 0, err
    from_export = last_json(out)
    code, out, _ = preview(capsys, "--report", str(tmp_path / "files.html"), str(mailbox_folder()))
    assert code == 0 and from_export == last_json(out)
    assert report_entries(tmp_path / "export.html") == report_entries(tmp_path / "files.html")
    # Progress from EstimatedProgress, rising, then COMPLETED; waits grow (back-off).
    percents = [int(p) for p in re.findall(r"RUNNING \((\d+)%\)", err)]
    assert percents == sorted(percents) and len(percents) >= 3 and "COMPLETED (100%)" in err
    assert env.waits[:3] == [1.0, 1.5, 2.25] and max(env.waits) <= export_job.LONGEST_WAIT
    # The zip was read by ranges, never whole.
    (zip_file,) = opened
    assert len(zip_file.ranges) > 1
    assert max(last - first + 1 for first, last in zip_file.ranges) < zip_file.size
    (job,) = [j for j in aws.emulator.export_jobs() if j.request["S3BucketName"] == "exports"
              and j.request["S3Prefix"] == "mimeops-preview" and j.state == "COMPLETED"][-1:]
    assert job.request["KmsKeyArn"] == KEY and job.request["RoleArn"] == ROLE


def test_every_entry_of_the_zip_is_previewed(env: Clock, aws: LocalAWS,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = preview(capsys, *OPTIONS, "--export-prefix", "other/prefix",
                           f"workmail://{ORG}/carol@example.com")
    assert code == 0 and last_json(out)["messages"] == len(list(SAMPLES.glob("*.eml")))
    assert aws.emulator.export_jobs()[-1].request["S3Prefix"] == "other/prefix"


def test_a_failed_job_is_one_line_with_its_error_info_and_exit_1(
        env: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preview(capsys, "--export-bucket", "no-such-bucket", "--export-role", ROLE,
                             "--export-kms-key", KEY, f"workmail://{ORG}/carol@example.com")
    assert code == 1 and out == ""
    last = err.splitlines()[-1]
    assert re.fullmatch(rf"mimeops: error: workmail://{ORG}/carol@example.com: export job "
                        r"[0-9a-f-]+ FAILED: The export could not be written to "
                        r"s3://no-such-bucket/\S+: NoSuchBucket", last), last


def press_ctrl_c(clock: Clock, monkeypatch: pytest.MonkeyPatch, waits: int) -> None:
    """Ctrl-C during the client's wait number `waits` (0: the first)."""
    calls = itertools.count()

    def interrupted(seconds: float) -> None:
        clock.sleep(seconds)
        if next(calls) == waits:
            raise KeyboardInterrupt

    monkeypatch.setattr(SOURCE, "sleep", interrupted)


def test_ctrl_c_cancels_the_job(env: Clock, aws: LocalAWS, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    press_ctrl_c(env, monkeypatch, waits=1)
    code, out, err = preview(capsys, *OPTIONS, f"workmail://{ORG}/carol@example.com")
    assert code == 130 and out == ""
    job = aws.emulator.export_jobs()[-1]
    assert job.state == "CANCELLED"
    assert f"export job {job.id} cancelled" in err


@pytest.mark.parametrize(("args", "says"), [
    ([*OPTIONS, f"workmail://{ORG}/nobody@example.com"],
     "EntityNotFoundException: The user or resource nobody@example.com was not found"),
    (["--export-bucket", "exports", "--export-role", "arn:aws:iam::1:role/x", "--export-kms-key",
      KEY, f"workmail://{ORG}/carol@example.com"], "InvalidParameterException: RoleArn"),
    ([*OPTIONS, "workmail://m-ffffffffffffffffffffffffffffffff/carol@example.com"],
     "OrganizationNotFoundException"),
    (["--export-bucket", "exports", f"workmail://{ORG}/carol@example.com"],
     "a mailbox export needs --export-role, --export-kms-key"),
    ([*OPTIONS, "workmail://example.com/carol"], "expected workmail://ORGANIZATION_ID/USER"),
    ([*OPTIONS, f"workmail://{ORG}/"], "expected workmail://ORGANIZATION_ID/USER"),
])
def test_what_workmail_refuses_is_one_line_and_exit_2(
        env: Clock, args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["preview", "--config", str(FLOW), *args])
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("mimeops: error: ") and says in line


def test_without_the_aws_extra_one_line_names_it() -> None:
    code = HIDE.format(hidden=["boto3", "botocore"])
    done = subprocess.run([sys.executable, "-c", code, "preview", "--config", str(FLOW),
                           *OPTIONS, f"workmail://{ORG}/bob@example.com"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "'mimeops preview workmail://' needs the 'aws' extra" in line
    assert "pip install 'mimeops[aws]'" in line


def test_the_s3_path_may_start_with_the_bucket() -> None:
    assert export_job.object_key("exports/mimeops-preview/j.zip", "exports") == \
        "mimeops-preview/j.zip"
    assert export_job.object_key("mimeops-preview/j.zip", "exports") == "mimeops-preview/j.zip"


# -- the documented IAM policy names exactly what preview calls ----------------------------

def policy(name: str) -> dict[str, Any]:
    match = re.search(rf"<!-- policy: {name} -->\n```json\n(.*?)```", DOCS.read_text(), re.S)
    assert match, f"no {name} policy in {DOCS}"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def actions(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and statement.get("Resource") != "*"
        listed = statement["Action"]
        found |= {listed} if isinstance(listed, str) else set(listed)
    return found


# Each API call -> the IAM action that authorizes it.
AUTHORIZED_BY = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject"}


def test_the_operator_policy_allows_exactly_what_preview_calls(
        env: Clock, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    called: set[str] = set()
    real = clients.preview_client

    def recorded(service: str) -> Any:
        client = real(service)
        prefix = client.meta.service_model.signing_name

        def note(model: Any, **_: Any) -> None:
            called.add(AUTHORIZED_BY.get(model.name, f"{prefix}:{model.name}"))

        client.meta.events.register("before-call", note)
        return client

    monkeypatch.setattr(clients, "preview_client", recorded)
    assert preview(capsys, *OPTIONS, f"workmail://{ORG}/carol@example.com")[0] == 0
    press_ctrl_c(env, monkeypatch, waits=0)
    assert preview(capsys, *OPTIONS, f"workmail://{ORG}/carol@example.com")[0] == 130
    assert called == {"workmail:StartMailboxExportJob", "workmail:DescribeMailboxExportJob",
                      "workmail:CancelMailboxExportJob", "s3:GetObject"}
    # Not calls, but what they need: passing the role, reading SSE-KMS objects.
    assert actions(policy("operator-policy")) == called | {"iam:PassRole", "kms:Decrypt"}


def test_the_export_role_policies_parse_and_are_scoped() -> None:
    trust = policy("export-role-trust")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "export.workmail.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole" and "sts:ExternalId" in json.dumps(statement)
    assert actions(policy("export-role-policy")) == {
        "s3:AbortMultipartUpload", "s3:PutObject", "s3:GetBucketPolicyStatus", "kms:Decrypt",
        "kms:GenerateDataKey"}


# -- a second implementation of the export operations, not the project's ------------------

class OwnWorkMail(ThreadingHTTPServer):
    """StartMailboxExportJob / DescribeMailboxExportJob / CancelMailboxExportJob as the
    API reference describes them: the zip is written to S3 (moto) at Start; Describe walks
    through `states`, one per call; S3Path names the bucket too."""

    def __init__(self, s3: Any, messages: list[bytes],
                 states: list[tuple[str, int, str | None]]) -> None:
        self.s3, self.messages, self.states = s3, messages, states
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.describes = 0
        super().__init__(("127.0.0.1", 0), OwnHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, body))
        if operation == "StartMailboxExportJob":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("Inbox/", b"")  # a folder entry: not a message
                for number, raw in enumerate(self.messages):
                    archive.writestr(f"Inbox/{number}.eml", raw)
                archive.writestr("Calendar/meeting.eml", self.messages[0])
            self.key = f"{body['S3Prefix']}/own-job.zip"
            self.bucket = body["S3BucketName"]
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=buffer.getvalue(),
                               ServerSideEncryption="aws:kms", SSEKMSKeyId=body["KmsKeyArn"])
            return {"JobId": "own-job-1"}
        if operation == "DescribeMailboxExportJob":
            state, progress, info = self.states[min(self.describes, len(self.states) - 1)]
            self.describes += 1
            found = {"EntityId": "own-entity-id-1", "State": state,
                     "EstimatedProgress": progress, "S3BucketName": self.bucket,
                     "S3Path": f"{self.bucket}/{self.key}", "StartTime": 1.8e9}
            return found | ({"ErrorInfo": info} if info else {})
        if operation == "CancelMailboxExportJob":
            return {}
        raise AssertionError(operation)


class OwnHandler(BaseHTTPRequestHandler):
    server: OwnWorkMail

    def do_POST(self) -> None:
        operation = self.headers["X-Amz-Target"].removeprefix("WorkMailService.")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps(self.server.answer(operation, body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def own(aws: LocalAWS, monkeypatch: pytest.MonkeyPatch,
        clock: Clock) -> Iterator[Callable[..., OwnWorkMail]]:
    servers: list[OwnWorkMail] = []

    def make(states: list[tuple[str, int, str | None]]) -> OwnWorkMail:
        server = OwnWorkMail(aws.client("s3"), [p.read_bytes() for p in sorted(
            SAMPLES.glob("*.eml"))], states)
        servers.append(server)
        for name, value in aws.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL_WORKMAIL", server.url)  # not the emulator
        monkeypatch.setattr(SOURCE, "sleep", clock.sleep)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_our_own_workmail_export_completes(own: Callable[..., OwnWorkMail],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    server = own([("RUNNING", 0, None), ("RUNNING", 50, None), ("COMPLETED", 100, None)])
    code, out, err = preview(capsys, *OPTIONS, f"workmail://{ORG}/bob@example.com")
    assert code == 0, err
    assert last_json(out)["messages"] == len(list(SAMPLES.glob("*.eml"))) + 1  # + calendar
    assert re.findall(r"RUNNING \((\d+)%\)", err) == ["0", "50"] and "COMPLETED (100%)" in err
    start = dict(server.calls)["StartMailboxExportJob"]
    assert start["ClientToken"] and start["S3Prefix"] == "mimeops-preview"
    assert {start[k] for k in ("RoleArn", "KmsKeyArn", "S3BucketName", "EntityId")} == {
        ROLE, KEY, "exports", "bob@example.com"}


def test_our_own_workmail_export_failing(own: Callable[..., OwnWorkMail],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    own([("RUNNING", 30, None), ("FAILED", 30, "Access denied to the S3 bucket exports")])
    code, out, err = preview(capsys, *OPTIONS, f"workmail://{ORG}/bob@example.com")
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == (f"mimeops: error: workmail://{ORG}/bob@example.com: export "
                                    "job own-job-1 FAILED: Access denied to the S3 bucket exports")


def test_our_own_workmail_export_from_the_command_line(
        own: Callable[..., OwnWorkMail]) -> None:
    server = own([("COMPLETED", 100, None)])  # done at the first look: nothing to wait for
    done = subprocess.run([sys.executable, "-m", "mimeops", "preview", "--config", str(FLOW),
                           *OPTIONS, f"workmail://{ORG}/bob@example.com"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ),
                          check=False)
    assert done.returncode == 0, done.stderr
    assert last_json(done.stdout)["messages"] == len(list(SAMPLES.glob("*.eml"))) + 1
    assert "export job own-job-1 COMPLETED (100%)" in done.stderr
    assert [c for c, _ in server.calls] == ["StartMailboxExportJob", "DescribeMailboxExportJob"]


@pytest.mark.slow  # three commands in fresh interpreters
def test_mimeops_serve_mailbox_and_preview_as_against_aws() -> None:
    """Two commands, as a user runs them: `serve --mailbox`, then `preview workmail://`
    with the environment serve printed (its jobs finish at once: nothing to wait for)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mimeops", "serve", "--port", "0", "--export-seconds", "0",
         "--mailbox", f"bob@example.com={SAMPLES}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None and server.stderr is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for line in server.stdout:
            name, _, value = line.strip().partition("=")
            env[name] = value
            if name == "MIMEOPS_BUCKET":
                break
        hint = next(line for line in server.stderr if "mailbox export:" in line)
        assert f"workmail://{ORG}/bob@example.com --export-bucket mimeops-local" in hint
        done = subprocess.run(
            [sys.executable, "-m", "mimeops", "preview", "--config", str(FLOW),
             "--export-bucket", env["MIMEOPS_BUCKET"], "--export-role", ROLE,
             "--export-kms-key", KEY, f"workmail://{ORG}/bob@example.com"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False)
        assert done.returncode == 0, done.stderr
        files = subprocess.run([sys.executable, "-m", "mimeops", "preview", "--config",
                                str(FLOW), str(SAMPLES)], cwd=ROOT, capture_output=True,
                               text=True, timeout=120, check=False)
        assert last_json(done.stdout) == last_json(files.stdout)
        assert "COMPLETED (100%)" in done.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
