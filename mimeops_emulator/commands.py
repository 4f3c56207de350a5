"""`mimeops serve`: the WorkMail Message Flow emulator (and moto S3) as a server.

Registered through the `mimeops.commands` entry point; moto and boto3 load only
when the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mimeops.cli.common import missing_extra

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    try:
        import boto3  # noqa: F401  (checked here for a clear hint; used by the emulator)
        import moto  # noqa: F401
    except ModuleNotFoundError as error:
        missing_extra("serve", "local", error)
    from mimeops.cli.common import fail
    from mimeops.directory import DirectoryError, load_directory
    from mimeops_emulator.local import serve

    directories = {}
    if args.directory:
        try:
            directories[args.organization_id] = load_directory(args.directory)
        except DirectoryError as error:
            fail(str(error))
    serve(host=args.host, port=args.port, s3_endpoint_url=args.s3_endpoint,
          directories=directories)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    serve = commands.add_parser(
        "serve", help="run the WorkMail Message Flow emulator (for sam local invoke)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8687)
    serve.add_argument("--s3-endpoint", metavar="URL",
                       help="an S3 endpoint to read from (default: an embedded moto S3)")
    serve.add_argument("--directory", metavar="DIR.yaml",
                       help="serve this static directory file through the WorkMail directory "
                            "API (DescribeEntity, DescribeUser, ListGroupsForEntity, ...)")
    serve.add_argument("--organization-id", default="m-00000000000000000000000000000000",
                       metavar="ORG", help="the organization the directory belongs to")
    serve.set_defaults(run=run)
