"""`directory: workmail`: the real handler reads the directory through the WorkMail API.

The emulator serves DescribeEntity, DescribeUser, ListGroupsForEntity, ListUsers and
ListGroupMembers over HTTP (json-1.1), seeded from the same directory file the CLI
reads; the handler's boto3 client reaches it through AWS_ENDPOINT_URL_WORKMAIL.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mimeops.directory import DirectoryUnavailable, parse_directory
from mimeops_emulator import LocalAWS
from mimeops_workmail import app, clients, directory
from mimeops_workmail.directory import WorkMailDirectory
from mimeops_workmail.local import LocalContext
from tests.test_directory import DIRECTORY_FILE, EXTERNAL, OUTBOUND, reply

ROOT = Path(__file__).resolve().parent.parent
ORG = "m-0123456789abcdef0123456789abcdef"
FLOWS = ROOT / "examples" / "flows"
SIGNATURE = (FLOWS / "directory-signature.yaml").read_text()
IMPERSONATION = (FLOWS / "impersonation-warning.yaml").read_text()
DEFAULT = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as local:
        local.emulator.add_directory(ORG, DIRECTORY_FILE)
        yield local


@pytest.fixture
def env(aws: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAWS]:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in aws.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIMEOPS_ORGANIZATION_ID", ORG)
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "directory-test-key")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    app.reset()
    clients.client.cache_clear()
    directory.reset()
    yield aws
    aws.emulator.clear_faults()
    app.reset()
    clients.client.cache_clear()
    directory.reset()


def run(aws: LocalAWS, flow: str, raw: bytes, direction: str, mail_from: str,
        recipients: list[str], monkeypatch: pytest.MonkeyPatch,
        context: LocalContext | None = None) -> tuple[dict[str, Any], str]:
    monkeypatch.setenv("MIMEOPS_CONFIG", flow)
    event = {
        "summaryVersion": "2018-10-10",
        "envelope": {"mailFrom": {"address": mail_from},
                     "recipients": [{"address": r} for r in recipients]},
        "subject": "x", "messageId": aws.emulator.add_message(raw),
        "invocationId": "0123456789abcdef0123456789abcdef", "flowDirection": direction,
        "truncated": False,
    }
    response = app.lambda_handler(event, context or LocalContext())
    return response, str(event["messageId"])


def directory_calls(aws: LocalAWS) -> int:
    return sum(1 for method, path in aws.emulator.requests if method == "POST" and path == "/")


def test_signature_from_the_workmail_api(env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    response, message_id = run(env, SIGNATURE, OUTBOUND, "OUTBOUND", "jane.doe@example.com",
                               ["m.dupont@partner.example.net"], monkeypatch)
    assert response == DEFAULT
    updated = env.emulator.message(message_id).decode("utf-8", "replace")
    assert "Head of Purchasing" in updated and "Tel: +49 30 555 0100" in updated
    assert updated.index("Head of Purchasing") < updated.index("From: Marie Dupont")

    # The next message of the thread quotes it: no second signature, and a warm cache.
    env.emulator.clear_requests()
    second = reply(env.emulator.message(message_id), "Jane Doe <jane.doe@example.com>",
                   "m.dupont@partner.example.net", "Thanks again.")
    _, second_id = run(env, SIGNATURE, second, "OUTBOUND", "jane.doe@example.com",
                       ["m.dupont@partner.example.net"], monkeypatch)
    assert env.emulator.puts(second_id) == []
    assert directory_calls(env) == 0


def test_empty_directory_fields_drop_their_lines(env: LocalAWS,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    raw = re.sub(rb"(?m)^From: .*$", b"From: John Smith <john.smith@example.com>", OUTBOUND,
                 count=1)
    _, message_id = run(env, SIGNATURE, raw, "OUTBOUND", "john.smith@example.com",
                        ["m.dupont@partner.example.net"], monkeypatch)
    updated = env.emulator.message(message_id).replace(b"\r\n", b"\n")
    assert b"--\nJohn Smith\nExample Corp\n" in updated
    assert b"Tel:" not in updated


@pytest.mark.parametrize(("from_header", "mail_from", "warned"), [
    ('"Jane Doe" <jane.doe.office@outside.example>', "jane.doe.office@outside.example", True),
    ("Accounts <ap@examp1e.com>", "ap@examp1e.com", True),
    ("Accounts <ap@xn--exmple-4nf.com>", "ap@xn--exmple-4nf.com", True),
    ("Marie Dupont <m.dupont@partner.example.net>", "m.dupont@partner.example.net", False),
    ("John Smith <john.smith@example.com>", "john.smith@example.com", False),
])
def test_impersonation_through_the_workmail_api(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch, from_header: str, mail_from: str,
        warned: bool) -> None:
    raw = re.sub(rb"(?m)^From: .*$", b"From: " + from_header.encode(), EXTERNAL, count=1)
    response, message_id = run(env, IMPERSONATION, raw, "INBOUND", mail_from,
                               ["jane.doe@example.com"], monkeypatch)
    assert response == DEFAULT
    if warned:
        assert b"POSSIBLE IMPERSONATION" in env.emulator.message(message_id)
    else:
        assert env.emulator.puts(message_id) == []


@pytest.mark.parametrize("kind", [
    "error5xx", "throttle",
    pytest.param("latency", marks=pytest.mark.slow),  # waits the deadline out
])
def test_a_failing_directory_delivers_unchanged_within_the_deadline(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    env.emulator.inject(kind, op="directory", times=-1, seconds=30 if kind == "latency" else 0)
    started = time.monotonic()
    response, message_id = run(env, SIGNATURE, OUTBOUND, "OUTBOUND", "jane.doe@example.com",
                               ["m.dupont@partner.example.net"], monkeypatch,
                               LocalContext(timeout_ms=6000))
    elapsed = time.monotonic() - started
    assert response == DEFAULT
    assert env.emulator.puts(message_id) == []
    assert elapsed < 6.0


def test_on_error_retry_fails_the_invocation(env: LocalAWS,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    env.emulator.inject("error5xx", op="describe_entity", times=-1)
    flow = SIGNATURE.replace("on_error: deliver", "on_error: retry")
    with pytest.raises(app.RetryRequested):
        run(env, flow, OUTBOUND, "OUTBOUND", "jane.doe@example.com", ["a@b.example"],
            monkeypatch)


def test_internal_domains_come_from_workmail_when_the_flow_has_none(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = SIGNATURE.replace("internal_domains: [example.com, example.org]", "")
    _, message_id = run(env, flow, OUTBOUND, "OUTBOUND", "jane.doe@example.com",
                        ["m.dupont@partner.example.net"], monkeypatch)
    assert b"Head of Purchasing" in env.emulator.message(message_id)


def test_directory_workmail_without_an_organization_is_a_flow_error(
        env: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIMEOPS_ORGANIZATION_ID")
    response, message_id = run(env, SIGNATURE, OUTBOUND, "OUTBOUND", "jane.doe@example.com",
                               ["a@b.example"], monkeypatch)
    assert response == DEFAULT and env.emulator.puts(message_id) == []


# -- the WorkMail directory itself ------------------------------------------------------------


def test_paging_nested_groups_aliases_and_misses(aws: LocalAWS) -> None:
    org = "m-" + "a" * 32
    users = [{"email": f"user{i:03}@big.example", "display_name": f"User Number{i:03}"}
             for i in range(250)]
    users[7]["groups"] = ["team"]
    users[7]["aliases"] = ["seven@big.example"]
    aws.emulator.add_directory(org, parse_directory({"users": users, "groups": [
        {"name": "team", "email": "team@big.example", "groups": ["dept"]},
        {"name": "dept", "groups": ["company", "team"]},  # a cycle must not loop
        {"name": "company"},
    ]}))
    workmail = WorkMailDirectory(org, client=aws.client("workmail"))
    people = workmail.people()
    assert len(people) == 250 and people[249].display_name == "User Number249"
    assert workmail.groups("seven@big.example") == {"team", "dept", "company"}
    assert workmail.groups("team@big.example") == {"team", "dept", "company"}
    assert workmail.groups("nobody@big.example") == frozenset()
    user = workmail.user("SEVEN@big.example")
    assert user is not None and user.email == "user007@big.example"
    assert workmail.user("team@big.example") is None  # a group is no user
    assert workmail.user("nobody@big.example") is None
    assert workmail.user("j\u00f6rg@big.example") is None  # outside the Email pattern
    assert workmail.user("x" * 250 + "@big.example") is None  # longer than botocore allows
    workmail.deadline = time.monotonic() - 1
    with pytest.raises(DirectoryUnavailable, match="no time left"):
        workmail.user("user001@big.example")
    assert len(workmail.people()) == 250  # the index has its own time limit


def test_list_group_members_pages(aws: LocalAWS) -> None:
    client = aws.client("workmail")
    group = client.describe_entity(OrganizationId=ORG, Email="everyone@example.com")
    assert group["Type"] == "GROUP"
    pages = client.get_paginator("list_group_members").paginate(
        OrganizationId=ORG, GroupId=group["EntityId"], PaginationConfig={"PageSize": 1})
    members = [m["Name"] for page in pages for m in page["Members"]]
    assert sorted(members) == ["finance", "leadership", "purchasing"]


def test_wire_errors_have_the_aws_shapes(aws: LocalAWS) -> None:
    client = aws.client("workmail")
    with pytest.raises(ClientError) as info:
        client.describe_user(OrganizationId=ORG, UserId="nobody")
    assert info.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        client.list_users(OrganizationId=ORG, NextToken="not-ours")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    request = urllib.request.Request(
        aws.workmail_endpoint + "/", data=json.dumps({"OrganizationId": ORG}).encode(),
        headers={"X-Amz-Target": "WorkMailService.DescribeEntity",
                 "Content-Type": "application/x-amz-json-1.1"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(http.value.read())
    assert http.value.code == 400 and body["__type"] == "ValidationException"
    assert "Value null at 'email'" in body["Message"]


def test_mimeops_invoke_with_a_directory_file(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = subprocess.run(
        [sys.executable, "-m", "mimeops", "invoke", str(ROOT / "events" / "outbound.json"),
         "--message", str(ROOT / "events" / "messages" / "outbound.eml"),
         "--config", str(FLOWS / "directory-signature.yaml"),
         "--directory", str(DIRECTORY_FILE), "-o", str(out)],
        capture_output=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == DEFAULT
    assert b"Head of Purchasing" in out.read_bytes()


def test_template_grants_directory_reads_only_when_asked_and_only_on_the_organization() -> None:
    from cfnlint.decode import decode

    template, problems = decode(str(ROOT / "template.yaml"))
    assert not problems and template is not None
    assert template["Conditions"]["DirectoryFromWorkMail"] == {
        "Fn::Equals": [{"Ref": "UseDirectory"}, "true"]}
    assert template["Parameters"]["UseDirectory"]["Default"] == "false"
    function = template["Resources"]["MimeopsFunction"]["Properties"]
    granted = [p["Fn::If"] for p in function["Policies"]
               if isinstance(p, dict) and "Fn::If" in p
               and p["Fn::If"][0] == "DirectoryFromWorkMail"]
    assert len(granted) == 1 and granted[0][2] == {"Ref": "AWS::NoValue"}
    (statement,) = granted[0][1]["Statement"]
    assert sorted(statement["Action"]) == [
        "workmail:DescribeEntity", "workmail:DescribeUser", "workmail:ListGroupsForEntity",
        "workmail:ListMailDomains", "workmail:ListUsers"]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:workmail:${AWS::Region}:"
                                                "${AWS::AccountId}:organization/${OrganizationId}"}
    everything = json.dumps(template["Resources"])
    assert everything.count("workmail:Describe") == 2  # nowhere else
    assert function["Environment"]["Variables"]["MIMEOPS_ORGANIZATION_ID"] == {
        "Ref": "OrganizationId"}


def test_cache_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    directory.reset()
    monkeypatch.setenv("MIMEOPS_DIRECTORY_TTL", "42")
    monkeypatch.setenv("MIMEOPS_DIRECTORY_CACHE_SIZE", "7")
    cached = directory.directory("m-" + "b" * 32)
    assert (cached.ttl, cached.size) == (42.0, 7)
    assert directory.directory("m-" + "b" * 32) is cached  # one per organization
    directory.reset()


def test_admin_endpoint_seeds_a_directory(aws: LocalAWS) -> None:
    org = "m-" + "c" * 32
    body = {"organizationId": org, "directory": {"users": [
        {"email": "ann@c.example", "display_name": "Ann C", "groups": ["crew"]}]}}
    request = urllib.request.Request(aws.workmail_endpoint + "/_emulator/directories",
                                     data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
    workmail = WorkMailDirectory(org, client=aws.client("workmail"))
    assert workmail.groups("ann@c.example") == {"crew"}
    assert aws.client("workmail").list_mail_domains(OrganizationId=org)["MailDomains"] == [
        {"DomainName": "c.example", "DefaultDomain": True}]
    bad = {"organizationId": org, "directory": {"users": [{"email": "x"}]}}
    request = urllib.request.Request(aws.workmail_endpoint + "/_emulator/directories",
                                     data=json.dumps(bad).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(request, timeout=5)
    assert http.value.code == 400 and b"invalid address" in http.value.read()


def test_mimeops_serve_with_a_directory_file() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "mimeops", "serve", "--port", "0", "--directory",
         str(DIRECTORY_FILE), "--organization-id", ORG],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        env = {}
        for line in server.stdout:
            name, _, value = line.strip().partition("=")
            env[name] = value
            if name == "AWS_ENDPOINT_URL_WORKMAIL":
                break
        import boto3

        client = boto3.client("workmail", endpoint_url=env["AWS_ENDPOINT_URL_WORKMAIL"],
                              region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
        entity = client.describe_entity(OrganizationId=ORG, Email="jane@example.com")
        assert entity["Name"] == "jane.doe" and entity["Type"] == "USER"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_mimeops_invoke_serves_the_organization_the_flow_names(tmp_path: Path) -> None:
    import os

    message = tmp_path / "in.eml"
    message.write_bytes(re.sub(rb"(?m)^From: .*$", b'From: "Doe, Jane" <jd@outside.example>',
                               EXTERNAL, count=1))
    env = {**os.environ, "MIMEOPS_CONFIG": IMPERSONATION + f"\norganization_id: {ORG}\n"}
    out = tmp_path / "out.eml"
    done = subprocess.run(
        [sys.executable, "-m", "mimeops", "invoke", str(ROOT / "events" / "inbound-external.json"),
         "--message", str(message), "--directory", str(DIRECTORY_FILE), "-o", str(out)],
        capture_output=True, cwd=ROOT, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert b"POSSIBLE IMPERSONATION" in out.read_bytes()
