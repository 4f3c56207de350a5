"""`mimeops smtp-filter`: run the flows as an SMTP content filter in front of any MTA.

Registered through the `mimeops.commands` entry point; aiosmtpd loads only when
the command runs, so `mimeops --help` works without the `smtp` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from mimeops.cli.common import fail, flow_options, flow_with_directory, load, missing_extra
from mimeops_smtp.settings import DIRECTIONS, MIB, Settings, header_line, host_port

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def settings(args: argparse.Namespace) -> Settings:
    """The command line as Settings, or a one-line usage error (exit 2)."""
    try:
        extra = {"hostname": args.hostname} if args.hostname else {}
        return Settings(
            listen=host_port(args.listen, "--listen"),
            next_hop=host_port(args.next_hop, "--next-hop"),
            direction=args.direction, concurrency=args.concurrency, max_size=args.max_size,
            timeout=args.timeout, flow_timeout=args.flow_timeout,
            relay_timeout=args.relay_timeout, junk_header=header_line(args.junk_header),
            grace=args.grace, **extra)
    except ValueError as error:
        fail(str(error))


def run(args: argparse.Namespace) -> int:
    """Load the flow (exit 2 when invalid), then serve until SIGTERM; SIGHUP reloads it."""
    try:
        from mimeops_smtp.server import serve  # aiosmtpd
    except ModuleNotFoundError as error:
        missing_extra("smtp-filter", "smtp", error)
    config = settings(args)
    if config.next_hop[1] == 0:
        fail("--next-hop: port 0 is not a port to relay to")
    if config.next_hop == config.listen:
        fail("--next-hop: is the filter's own --listen address (mail would loop)")
    flow = load(args)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mimeops.smtp")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    try:
        reload = lambda: flow_with_directory(args.config, args.directory)  # noqa: E731
        asyncio.run(serve(flow, config, reload=reload))
    except OSError as error:  # the listen address is taken or not ours
        fail(f"cannot listen on {args.listen}: {error.strerror or error}", 1)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    cmd = commands.add_parser(
        "smtp-filter", help="run flows as an SMTP content filter (Postfix content_filter)")
    flow_options(cmd)
    cmd.add_argument("--listen", required=True, metavar="HOST:PORT",
                     help="where the MTA hands messages over (e.g. 127.0.0.1:10025)")
    cmd.add_argument("--next-hop", required=True, metavar="HOST:PORT",
                     help="where filtered messages go (e.g. Postfix on 127.0.0.1:10026)")
    cmd.add_argument("--direction", choices=DIRECTIONS, default="auto",
                     help="fixed direction for this listener; auto (default): OUTBOUND when "
                          "MAIL FROM is in internal_domains, else INBOUND")
    cmd.add_argument("--concurrency", type=int, default=8, metavar="N",
                     help="messages processed at once (default 8; match master.cf maxproc)")
    cmd.add_argument("--max-size", type=int, default=40 * MIB, metavar="BYTES",
                     help="larger messages are refused with 552 (default 40 MiB)")
    cmd.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                     help="idle time allowed between the client's commands (default 300)")
    cmd.add_argument("--flow-timeout", type=float, default=30.0, metavar="SECONDS",
                     help="a flow slower than this is a fault: on_error decides (default 30)")
    cmd.add_argument("--relay-timeout", type=float, default=60.0, metavar="SECONDS",
                     help="each read/write towards the next hop (default 60)")
    cmd.add_argument("--junk-header", default="X-Spam-Flag: YES", metavar="'NAME: VALUE'",
                     help="added for MOVE_TO_JUNK (default 'X-Spam-Flag: YES')")
    cmd.add_argument("--hostname", metavar="NAME",
                     help="name in the greeting, EHLO to the next hop and DSNs "
                          "(default: this host's name)")
    cmd.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                     help="after SIGTERM, wait this long for messages in flight (default 30)")
    cmd.set_defaults(run=run)
