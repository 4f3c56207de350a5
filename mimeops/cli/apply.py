"""`mimeops apply`: one message through a flow, exactly as the Lambda handler would."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from mimeops.cli.common import fail, read, write
from mimeops.directory import DirectoryError, DirectoryUnavailable, load_directory
from mimeops.flow import Envelope, Flow, FlowError, load_flow
from mimeops.flow.implied import implied_envelope
from mimeops.mime import Message

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def prepare(args: argparse.Namespace) -> tuple[Flow, bytes, Envelope]:
    """The flow, the message and its envelope from `envelope_options` and IN.eml,
    or a one-line error (exit 2)."""
    try:
        flow = load_flow(args.config)
    except FlowError as error:
        fail(str(error))
    if args.directory:
        try:
            directory = load_directory(args.directory)
        except DirectoryError as error:
            fail(str(error))
        flow.directory = directory
        if not flow.internal_domains:  # the organization's domains are the file's
            flow.internal_domains = directory.domains()
    raw = read(args.message, "message")
    envelope = implied_envelope(Message(raw).root.header, args.direction, args.mail_from,
                                args.recipient)
    return flow, raw, envelope


def run(args: argparse.Namespace) -> int:
    """Apply the flow; message and one-line JSON summary to stdout/stderr or `-o`."""
    flow, raw, envelope = prepare(args)
    try:
        result = flow.apply(raw, envelope)
    except DirectoryUnavailable as error:
        fail(str(error))
    summary = json.dumps(result.summary(), separators=(",", ":"))
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
    command.add_argument("--config", required=True, metavar="FLOW", help="flow file (YAML/JSON)")
    command.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    command.add_argument("--mail-from", metavar="ADDR",
                         help="envelope sender (default: the From address)")
    command.add_argument("--recipient", action="append", default=[], metavar="ADDR",
                         help="envelope recipient, repeatable (default: To + Cc)")
    command.add_argument("--directory", metavar="DIR.yaml",
                         help="static directory file: users and groups (instead of WorkMail)")


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    apply = commands.add_parser("apply", help="apply a flow to one message, as the handler would")
    envelope_options(apply)
    apply.add_argument("message", metavar="IN.eml", help="the message ('-' for stdin)")
    apply.add_argument("-o", "--output", metavar="OUT.eml",
                       help="write the result here and the summary to stdout")
    apply.set_defaults(run=run)
