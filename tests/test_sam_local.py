"""`sam local invoke` against `mimeops serve`: the real SAM CLI, a real Docker engine.

The Docker tests run when an engine answers, SAM CLI is installed (.venv/tools/sam) and
the Lambda python3.13 image for this machine is present (users with a registry get it
from `sam local invoke` once; `.ci/run` builds a stand-in with ../shared/tools/sam-local.sh).
Otherwise they skip with the reason; under CI=true they fail instead. The rest (template,
botocore, `mimeops serve` options, exit codes without an engine) needs no Docker.
"""

from __future__ import annotations

import json
import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from mimeops_emulator import sam_env, sam_local
from mimeops_emulator.errors import DockerUnavailable

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / ".venv" / "tools" / "sam" / "bin" / "sam"
EVENT = ROOT / "events" / "inbound-external.json"
MESSAGE = ROOT / "events" / "messages" / "external.eml"
DEMO = ROOT / "examples" / "flows" / "demo.yaml"
MESSAGE_ID = json.loads(EVENT.read_text())["messageId"]
DEFAULT = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
ARCH = sam_local.machine_architecture()


# -- the template and botocore --------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) read as plain values."""


_CfnLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)))


def _template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), _CfnLoader)
    return loaded


def _function_variables() -> dict[str, Any]:
    function = _template()["Resources"]["MimeopsFunction"]["Properties"]
    variables: dict[str, Any] = function["Environment"]["Variables"]
    return variables


def test_template_declares_what_the_env_vars_file_sets_and_the_endpoints_empty() -> None:
    variables = _function_variables()
    # SAM passes an --env-vars value only for a declared variable
    for name in (*sam_env.SAM_ENV_NAMES, sam_env.MARKER_KEY):
        assert name in variables, name
    endpoints = {name: value for name, value in variables.items()
                 if name.startswith("AWS_ENDPOINT_URL")}
    assert set(endpoints) == {n for n in sam_env.SAM_ENV_NAMES if n.startswith("AWS_")}
    assert set(endpoints.values()) == {""}


def test_template_architecture_defaults_to_arm64_for_aws() -> None:
    template = _template()
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    function = template["Resources"]["MimeopsFunction"]["Properties"]
    assert function["Architectures"] == ["Architecture"]  # !Ref Architecture


def test_lambda_accepts_the_empty_endpoint_values() -> None:
    """Lambda's API model (botocore's copy) sets no minimum length for a value."""
    import botocore.session

    shapes = botocore.session.get_session().get_service_model("lambda").shape_for
    name_pattern = shapes("EnvironmentVariableName").metadata["pattern"]
    value = shapes("EnvironmentVariableValue").metadata
    assert "min" not in value and "pattern" not in value
    for name in _function_variables():
        assert re.fullmatch(name_pattern, name), name


