"""`mimeops serve`: the WorkMail Message Flow emulator (and moto S3) as a server.

Registered through the `mimeops.commands` entry point; moto and boto3 load only
when the command runs.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from mimeops.cli.common import check_listen, fail, missing_extra, port_number, read

if TYPE_CHECKING:
    from mimeops.cli.common import Parser

DEFAULT_HOST = "127.0.0.1"


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    messages = _preloaded(args.event, args.message)  # usage errors before the slow imports
    host = _docker_host(args.host) if args.docker else args.host
    check_listen(host, args.port)
    try:
        import boto3  # noqa: F401  (checked here for a clear hint; used by the emulator)
        import flask_cors  # noqa: F401  (moto's server runs on Flask)
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
    serve(host=host, port=args.port, s3_endpoint_url=args.s3_endpoint,
          env_vars_file=args.env_vars_file, messages=messages, directories=directories,
          mailboxes=dict(args.mailbox or []), organization_id=args.organization_id,
          export_seconds=args.export_seconds)
    return 0


def mailbox(text: str) -> tuple[str, str]:
    """argparse type of --mailbox: EMAIL=PATH, the PATH readable as preview reads it."""
    from mimeops.errors import SourceError
    from mimeops.preview.sources import find

    email, equals, path = text.partition("=")
    if not equals or "@" not in email or not path:
        raise argparse.ArgumentTypeError(f"expected EMAIL=PATH, got {text!r}")
    try:
        find([path])
    except SourceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return email, path


def _docker_host(host: str) -> str:
    """--docker: the Docker bridge address, or a one-line error (exit 2) naming why not."""
    from mimeops_emulator.errors import DockerUnavailable
    from mimeops_emulator.sam_env import docker_bridge_address

    if host != DEFAULT_HOST:
        fail("--docker picks the address itself: drop --host")
    try:
        return docker_bridge_address()
    except DockerUnavailable as error:
        fail(f"--docker: no Docker engine answers ({error})")


def _preloaded(events: list[str] | None, messages: list[str] | None) -> list[tuple[str, bytes]]:
    """(messageId of each --event, bytes of the --message given with it), in order."""
    events, messages = events or [], messages or []
    if len(events) != len(messages):
        fail("give one --message for each --event (the message is stored under its messageId)")
    loaded = []
    for event_path, message_path in zip(events, messages, strict=True):
        try:
            message_id = json.loads(read(event_path, "event")).get("messageId")
        except (ValueError, AttributeError):
            message_id = None
        if not isinstance(message_id, str) or not message_id:
            fail(f"event {event_path} has no messageId")
        loaded.append((message_id, read(message_path, "message")))
    return loaded


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    serve = commands.add_parser(
        "serve", help="run the WorkMail Message Flow emulator (for sam local invoke)")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=port_number, default=8687)
    serve.add_argument("--s3-endpoint", metavar="URL",
                       help="an S3 endpoint to read from (default: an embedded moto S3)")
    serve.add_argument("--docker", action="store_true",
                       help="listen on the Docker bridge address (e.g. 172.17.0.1): reachable "
                            "from sam local invoke's containers and this host only")
    serve.add_argument("--env-vars-file", metavar="PATH",
                       help="write a ready `sam local invoke --env-vars` file (endpoints, "
                            "bucket, a fresh marker key) once the servers answer")
    serve.add_argument("--event", action="append", metavar="EVENT.json",
                       help="with --message: have that message in transit under the event's "
                            "messageId (repeatable)")
    serve.add_argument("--message", action="append", metavar="IN.eml",
                       help="the raw MIME for the --event given in the same position")
    serve.add_argument("--directory", metavar="DIR.yaml",
                       help="serve this static directory file through the WorkMail directory "
                            "API (DescribeEntity, DescribeUser, ListGroupsForEntity, ...)")
    serve.add_argument("--organization-id", default="m-00000000000000000000000000000000",
                       metavar="ORG", help="the organization the directory and the mailboxes "
                                           "belong to")
    serve.add_argument("--mailbox", action="append", type=mailbox, metavar="EMAIL=PATH",
                       help="give the user EMAIL a mailbox holding the messages at PATH (as "
                            "for preview) for StartMailboxExportJob (repeatable)")
    serve.add_argument("--export-seconds", type=float, default=2.0, metavar="S",
                       help="how long a mailbox export job runs (default 2)")
    serve.set_defaults(run=run)
