"""Mistakes a user makes at the command line: one line on stderr naming the file or value,
the right exit code, never a hang, a traceback or a silent success. Real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import mimeops
from tests.test_cli import EXTERNAL, ROOT
from tests.test_cli import mimeops as run_mimeops

EVENT = ROOT / "events" / "inbound-external.json"


def one_line(done: subprocess.CompletedProcess[bytes]) -> str:
    err = done.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("mimeops: error: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("kind", ["missing", "missing-no-suffix", "directory", "fifo", "empty"])
def test_bad_config_path_is_named_in_one_line(tmp_path: Path, kind: str) -> None:
    target = {
        "missing": tmp_path / "flows" / "typo.yaml",
        "missing-no-suffix": tmp_path / "flow.conf",
        "directory": tmp_path,
        "fifo": tmp_path / "pipe",
    }.get(kind)
    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe")
    config = "" if target is None else str(target)
    done = run_mimeops("apply", "--config", config, str(EXTERNAL))
    assert done.returncode == 2
    err = one_line(done)
    if target is not None:
        assert str(target) in err
    expected = {"missing": "No such file", "missing-no-suffix": "No such file",
                "directory": "is a directory", "fifo": "not a regular file",
                "empty": "the flow is empty"}[kind]
    assert expected in err


@pytest.mark.parametrize("inline", [
    "rules: [{name: t, apply: [{subject_prefix: '[T]'}]}]",
    '{"rules": [{"name": "t", "apply": [{"subject_prefix": "[T]"}]}]}',
    "--- {rules: [{name: t, apply: [{subject_prefix: '[T]'}]}]}",
])
def test_inline_flow_text_is_still_a_flow(inline: str, tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = run_mimeops("apply", "--config", inline, str(EXTERNAL), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert b"Subject: [T] " in out.read_bytes()


def test_version_is_the_package_version() -> None:
    done = run_mimeops("--version")
    assert done.returncode == 0
    assert done.stdout.decode().strip() == f"mimeops {mimeops.__version__}"
    from importlib.metadata import version

    assert version("mimeops") == mimeops.__version__  # pyproject reads it from the package


def test_invoke_without_any_flow_is_an_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MIMEOPS_CONFIG"}
    done = run_mimeops("invoke", str(EVENT), "--message", str(EXTERNAL), env=env)
    assert done.returncode == 2
    assert "--config" in one_line(done) and "MIMEOPS_CONFIG" in done.stderr.decode()


@pytest.mark.parametrize(("port", "says"), [("99999", "0-65535"), ("-1", "0-65535"),
                                            ("http", "not a port number")])
def test_serve_port_out_of_range_is_a_usage_error(port: str, says: str) -> None:
    done = run_mimeops("serve", "--port", port)
    assert done.returncode == 2
    assert says in one_line(done)


def test_serve_unknown_host_fails_fast_in_one_line() -> None:
    done = run_mimeops("serve", "--host", "bad.invalid")  # 60 s timeout: it must not hang
    assert done.returncode == 2
    assert "bad.invalid" in one_line(done)


def test_serve_port_in_use_fails_fast_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_mimeops("serve", "--port", str(port))
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in one_line(done)


# Each documented command that needs an extra, with a module of that extra hidden.
HIDE = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
from mimeops.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("command", "hidden"), [
    (["invoke", str(EVENT), "--message", str(EXTERNAL), "--config", "examples/flows/demo.yaml"],
     {"moto"}),
    (["invoke", str(EVENT), "--message", str(EXTERNAL), "--config", "examples/flows/demo.yaml"],
     {"boto3", "botocore", "aws_lambda_powertools"}),
    (["serve", "--port", "0"], {"moto"}),
    (["serve", "--port", "0"], {"boto3"}),
    (["serve", "--port", "0"], {"flask"}),
    (["smtp-filter", "--config", "examples/flows/demo.yaml", "--listen", "127.0.0.1:0",
      "--next-hop", "127.0.0.1:25"], {"aiosmtpd"}),
])
def test_missing_extra_is_a_one_line_usage_error(command: list[str], hidden: set[str]) -> None:
    code = HIDE.format(hidden=sorted(hidden))
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True,
                          cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 2  # like every usage error: the command cannot run as installed
    extra = "smtp" if command[0] == "smtp-filter" else "local"
    err = one_line(done)
    assert f"'mimeops {command[0]}' needs the '{extra}' extra" in err
    assert f"pip install 'mimeops[{extra}]'" in err


@pytest.mark.parametrize("command", [
    ["apply", "--config", "examples/flows/demo.yaml", str(EXTERNAL), "-o", "/dev/null"],
    ["schema"], ["--help"], ["--version"],
])
def test_engine_commands_need_no_extra(command: list[str]) -> None:
    code = HIDE.format(hidden=["aws_lambda_powertools", "boto3", "botocore", "moto"])
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True,
                          cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-500:]


def test_missing_file_with_a_colon_in_its_name_is_still_a_path(tmp_path: Path) -> None:
    missing = tmp_path / "flows: v2.yaml"
    done = run_mimeops("apply", "--config", str(missing), str(EXTERNAL))
    assert done.returncode == 2
    assert str(missing) in one_line(done) and "No such file" in done.stderr.decode()
