"""`mimeops apply`: one message through a flow, exactly as the Lambda handler would."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from mimeops.cli.common import fail, read, write
from mimeops.flow import Envelope, FlowError, load_flow
from mimeops.flow.addresses import header_addresses
from mimeops.mime import Message

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def run(args: argparse.Namespace) -> int:
    """Apply the flow; message and one-line JSON summary to stdout/stderr or `-o`."""
    try:
        flow = load_flow(args.config)
    except FlowError as error:
        fail(str(error))
    raw = read(args.message, "message")
    message = Message(raw)
    if message.unreadable() == "not-a-message":
        fail(f"{args.message}: not a message (empty, binary, or no header block)")
    header = message.root.header
    mail_from = args.mail_from
    if mail_from is None:
        senders = header_addresses(header.get_all("from"))
        mail_from = senders[0][1] if senders else ""
    recipients = args.recipient
    if not recipients:
        recipients = [a for _, a in header_addresses(header.get_all("to") + header.get_all("cc"))]
    result = flow.apply(raw, Envelope(args.direction, mail_from, recipients))
    summary = json.dumps(result.summary(), separators=(",", ":"))
    if args.output:
        write(args.output, result.message)
        print(summary)
    else:
        sys.stdout.buffer.write(result.message)
        sys.stdout.flush()
        print(summary, file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    apply = commands.add_parser("apply", help="apply a flow to one message, as the handler would")
    apply.add_argument("--config", required=True, metavar="FLOW", help="flow file (YAML/JSON)")
    apply.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    apply.add_argument("--mail-from", metavar="ADDR",
                       help="envelope sender (default: the From address)")
    apply.add_argument("--recipient", action="append", default=[], metavar="ADDR",
                       help="envelope recipient, repeatable (default: To + Cc)")
    apply.add_argument("message", metavar="IN.eml", help="the message ('-' for stdin)")
    apply.add_argument("-o", "--output", metavar="OUT.eml",
                       help="write the result here and the summary to stdout")
    apply.set_defaults(run=run)
