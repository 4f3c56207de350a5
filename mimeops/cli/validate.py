"""`mimeops validate FLOW`: check a flow without a message (for CI and editors)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mimeops.cli.common import fail
from mimeops.flow import FlowError, load_flow

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def _label(source: str) -> str:
    """How the line names the flow: its path, or "inline flow" for YAML/JSON text."""
    try:
        return source if Path(source).is_file() else "inline flow"
    except (OSError, ValueError):  # a long one-line flow is no file name
        return "inline flow"


def run(args: argparse.Namespace) -> int:
    """Exit 0 with one line saying what the flow holds, or 2 with the loader's error.
    FLOW is what `apply --config` takes: a path, or the flow itself as YAML/JSON text."""
    try:
        flow = load_flow(args.flow)
    except FlowError as error:
        fail(str(error))
    audit = sum(rule.audit for rule in flow.rules)
    print(f"{_label(args.flow)}: valid flow, {len(flow.rules)} rule(s)"
          + (f", {audit} in audit mode" if audit else ""))
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    command = commands.add_parser("validate", help="check a flow (exit 0, or 2 and why)")
    command.add_argument("flow", metavar="FLOW",
                         help="flow file (YAML/JSON), or the flow itself as YAML/JSON text")
    command.set_defaults(run=run)