@pytest.mark.parametrize("service", ["s3", "ssm", "workmailmessageflow", "workmail"])
def test_an_empty_endpoint_variable_leaves_the_aws_endpoint(
        service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the template's empty values do on AWS, with the botocore the project pins."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # no endpoint_url from a profile
    credentials: dict[str, Any] = {"region_name": "eu-west-1", "aws_access_key_id": "x",
                                   "aws_secret_access_key": "x"}
    for name, value in _function_variables().items():
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.setenv(name, value)
    empty = boto3.session.Session().client(service, **credentials)  # type: ignore[call-overload]
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    unset = boto3.session.Session().client(service, **credentials)  # type: ignore[call-overload]
    assert empty.meta.endpoint_url == unset.meta.endpoint_url
    assert re.fullmatch(r"https://[a-z0-9.-]+\.amazonaws\.com", empty.meta.endpoint_url)
    monkeypatch.setenv(name_for(service), "http://127.0.0.1:9")
    local = boto3.session.Session().client(service, **credentials)  # type: ignore[call-overload]
    assert local.meta.endpoint_url == "http://127.0.0.1:9"  # the variable is the right one


def name_for(service: str) -> str:
    return f"AWS_ENDPOINT_URL_{service.upper()}"


# -- mimeops serve: the env-vars file, preloaded messages, --docker -------------------------


class Serve:
    """`mimeops serve` in a child process; settings are its NAME=value lines."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mimeops", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in self.process.stdout or ():
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        self.settings: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "MIMEOPS_BUCKET" not in self.settings:
            if self.process.poll() is not None and lines.empty():
                raise AssertionError(f"mimeops serve exited: {self.stderr()}")
            try:
                line = lines.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                assert time.monotonic() < deadline, "mimeops serve printed no settings"
                continue
            name, _, value = line.strip().partition("=")
            self.settings[name] = value
        self.url = self.settings["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"]

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}/_emulator/{path}", timeout=10) as answer:
            body: bytes = answer.read()
        return body

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, Path]]:
    env_vars = tmp_path_factory.mktemp("serve") / "env.json"
    server = Serve("--env-vars-file", str(env_vars), "--event", str(EVENT),
                   "--message", str(MESSAGE))
    try:
        yield server, env_vars
    finally:
        server.stop()


def test_serve_writes_a_ready_env_vars_file(served: tuple[Serve, Path]) -> None:
    server, env_vars = served
    assert stat.S_IMODE(env_vars.stat().st_mode) == 0o600  # it holds the marker key
    values = json.loads(env_vars.read_text())["Parameters"]
    assert set(values) == {*sam_env.SAM_ENV_NAMES, sam_env.MARKER_KEY}
    for name in sam_env.SAM_ENV_NAMES:
        assert values[name] == server.settings[name]
    assert re.fullmatch(r"[0-9a-f]{64}", values[sam_env.MARKER_KEY])
    assert sam_env.MARKER_KEY not in server.settings  # not printed


def test_serve_has_the_event_message_in_transit(served: tuple[Serve, Path]) -> None:
    server, _ = served
    assert server.get(f"messages/{MESSAGE_ID}") == MESSAGE.read_bytes()
    assert json.loads(server.get(f"messages/{MESSAGE_ID}/puts")) == []


def test_two_servers_write_different_marker_keys(tmp_path: Path,
                                                 served: tuple[Serve, Path]) -> None:
    other = Serve("--env-vars-file", str(tmp_path / "other.json"))
    try:
        first = json.loads(served[1].read_text())["Parameters"][sam_env.MARKER_KEY]
        second = json.loads((tmp_path / "other.json").read_text())["Parameters"]
        assert first != second[sam_env.MARKER_KEY]
    finally:
        other.stop()


def _serve_fails(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "mimeops", "serve", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_serve_event_without_message_is_a_usage_error() -> None:
    assert "--message" in _serve_fails("--event", str(EVENT))


def test_serve_event_without_message_id_is_a_usage_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"subject": "no id"}')
    assert "has no messageId" in _serve_fails("--event", str(event), "--message", str(MESSAGE))


def _no_docker_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has no docker command."""
    return {**os.environ, "PATH": str(tmp_path)}


def test_serve_docker_without_an_engine_says_so(tmp_path: Path) -> None:
    err = _serve_fails("--docker", env=_no_docker_env(tmp_path))
    assert "--docker: no Docker engine answers (no docker command on PATH)" in err


def test_serve_docker_and_host_are_exclusive() -> None:
    assert "drop --host" in _serve_fails("--docker", "--host", "0.0.0.0")


def test_sam_local_without_an_engine_exits_2_with_one_line(tmp_path: Path) -> None:
    for env in (_no_docker_env(tmp_path),
                {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}):
        done = subprocess.run([sys.executable, "-m", "mimeops_emulator.sam_local"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                              check=False)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stdout == ""
        assert done.stderr.startswith("sam-local: no Docker engine answers ("), done.stderr


def test_make_sam_local_without_an_engine_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run(["make", "--no-print-directory", "sam-local"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert "sam-local: no Docker engine answers (" in done.stderr


@pytest.mark.parametrize(("configs", "gateway"), [
    ([{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}], "172.17.0.1"),
    ([{"Subnet": "172.18.0.0/16"}], "172.18.0.1"),  # docker0: the engine leaves Gateway out
    ([{"Subnet": "fd00::/64"}, {"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254"}], "10.9.0.254"),
])
def test_bridge_gateway_from_the_engine_config(configs: list[Any], gateway: str) -> None:
    assert sam_env._ipv4_gateway(configs) == gateway


def test_bridge_without_ipv4_is_reported() -> None:
    with pytest.raises(DockerUnavailable, match="no IPv4 subnet"):
        sam_env._ipv4_gateway([{"Subnet": "fd00::/64"}, "junk"])


# -- the real thing: sam build + sam local invoke in Docker ---------------------------------


def _docker_missing() -> str | None:
    """Why the Docker tests cannot run here, or None."""
    try:
        sam_env.docker_bridge_address()
    except DockerUnavailable as error:
        return f"no Docker engine answers ({error}): run ../shared/tools/sam-local.sh engine"
    if not SAM.exists():
        return f"no SAM CLI at {SAM.relative_to(ROOT)}: run make {SAM.relative_to(ROOT)}"
    image = sam_local.LAMBDA_IMAGE.format(arch=ARCH)
    if not sam_local._image_present(ARCH):
        return f"no {image} image: run ../shared/tools/sam-local.sh image {ARCH}"
    return None


@pytest.fixture(scope="module")
def docker() -> None:
    reason = _docker_missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def make_sam_local(docker: None, tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """What `make sam-local` runs, once, building into a scratch directory."""
    build = tmp_path_factory.mktemp("sam-local") / "build"
    done = subprocess.run(
        [sys.executable, "-m", "mimeops_emulator.sam_local", "--sam", str(SAM),
         "--arch", ARCH, "--build-dir", str(build)],
        capture_output=True, text=True, cwd=ROOT, timeout=1500, check=False)
    return done, build


@pytest.mark.docker
def test_make_sam_local_invokes_twice_and_updates_the_message_once(
        make_sam_local: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, _ = make_sam_local
    assert done.returncode == 0, done.stderr[-3000:]
    assert [json.loads(line) for line in done.stdout.splitlines()] == [DEFAULT, DEFAULT]
    assert "the emulator holds the updated message" in done.stderr
    assert "message not rewritten (still 1 Put)" in done.stderr
    # the function really ran in SAM's container and reached the emulator from there
    assert "inside runtime container" in done.stderr
    assert f"GET /messages/{MESSAGE_ID} -> 200" in done.stderr
    assert f"POST /messages/{MESSAGE_ID} -> 200" in done.stderr


def _apply(message: Path, key: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "mimeops", "apply", "--config", str(DEMO),
                           str(message), "-o", os.devnull],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
                          env={**os.environ, "MIMEOPS_MARKER_KEY": key})
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@pytest.mark.docker
def test_a_users_plain_sam_local_invoke_reaches_mimeops_serve(
        make_sam_local: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path) -> None:
    """The README's steps by hand: serve --docker --env-vars-file, then sam local invoke."""
    _, build = make_sam_local
    assert (build / "template.yaml").is_file()
    env_vars = tmp_path / "env.json"
    server = Serve("--docker", "--env-vars-file", str(env_vars), "--event", str(EVENT),
                   "--message", str(MESSAGE))
    try:
        assert not server.url.startswith("http://127.")  # reachable from a container
        invoke = [str(SAM), "local", "invoke", "-t", str(build / "template.yaml"),
                  "-e", str(EVENT), "--env-vars", str(env_vars), "--skip-pull-image",
                  "--parameter-overrides",
                  f"Architecture={ARCH} FlowConfig=examples/flows/demo.yaml"]
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
        done = subprocess.run(invoke, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout.strip().splitlines()[-1]) == DEFAULT
        puts = json.loads(server.get(f"messages/{MESSAGE_ID}/puts"))
        updated = server.get(f"messages/{MESSAGE_ID}")
        assert len(puts) == 1 and puts[0]["bucket"] == server.settings["MIMEOPS_BUCKET"]
        assert b"CAUTION: external sender m.dupont@partner.example.net" in updated
    finally:
        server.stop()
    # The second invocation in make_sam_local changed nothing because of the marker, keyed
    # by the env-vars file: with that key nothing applies, with any other key it would.
    written = tmp_path / "updated.eml"
    written.write_bytes(updated)
    key = json.loads(env_vars.read_text())["Parameters"][sam_env.MARKER_KEY]
    assert _apply(written, key)["changed"] is False
    assert _apply(written, "another key")["changed"] is True
