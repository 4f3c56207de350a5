"""`mimeops invoke`: the real Lambda handler on one event, against the embedded emulator.

Registered through the `mimeops.commands` entry point; boto3, powertools and moto
load only when the command runs, so `mimeops --help` works without the extras.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mimeops.cli.common import fail, missing_extra, read
from mimeops.flow import FlowError, load_flow

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def run(args: argparse.Namespace) -> int:
    """Run the handler; the response JSON alone on stdout, the message location on stderr."""
    if not args.config and not os.environ.get("MIMEOPS_CONFIG", "").strip():
        fail("no flow to run: give --config FLOW or set MIMEOPS_CONFIG")
    try:  # the 'local' extra: imported here for the hint, before any work
        import aws_lambda_powertools  # noqa: F401
        import boto3  # noqa: F401
        import flask_cors  # noqa: F401  (moto's server runs on Flask)
        import moto  # noqa: F401

        from mimeops_workmail.local import invoke
    except ModuleNotFoundError as error:
        missing_extra("invoke", "local", error)

    event = read(args.event, "event")
    raw = read(args.message, "message")
    config = None
    organization_id = None
    if args.config:
        try:
            flow = load_flow(args.config)  # fail fast, with the loader's message
        except FlowError as error:
            fail(str(error))
        path = Path(args.config)
        config = path.read_text(encoding="utf-8") if path.is_file() else args.config
        organization_id = flow.organization_id
        if args.directory and flow.directory_source != "workmail":
            print("mimeops: warning: the flow has no 'directory: workmail'; the handler "
                  "will not read the directory", file=sys.stderr)
    elif args.directory and not os.environ.get("MIMEOPS_CONFIG", "").startswith("ssm:"):
        try:  # the flow from $MIMEOPS_CONFIG names the organization to serve
            from mimeops_workmail.config import flow_source

            organization_id = load_flow(flow_source()).organization_id
        except FlowError:
            pass  # the handler reports it
    try:
        response, written = invoke(event, raw, config=config, output=args.output,
                                   directory=args.directory, organization_id=organization_id)
    except ValueError as error:  # DirectoryError included
        fail(str(error))
    print(json.dumps(response, indent=2))
    # Where the message went is for the person watching: stdout stays pure JSON.
    if written:
        print(f"rewritten message: {written}", file=sys.stderr)
    else:
        print("message unchanged: nothing was written", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    invoke = commands.add_parser(
        "invoke", help="run the real Lambda handler against the embedded WorkMail emulator")
    invoke.add_argument("event", metavar="EVENT.json")
    invoke.add_argument("--message", required=True, metavar="IN.eml")
    invoke.add_argument("--config", metavar="FLOW", help="flow (default: $MIMEOPS_CONFIG)")
    invoke.add_argument("--directory", metavar="DIR.yaml",
                        help="static directory file the emulator serves through the WorkMail "
                             "directory API (for 'directory: workmail' flows)")
    invoke.add_argument("-o", "--output", metavar="OUT.eml",
                        help="where to copy the rewritten message")
    invoke.set_defaults(run=run)
