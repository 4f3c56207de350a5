"""`mimeops explain`: why each rule of a flow matched one message, or which condition
did not hold and the values it compared; then, last, the summary `mimeops apply`
prints for the same arguments (explain runs apply)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mimeops.cli.apply import envelope_options, prepare
from mimeops.cli.common import fail
from mimeops.directory import DirectoryUnavailable
from mimeops.flow.explain import explain

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def run(args: argparse.Namespace) -> int:
    """Print one line per rule and apply's summary; write nothing."""
    flow, raw, envelope = prepare(args)
    try:
        lines = explain(flow, raw, envelope)
    except DirectoryUnavailable as error:
        fail(str(error))
    for line in lines:
        print(line)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    command = commands.add_parser(
        "explain", help="say per rule why it matches one message or which condition failed")
    envelope_options(command)
    command.add_argument("message", metavar="IN.eml", help="the message ('-' for stdin)")
    command.set_defaults(run=run)
