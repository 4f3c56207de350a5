"""Cold start: import times and the first invocation, each in a fresh interpreter.

The emulator (moto S3 + WorkMail Message Flow) runs in this process and is
started before any measurement; the children reach it over HTTP through the
standard AWS_ENDPOINT_URL_* settings, as the handler reaches AWS.

Bytecode matters at cold start, so it is controlled: every child runs with
`-X pycache_prefix=DIR` and writes no bytecode.

* "compiled": DIR holds .pyc for every module (a warm-up child wrote them).
  This is the like-for-like comparison with `import boto3`.
* "as packaged": DIR lacks the .pyc of what the SAM package ships (mimeops,
  handlers, powertools, PyYAML, email-validator and their dependencies), as a
  build on a machine without python3.13 ships it (the build installs with
  --no-compile, deletes __pycache__ and compiles only with the runtime's Python),
  and /var/task is read-only, so Lambda compiles those modules at every cold
  start: the worst case. boto3 and the standard library keep their .pyc (the
  runtime provides them).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.approaches import FLOW_YAML, MARKER_KEY
from bench.messages import SENDER

ROOT = Path(__file__).resolve().parent.parent
# Bytecode of the "compiled" children, kept between runs (bench/results/ is not in git);
# Python itself recompiles a module whose source changed.
PYCACHE = Path(__file__).resolve().parent / "results" / "pycache"
EVENT_TEMPLATE = ROOT / "events" / "inbound-external.json"
DEFAULT = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
_CHILD_TIMEOUT = 300


@dataclass
class Series:
    """Seconds measured in separate processes."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def best(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    def minus(self, other: Series) -> Series:
        """Run-by-run differences (the two series were measured in pairs)."""
        return Series([a - b for a, b in zip(self.samples, other.samples, strict=True)])


@dataclass
class ColdStart:
    runs: int
    boto3_import: Series = field(default_factory=Series)
    handler_import: Series = field(default_factory=Series)
    boto3_import_cpu: Series = field(default_factory=Series)
    handler_import_cpu: Series = field(default_factory=Series)
    first_invocation: Series = field(default_factory=Series)
    second_invocation: Series = field(default_factory=Series)
    packaged_import: Series = field(default_factory=Series)
    packaged_first_invocation: Series = field(default_factory=Series)
    packaged_cpu: Series = field(default_factory=Series)  # import + first invocation, CPU s
    rss_after_import_mb: Series = field(default_factory=Series)
    rss_after_first_mb: Series = field(default_factory=Series)
    updated: bool = True  # every measured invocation answered DEFAULT and Put the message
    # A warm invocation with the largest message: size_mb, seconds, cpu_seconds, rss (MiB)
    large: dict[str, float] = field(default_factory=dict)


