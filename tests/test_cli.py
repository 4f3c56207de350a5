"""`mimeops apply` as a user runs it: real process, real files, exit codes, one-line JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "flows" / "demo.yaml"
EXTERNAL = ROOT / "events" / "messages" / "external.eml"
INTERNAL = ROOT / "events" / "messages" / "internal.eml"


def mimeops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mimeops", *args], capture_output=True,
                          cwd=ROOT, env=env, timeout=60, check=False)


def test_apply_writes_output_and_prints_one_json_line(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = mimeops("apply", "--config", str(DEMO), str(EXTERNAL), "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["changed"] is True and summary["skipped"] is None
    assert summary["applied"][:2] == ["external-warning:banner", "external-warning:subject_prefix"]
    assert summary["actions"] == [{"action": {"type": "DEFAULT"}, "allRecipients": True}]
    assert b"CAUTION: external sender m.dupont@partner.example.net" in out.read_bytes()

    again = tmp_path / "again.eml"
    second = mimeops("apply", "--config", str(DEMO), str(out), "-o", str(again))
    assert json.loads(second.stdout)["changed"] is False
    assert again.read_bytes() == out.read_bytes()


def test_apply_without_output_streams_message_and_summary_to_stderr() -> None:
    done = mimeops("apply", "--config", str(DEMO), str(INTERNAL))
    assert done.returncode == 0
    assert done.stdout == INTERNAL.read_bytes()  # internal sender: unchanged, byte for byte
    assert json.loads(done.stderr.decode().strip().splitlines()[-1])["changed"] is False


def test_direction_and_envelope_flags() -> None:
    done = mimeops("apply", "--config", str(DEMO), "--direction", "OUTBOUND",
                   "--mail-from", "jane.doe@example.com", "--recipient", "a@partner.example.net",
                   str(INTERNAL))
    summary = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert summary["applied"] == ["legal-footer:footer"]
    assert b"Confidential." in done.stdout


def test_invalid_flow_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "flow.yaml"
    bad.write_text("rules:\n  - name: r\n    apply: [{explode: {}}]\n")
    done = mimeops("apply", "--config", str(bad), str(EXTERNAL))
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.count("\n") == 1 and "rule 'r'" in err and "unknown op 'explode'" in err


def test_bad_usage_exits_2_with_one_line() -> None:
    for args in (("apply", str(EXTERNAL)),  # no --config
                 ("apply", "--config", str(DEMO), "--direction", "SIDEWAYS", str(EXTERNAL)),
                 ("apply", "--config", str(DEMO), "/no/such/message.eml")):
        done = mimeops(*args)
        assert done.returncode == 2, args
        assert done.stderr.decode().count("\n") == 1, done.stderr
        assert done.stderr.startswith(b"mimeops: error: ")


MISTAKES = {
    "unknown op": ("apply: [{stamp: x}]", "apply (line 3)[0]: unknown op 'stamp'"),
    "bad regex": ("when: {header: {Subject: '(['}}\n    action: DROP",
                  "when (line 3).header.Subject: bad regular expression"),
    "unknown field": ("apply: [{banner: {text: '{who}'}}]", "unknown template field {who}"),
    "inbound-only on outbound": ("when: {direction: OUTBOUND}\n    action: BYPASS_SPAM_CHECK",
                                 "BYPASS_SPAM_CHECK is allowed only on inbound mail"),
    "wrong type": ("apply: [{subject_prefix: [a, b]}]",
                   "apply (line 3)[0].subject_prefix: must be a string, got list"),
}


def test_each_flow_mistake_exits_2_naming_rule_and_field(tmp_path: Path) -> None:
    for name, (body, expected) in MISTAKES.items():
        flow = tmp_path / "flow.yaml"
        flow.write_text(f"rules:\n  - name: my-rule\n    {body}\n")
        done = mimeops("apply", "--config", str(flow), str(EXTERNAL))
        err = done.stderr.decode()
        assert done.returncode == 2, name
        assert err.count("\n") == 1 and "rule 'my-rule'" in err and expected in err, (name, err)


def test_serve_runs_the_emulator_for_boto3_clients(tmp_path: Path) -> None:
    import socket
    import urllib.request

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mimeops", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        settings = {}
        assert server.stdout is not None
        while "MIMEOPS_BUCKET" not in settings:
            line = server.stdout.readline()
            assert line, "mimeops serve exited before printing its settings"
            name, _, value = line.strip().partition("=")
            settings[name] = value
        url = settings["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"]
        assert url == f"http://127.0.0.1:{port}"
        raw = EXTERNAL.read_bytes()
        request = urllib.request.Request(f"{url}/_emulator/messages?id=serve-test", data=raw)
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["messageId"] == "serve-test"
        client = boto3.client("workmailmessageflow", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        got = client.get_raw_message_content(messageId="serve-test")["messageContent"].read()
        assert got == raw
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_invoke_prints_the_handler_response_as_json(tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = mimeops("invoke", str(ROOT / "events" / "inbound-external.json"),
                   "--message", str(EXTERNAL), "--config", str(DEMO), "-o", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"actions": [{"action": {"type": "DEFAULT"},
                                                    "allRecipients": True}]}
    assert f"rewritten message: {out}" in done.stderr.decode()
    assert b"CAUTION: external sender m.dupont@partner.example.net" in out.read_bytes()


def test_invoke_with_an_invalid_event_file_exits_2(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{not json")
    done = mimeops("invoke", str(event), "--message", str(EXTERNAL), "--config", str(DEMO))
    assert done.returncode == 2
    assert done.stderr.decode().startswith("mimeops: error: event is not valid JSON")
