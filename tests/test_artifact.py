"""The `sam build` artifact alone runs the handler: proof the deployment package is complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build" / "MimeopsFunction"

needs_sam_build = pytest.mark.skipif(
    not (BUILD / "handlers" / "app.py").is_file(),
    reason="no sam build artifact: run `make sam-build` (make test does)")

SCRIPT = """
import json, sys
import re2  # compiled for python3.13/arm64 in the artifact: this Python loads its own build
sys.path.insert(0, sys.argv[1])          # the artifact first, as in Lambda's /var/task
import mimeops, mimeops_workmail.app, handlers.app, yaml, email_validator, aws_lambda_powertools
from mimeops_emulator import LocalAWS   # the emulator is a test tool, not in the artifact
from mimeops_workmail.local import LocalContext
event = json.load(open(sys.argv[2]))
with LocalAWS() as aws, aws.patch_env():
    import os
    os.environ["MIMEOPS_CONFIG"] = "examples/flows/demo.yaml"   # a path inside the package
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["MIMEOPS_MARKER_KEY"] = "artifact-test"
    aws.emulator.add_message(open(sys.argv[3], "rb").read(), message_id=event["messageId"])
    response = handlers.app.lambda_handler(event, LocalContext())
    updated = aws.emulator.message(event["messageId"])
print(json.dumps({"response": response, "banner": b"CAUTION: external sender" in updated,
                  "files": [m.__file__ for m in (mimeops, handlers.app, yaml,
                                                 email_validator, aws_lambda_powertools)]}))
"""


@needs_sam_build
def test_built_artifact_handles_an_event(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(BUILD), str(ROOT / "events/inbound-external.json"),
         str(ROOT / "events/messages/external.eml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["response"] == {"actions": [{"action": {"type": "DEFAULT"},
                                               "allRecipients": True}]}
    assert result["banner"] is True
    for path in result["files"]:
        assert Path(path).resolve().is_relative_to(BUILD.resolve()), path
    assert not (BUILD / "tests").exists() and not (BUILD / "mimeops_emulator").exists()
    # RE2 (header regexes) ships compiled for the function's runtime: python3.13 on arm64.
    assert list((BUILD / "re2").glob("_re2.cpython-313-aarch64-linux-gnu*.so"))


PLUGIN_SCRIPT = """
import json, sys
import re2  # this Python's own build, as above
sys.path.insert(0, sys.argv[1])
import mimeops, handlers.app, linkguard
from mimeops_emulator import LocalAWS
from mimeops_workmail.local import LocalWorkMail
event = json.load(open(sys.argv[2]))
with LocalAWS() as aws, aws.patch_env():
    import os
    os.environ["MIMEOPS_CONFIG"] = open(sys.argv[4]).read()
    os.environ["MIMEOPS_MARKER_KEY"] = "artifact-test"
    done = LocalWorkMail(aws).run(event, open(sys.argv[3], "rb").read())
print(json.dumps({"response": done.response, "defanged": b"hxxps://" in done.message,
                  "files": [m.__file__ for m in (mimeops, linkguard)]}))
"""


@pytest.mark.slow
def test_plugins_listed_in_a_requirements_file_ship_in_the_artifact(tmp_path: Path) -> None:
    """`make build-MimeopsFunction` (what `sam build` runs) with PLUGINS: the example
    plugin and its metadata are in the artifact, and the handler running from the
    artifact alone finds the plugin's names (docs/extending.md, "Ship plugins")."""
    artifact = tmp_path / "artifact"
    plugins = tmp_path / "requirements-plugins.txt"
    plugins.write_text("# a path inside the project, as a user's plugin folder would be\n"
                       "examples/plugins/linkguard\n")
    built = subprocess.run(["make", "--no-print-directory", "build-MimeopsFunction",
                            f"ARTIFACTS_DIR={artifact}", f"PLUGINS={plugins}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    assert list(artifact.glob("mimeops_linkguard-*.dist-info/entry_points.txt"))
    assert not (artifact / "mimeops_emulator").exists()
    assert not (artifact / "mimeops_smtp").exists()
    event = json.loads((ROOT / "events/inbound-external.json").read_text())
    event["envelope"]["mailFrom"]["address"] = "support@bank-secure.example.net"
    (tmp_path / "event.json").write_text(json.dumps(event))
    plugin = ROOT / "examples/plugins/linkguard"
    done = subprocess.run(
        [sys.executable, "-c", PLUGIN_SCRIPT, str(artifact), str(tmp_path / "event.json"),
         str(plugin / "tests/phish.eml"), str(plugin / "flow.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["defanged"] is True
    for path in result["files"]:
        assert Path(path).resolve().is_relative_to(artifact.resolve()), path