class _Children:
    """Runs bench._child in fresh interpreters against one LocalAWS."""

    def __init__(self, aws: Any, tmp: Path) -> None:
        self.aws = aws
        self.tmp = tmp
        self.count = 0
        env = {k: v for k, v in os.environ.items()
               if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                            "AWS_SECURITY_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                            "POWERTOOLS_METRICS_DISABLED", "PYTHONPATH")}
        env.update(aws.env)
        env.update({
            "MIMEOPS_CONFIG": FLOW_YAML,
            "MIMEOPS_MARKER_KEY": MARKER_KEY.decode(),
            "POWERTOOLS_SERVICE_NAME": "mimeops",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.env = env
        self.message_ids: list[str] = []

    def event(self, raw: bytes) -> Path:
        event = json.loads(EVENT_TEMPLATE.read_text())
        event["messageId"] = message_id = self.aws.emulator.add_message(raw)
        event["envelope"]["mailFrom"]["address"] = SENDER
        self.message_ids.append(message_id)
        self.count += 1
        path = self.tmp / f"event-{self.count}.json"
        path.write_text(json.dumps(event))
        return path

    def run(self, mode: str, pycache: Path, events: Sequence[Path] = (), *,
            write_bytecode: bool = False) -> dict[str, Any]:
        self.count += 1
        out = self.tmp / f"result-{self.count}.json"
        env = dict(self.env)
        if write_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE")
        command = [sys.executable, "-X", f"pycache_prefix={pycache}", "-m", "bench._child",
                   mode, str(out), *map(str, events)]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                              timeout=_CHILD_TIMEOUT, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"cold-start child {mode} failed ({done.returncode}):\n"
                               + done.stderr.decode(errors="replace")[-2000:])
        result: dict[str, Any] = json.loads(out.read_text())
        return result

    def updated(self, result: dict[str, Any], count: int) -> bool:
        """Every invocation answered DEFAULT and its message was really updated."""
        recent = self.message_ids[-count:]
        return all(i["response"] == DEFAULT for i in result["invocations"]) and all(
            self.aws.emulator.puts(mid) for mid in recent)


def _strip_bundled(compiled: Path, packaged: Path, caches: list[str]) -> None:
    """`packaged` = `compiled` less the .pyc of the bundled modules."""
    shutil.copytree(compiled, packaged)
    for cache in caches:
        target = packaged / Path(cache).relative_to(compiled)
        target.unlink(missing_ok=True)


def measure(runs: int, message: bytes, large_message: bytes | None = None,
            pycache: Path = PYCACHE) -> ColdStart:
    """`runs` fresh interpreters of each kind, interleaved; `message` is the one processed."""
    from mimeops_emulator import LocalAWS

    result = ColdStart(runs)
    with tempfile.TemporaryDirectory(prefix="mimeops-bench-") as tmp_name, LocalAWS() as aws:
        tmp = Path(tmp_name)
        compiled, packaged = pycache.resolve(), tmp / "pyc-packaged"
        compiled.mkdir(parents=True, exist_ok=True)
        children = _Children(aws, tmp)
        # Warm-up: writes the .pyc of everything a full invocation imports (once: they stay).
        warm = children.run("handler", compiled, [children.event(message)], write_bytecode=True)
        children.run("boto3", compiled, write_bytecode=True)
        _strip_bundled(compiled, packaged, warm["bundled_caches"])

        for round_ in range(runs):
            # boto3 alone and the handler back to back, in alternating order: their
            # difference is measured under the same load.
            if round_ % 2:
                handler = children.run("handler", compiled,
                                       [children.event(message), children.event(message)])
                boto = children.run("boto3", compiled)
            else:
                boto = children.run("boto3", compiled)
                handler = children.run("handler", compiled,
                                       [children.event(message), children.event(message)])
            result.boto3_import.samples.append(boto["import_s"])
            result.boto3_import_cpu.samples.append(boto["import_cpu_s"])
            result.handler_import.samples.append(handler["import_s"])
            result.handler_import_cpu.samples.append(handler["import_cpu_s"])
            first, second = handler["invocations"]
            result.first_invocation.samples.append(first["seconds"])
            result.second_invocation.samples.append(second["seconds"])
            result.rss_after_import_mb.samples.append(handler["rss_after_import_mb"])
            result.rss_after_first_mb.samples.append(handler["rss_peak_mb"])
            result.updated &= children.updated(handler, 2)

            as_packaged = children.run("handler", packaged, [children.event(message)])
            result.packaged_import.samples.append(as_packaged["import_s"])
            result.packaged_first_invocation.samples.append(
                as_packaged["invocations"][0]["seconds"])
            result.packaged_cpu.samples.append(
                as_packaged["import_cpu_s"] + as_packaged["invocations"][0]["cpu_seconds"])
            result.updated &= children.updated(as_packaged, 1)

        if large_message is not None:
            # A warm container meeting the largest message WorkMail hands over.
            big = children.run("handler", compiled,
                               [children.event(message), children.event(large_message)])
            result.updated &= children.updated(big, 2)
            result.large = {
                "size_mb": len(large_message) / 2**20,
                "seconds": big["invocations"][1]["seconds"],
                "cpu_seconds": big["invocations"][1]["cpu_seconds"],
                "rss_after_import_mb": big["rss_after_import_mb"],
                "rss_peak_mb": big["rss_peak_mb"],
            }
    return result
