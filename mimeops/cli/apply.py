"""`mimeops apply`: one message through a flow, exactly as the Lambda handler would."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mimeops.cli.common import fail, flow_options, load, read, write
from mimeops.directory import DirectoryUnavailable
from mimeops.flow import Envelope, Flow
from mimeops.flow.implied import implied_envelope
from mimeops.mime import Message

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def prepare(args: argparse.Namespace) -> tuple[Flow, bytes, Envelope]:
    """The flow, the message and its envelope from `envelope_options` and IN.eml,
    or a one-line error (exit 2)."""
    flow = load(args)
    raw = read(args.message, "message")
    message = Message(raw)
    if message.unreadable() == "not-a-message":
        fail(f"{args.message}: not a message (empty, binary, or no header block)")
    envelope = implied_envelope(message.root.header, args.direction, args.mail_from,
                                args.recipient)
    return flow, raw, envelope


def run(args: argparse.Namespace) -> int:
    """Apply the flow; message and one-line JSON summary to stdout/stderr or `-o`."""
    flow, raw, envelope = prepare(args)
    try:
        result = flow.apply(raw, envelope)
    except DirectoryUnavailable as error:
        fail(str(error))
    summary = result.summary_line()
    if args.output:
        write(args.output, result.message)
        print(summary)
    else:
        sys.stdout.buffer.write(result.message)
        sys.stdout.flush()
        print(summary, file=sys.stderr)
    return 0


def envelope_options(command: Parser) -> None:
    """--config, --direction, --mail-from, --recipient, --directory: apply and explain."""
    flow_options(command)
    command.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    command.add_argument("--mail-from", metavar="ADDR",
                         help="envelope sender (default: the From address)")
    command.add_argument("--recipient", action="append", default=[], metavar="ADDR",
                         help="envelope recipient, repeatable (default: To + Cc)")


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    apply = commands.add_parser("apply", help="apply a flow to one message, as the handler would")
    envelope_options(apply)
    apply.add_argument("message", metavar="IN.eml", help="the message ('-' for stdin)")
    apply.add_argument("-o", "--output", metavar="OUT.eml",
                       help="write the result here and the summary to stdout")
    apply.set_defaults(run=run)
