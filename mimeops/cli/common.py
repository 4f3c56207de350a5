"""What every `mimeops` subcommand shares: one-line usage errors, file I/O, extras hints.

Subcommands live in their own modules and packages and register through the
`mimeops.commands` entry-point group, so the engine's CLI never imports the AWS
side: a transport adds commands by declaring an entry point, not by being imported.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import NoReturn

from mimeops.cli import marker_key
from mimeops.directory import load_directory
from mimeops.errors import DirectoryError, FlowError
from mimeops.flow import Flow, load_flow

USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"mimeops: error: {message}\n")


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Stop the command with one line on stderr (exit 2: the user's input is at fault)."""
    sys.stderr.write(f"mimeops: error: {message}\n")
    raise SystemExit(code)


def read(path: str, what: str) -> bytes:
    """The bytes of `path` ('-' is stdin), or a one-line error naming the file."""
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        fail(f"cannot read {what} {path}: {error.strerror}")


def write(path: str, data: bytes) -> None:
    """Write `data` to `path`, or a one-line error naming the file."""
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}", 1)


def port_number(text: str) -> int:
    """argparse type for a TCP port: 0-65535 (0: any free port), else a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return number


def check_listen(host: str, port: int) -> None:
    """Fail fast, in one line, when `host:port` cannot be listened on (unknown host, port
    in use, no permission): servers started in threads would otherwise wait forever."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")


def flow_options(command: Parser) -> None:
    """--config FLOW and --directory DIR.yaml: every command that runs a flow takes both."""
    command.add_argument("--config", required=True, metavar="FLOW", help="flow file (YAML/JSON)")
    command.add_argument("--directory", metavar="DIR.yaml",
                         help="static directory file: users and groups (instead of WorkMail)")


def flow_with_directory(config: str, directory: str | None) -> Flow:
    """The flow of `config` with the marker key of `marker_key.resolve()` and the static
    directory file attached (its addresses' domains are the organization's when the flow
    names none); FlowError / DirectoryError.

    A `directory: workmail` flow needs --directory here: only the Lambda handler reaches
    the WorkMail API, so without the file every lookup would fail message by message."""
    flow = load_flow(config, marker_key=marker_key.resolve())
    if not directory and flow.directory_source == "workmail":
        raise FlowError(
            "the flow says 'directory: workmail', which only the Lambda handler can read: "
            "pass --directory DIR.yaml, a static directory file (users and groups), "
            "e.g. examples/directory/example-org.yaml")
    if directory:
        found = load_directory(directory)
        flow.directory = found
        if not flow.internal_domains:  # the organization's domains are the file's
            flow.internal_domains = found.domains()
    problem = flow.missing_directory()
    if problem:  # at load, not as a failure on every message
        raise FlowError(f"{problem}: pass --directory DIR.yaml (a static directory file)")
    return flow


def load(args: argparse.Namespace) -> Flow:
    """`flow_with_directory` for `flow_options`, or a one-line error (exit 2)."""
    try:
        return flow_with_directory(args.config, args.directory)
    except (FlowError, DirectoryError) as error:
        fail(str(error))


def missing_extra(command: str, extra: str, error: ModuleNotFoundError) -> NoReturn:
    """A command whose optional dependencies are not installed: say which extra brings them
    (exit 2, a usage error: the command cannot run as installed, and retrying will not help)."""
    fail(f"'mimeops {command}' needs the '{extra}' extra (no module named {error.name!r}): "
         f"pip install 'mimeops[{extra}]'")


