"""`mimeops serve`: the WorkMail Message Flow emulator (and moto S3) as a server.

Registered through the `mimeops.commands` entry point; moto and boto3 load only
when the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mimeops.cli.common import check_listen, missing_extra, port_number

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    check_listen(args.host, args.port)
    try:
        import boto3  # noqa: F401  (checked here for a clear hint; used by the emulator)
        import moto  # noqa: F401
    except ModuleNotFoundError as error:
        missing_extra("serve", "local", error)
    from mimeops_emulator.local import serve

    serve(host=args.host, port=args.port, s3_endpoint_url=args.s3_endpoint)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    serve = commands.add_parser(
        "serve", help="run the WorkMail Message Flow emulator (for sam local invoke)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=8687)
    serve.add_argument("--s3-endpoint", metavar="URL",
                       help="an S3 endpoint to read from (default: an embedded moto S3)")
    serve.set_defaults(run=run)
