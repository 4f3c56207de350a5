"""`make sam-local`: `sam build`, then `sam local invoke` against `mimeops serve`, checked.

The whole path a developer takes before `sam deploy`, run for real: the function is built
for this machine's architecture, runs in SAM's Lambda container, and reaches the emulator
(and moto S3) on the Docker bridge address through the `--env-vars` file `mimeops serve`
writes. Success means the emulator holds the updated message; the same event invoked a
second time must leave it alone (the marker makes applying idempotent). Exit 0 then,
2 with one line when no Docker engine answers, 1 with one line for anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .errors import DockerUnavailable, SamLocalFailed
from .local import INTERFERING_ENV
from .sam_env import docker_bridge_address

__all__ = ["machine_architecture", "main"]

LAMBDA_IMAGE = "public.ecr.aws/lambda/python:3.13-{arch}"
"""The base image SAM derives from the template's Runtime (python3.13) and Architectures."""

DEMO_FLOW = "examples/flows/demo.yaml"
"""The flow `make sam-local` runs: a recipe every build packages (template FlowConfig has
no default, so the local run names one)."""

SERVE_START_S = 60.0
BUILD_S = 900.0
INVOKE_S = 300.0


def machine_architecture() -> str:
    """This machine's Lambda architecture name: arm64 or x86_64."""
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


def _say(line: str) -> None:
    print(f"sam-local: {line}", file=sys.stderr, flush=True)


