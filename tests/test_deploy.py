"""Deploying safely: the template's parameters and defaults, and packaging the user's flow.

The template must not deploy a flow nobody chose (the demo flow tags every inbound message
of an organization whose domains are not example.com), must say what each parameter is,
and the build must package the flow file the user names, wherever it lives, or stop.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.test_alarms import ALARMS, TEMPLATE

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "deploy.md").read_text()
README = (ROOT / "README.md").read_text()
PARAMETERS = TEMPLATE["Parameters"]
SAM = ROOT / ".venv" / "tools" / "sam" / "bin" / "sam"
WORKMAIL_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


def test_no_flow_is_deployed_by_default() -> None:
    flow = PARAMETERS["FlowConfig"]
    assert "Default" not in flow and flow["MinLength"] == 1
    assert TEMPLATE["Resources"]["MimeopsFunction"]["Properties"]["Environment"][
        "Variables"]["MIMEOPS_CONFIG"] == {"!Ref": "FlowConfig"}
    assert TEMPLATE["Outputs"]["FlowInForce"]["Value"] == {"!Ref": "FlowConfig"}


def test_every_parameter_is_explained_in_the_template_and_the_deploy_guide() -> None:
    rows = {line.split("`")[1] for line in GUIDE.splitlines()
            if line.startswith("| `") and line.count("|") == 3}
    assert rows == set(PARAMETERS)
    for name, parameter in PARAMETERS.items():
        assert len(parameter["Description"]) > 40, name
    labels = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in labels["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(PARAMETERS)


def test_the_template_refuses_regions_without_workmail() -> None:
    (assertion,) = TEMPLATE["Rules"]["WorkMailRegion"]["Assertions"]
    assert assertion["Assert"] == {"!Contains": [WORKMAIL_REGIONS, {"!Ref": "AWS::Region"}]}
    for region in WORKMAIL_REGIONS:
        assert f"`{region}`" in GUIDE and f"`{region}`" in README


def test_the_alarms_the_docs_count() -> None:
    assert len(ALARMS) == 10
    assert "ten alarms" in GUIDE and "ten\nCloudWatch alarms" in README
    for output in ("FunctionArn", "FlowInForce", "AlarmTopic", "Dashboard", "LogGroupName",
                   "BucketName"):
        assert output in TEMPLATE["Outputs"] and f"`{output}`" in GUIDE


def _package(tmp_path: Path, *flow: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FLOW", "MIMEOPS_FLOW", "MAKEFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-s", "package-flow",
                           f"ARTIFACTS_DIR={tmp_path / 'artifact'}", *flow],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_build_packages_a_flow_from_anywhere_as_flow_yaml(tmp_path: Path) -> None:
    mine = tmp_path / "elsewhere" / "acme.yaml"
    mine.parent.mkdir()
    mine.write_bytes((ROOT / "examples" / "flows" / "external-warning.yaml").read_bytes()
                     .replace(b"[example.com, example.org]", b"[acme.example]"))
    done = _package(tmp_path, f"FLOW={mine}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "artifact" / "flow.yaml").read_bytes() == mine.read_bytes()
    assert "deploy with FlowConfig=flow.yaml" in done.stdout


@pytest.mark.parametrize(("content", "said"), [
    (None, "no such file (give the path of your flow file)"),
    ("internal_domains: [example..com]\nrules: [{name: r, action: DROP}]\n",
     "'example..com' is not a valid domain name"),
    ("rules:\n  - name: r\n    apply: [{bannr: {text: x}}]\n", "unknown op 'bannr'"),
])
def test_the_build_refuses_a_missing_or_invalid_flow(tmp_path: Path, content: str | None,
                                                     said: str) -> None:
    flow = tmp_path / "flow.yaml"
    if content is not None:
        flow.write_text(content)
    (tmp_path / "artifact").mkdir()
    (tmp_path / "artifact" / "flow.yaml").write_text("stale")  # from an earlier build
    done = _package(tmp_path, f"FLOW={flow}")
    assert done.returncode == 2, done.stdout
    assert said in done.stderr
    assert not (tmp_path / "artifact" / "flow.yaml").exists()


def test_the_build_without_a_flow_packages_none_and_says_so(tmp_path: Path) -> None:
    done = _package(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no flow.yaml packaged" in done.stdout
    assert not (tmp_path / "artifact" / "flow.yaml").exists()


@pytest.mark.slow
def test_sam_build_packages_the_flow_named_in_its_environment(tmp_path: Path) -> None:
    """The real path: `sam build` runs the Makefile's build with MIMEOPS_FLOW set."""
    if not SAM.exists():
        pytest.skip(f"no SAM CLI at {SAM.relative_to(ROOT)}: make lint installs it")
    mine = tmp_path / "acme.yaml"
    mine.write_bytes((ROOT / "examples" / "flows" / "outbound-disclaimer.yaml").read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in ("FLOW", "MAKEFLAGS")}
    done = subprocess.run([str(SAM), "build", "--build-dir", str(tmp_path / "build")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
                          env={**env, "MIMEOPS_FLOW": str(mine), "SAM_CLI_TELEMETRY": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    built = tmp_path / "build" / "MimeopsFunction"
    assert (built / "flow.yaml").read_bytes() == mine.read_bytes()
    assert (built / "handlers" / "app.py").is_file()