def _run(command: list[str], what: str, timeout: float,
         env: dict[str, str] | None = None) -> str:
    """Run ``command``; its stderr passes through, its stdout is returned."""
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=timeout,
                              env=env, check=False)
    except FileNotFoundError:
        raise SamLocalFailed(f"{what}: {command[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise SamLocalFailed(f"{what}: no result within {timeout:g} s") from None
    if done.returncode != 0:
        raise SamLocalFailed(f"{what} failed (exit {done.returncode}; its output is above)")
    return done.stdout


class Served:
    """`mimeops serve --docker` in a child process, with its printed settings."""

    def __init__(self, env_vars_file: Path, event: str, message: str) -> None:
        command = [sys.executable, "-m", "mimeops", "serve", "--docker", "--port", "0",
                   "--env-vars-file", str(env_vars_file), "--event", event, "--message", message]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            self.settings = self._read_settings(self.process.stdout)
        except BaseException:
            self.stop()
            raise
        self.url = self.settings["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"]

    def _read_settings(self, stream: IO[str] | None) -> dict[str, str]:
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in stream or ():
                lines.put(line)
            lines.put("")

        threading.Thread(target=pump, daemon=True).start()
        settings: dict[str, str] = {}
        deadline = time.monotonic() + SERVE_START_S
        while "MIMEOPS_BUCKET" not in settings:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SamLocalFailed(f"mimeops serve printed no settings within "
                                     f"{SERVE_START_S:g} s") from None
            if not line:
                raise SamLocalFailed("mimeops serve exited (its error is above)")
            name, _, value = line.strip().partition("=")
            settings[name] = value
        return settings

    def get(self, path: str) -> bytes:
        """An admin endpoint's body (``/_emulator/...``)."""
        with urllib.request.urlopen(f"{self.url}/_emulator/{path}", timeout=10) as answer:
            body: bytes = answer.read()
        return body

    def state(self, message_id: str) -> tuple[bytes, list[Any]]:
        """The message's current content and its accepted Puts."""
        puts = json.loads(self.get(f"messages/{message_id}/puts"))
        return self.get(f"messages/{message_id}"), puts if isinstance(puts, list) else []

    def stop(self) -> None:
        """SIGTERM, then wait (serve stops both servers cleanly on it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _sam_environment(settings: dict[str, str]) -> dict[str, str]:
    """SAM's own environment: the emulator's dummy credentials and region.

    SAM copies its session's credentials into the container; a developer's real AWS
    profile has no business there (and a named profile would win over the keys).
    """
    env = {name: value for name, value in os.environ.items() if name not in INTERFERING_ENV}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                 "AWS_DEFAULT_REGION"):
        env[name] = settings[name]
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def _image_present(arch: str) -> bool:
    command = ["docker", "image", "inspect", LAMBDA_IMAGE.format(arch=arch)]
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0


def _response(stdout: str) -> dict[str, Any]:
    """The function's response: the last JSON object SAM printed on stdout."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise SamLocalFailed("sam local invoke printed no JSON response")


def run(args: argparse.Namespace) -> None:
    """Every step; raises DockerUnavailable or SamLocalFailed."""
    docker_bridge_address()  # no engine: say so before minutes of building
    event = json.loads(Path(args.event).read_text(encoding="utf-8"))
    message_id = event.get("messageId") if isinstance(event, dict) else None
    if not isinstance(message_id, str):
        raise SamLocalFailed(f"event {args.event} has no messageId")
    original = Path(args.message).read_bytes()
    build_dir = Path(args.build_dir)
    # FlowConfig has no default (a deploy must choose its flow): the packaged demo flow here.
    override = ["--parameter-overrides", f"Architecture={args.arch} FlowConfig={DEMO_FLOW}"]
    _say(f"sam build for {args.arch} into {build_dir}")
    _run([args.sam, "build", "--template", args.template, "--build-dir", str(build_dir),
          *override], "sam build", BUILD_S, env={**os.environ, "LAMBDA_ARCH": args.arch})
    with tempfile.TemporaryDirectory(prefix="mimeops-sam-local-") as scratch:
        env_vars = Path(scratch) / "env.json"
        served = Served(env_vars, args.event, args.message)
        try:
            _say(f"mimeops serve answers on {served.url}; --env-vars {env_vars}")
            invoke = [args.sam, "local", "invoke", args.function,
                      "--template", str(build_dir / "template.yaml"), "--event", args.event,
                      "--env-vars", str(env_vars), *override]
            if _image_present(args.arch):
                invoke.append("--skip-pull-image")
            sam_env = _sam_environment(served.settings)
            response = _response(_run(invoke, "sam local invoke", INVOKE_S, env=sam_env))
            print(json.dumps(response), flush=True)
            updated, puts = served.state(message_id)
            if len(puts) != 1 or updated == original:
                raise SamLocalFailed(f"the emulator does not hold an updated message "
                                     f"({len(puts)} accepted Puts)")
            _say(f"the emulator holds the updated message ({len(original)} -> "
                 f"{len(updated)} bytes, 1 Put)")
            again = _response(_run(invoke, "sam local invoke (again)", INVOKE_S, env=sam_env))
            print(json.dumps(again), flush=True)
            after, puts = served.state(message_id)
            if len(puts) != 1 or after != updated:
                raise SamLocalFailed(f"the same event rewrote the message again "
                                     f"({len(puts)} accepted Puts)")
            _say("the same event again: message not rewritten (still 1 Put)")
        finally:
            served.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; the exit status is the contract above."""
    parser = argparse.ArgumentParser(prog="python -m mimeops_emulator.sam_local",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sam", default="sam", help="the SAM CLI (default: sam on PATH)")
    parser.add_argument("--arch", choices=("x86_64", "arm64"), default=machine_architecture(),
                        help="architecture to build and run (default: this machine's)")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--build-dir", default=".aws-sam/local",
                        help="kept apart from .aws-sam/build, the arm64 build for deploy")
    parser.add_argument("--function", default="MimeopsFunction")
    parser.add_argument("--event", default="events/inbound-external.json")
    parser.add_argument("--message", default="events/messages/external.eml",
                        help="the raw MIME in transit under the event's messageId")
    parser.add_argument("--check-engine", action="store_true",
                        help="only check that a Docker engine answers (exit 0, else 2)")
    args = parser.parse_args(argv)
    try:
        if args.check_engine:
            docker_bridge_address()
        else:
            run(args)
    except DockerUnavailable as error:
        _say(f"no Docker engine answers ({error}); sam local invoke needs one")
        return 2
    except (SamLocalFailed, OSError, ValueError) as error:
        _say(str(error))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
