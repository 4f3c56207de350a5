"""`imap://` and `imaps://` PATHs of `mimeops preview`: where the password and the CA
come from (the environment, a prompt on a terminal), and the IMAP options."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mimeops.cli.common import positive
from mimeops.errors import SourceError
from mimeops.preview.imap import ImapUrl, open_imap
from mimeops.preview.sources import Opened

if TYPE_CHECKING:
    from mimeops.cli.common import Parser
    from mimeops.cli.mailboxes import Status

PASSWORD_ENV = "MIMEOPS_IMAP_PASSWORD"
CAFILE_ENV = "MIMEOPS_IMAP_CAFILE"


def password(url: ImapUrl) -> str:
    """MIMEOPS_IMAP_PASSWORD, else asked on the terminal (never echoed); SourceError when
    there is neither (a script, a pipe)."""
    found = os.environ.get(PASSWORD_ENV)
    if found is not None:
        return found
    if not sys.stdin.isatty():
        raise SourceError(f"{url.label}: no password: set {PASSWORD_ENV} (there is no "
                          "terminal to ask on)")
    try:
        return getpass.getpass(f"IMAP password for {url.user}@{url.host}: ")
    except EOFError:
        raise SourceError(f"{url.label}: no password given") from None


class ImapSource:
    """The `mimeops.preview_sources` plugin for IMAP folders."""

    schemes = ("imap", "imaps")
    extra = None

    def add_options(self, command: Parser) -> None:
        group = command.add_argument_group("IMAP folders (imap://, imaps://)")
        group.add_argument("--limit", type=positive, metavar="N",
                           help="preview only the N newest messages of each folder, newest "
                                "first")
        group.add_argument("--imap-cafile", metavar="CA.pem",
                           help=f"trust this CA for imaps:// (default: ${CAFILE_ENV}, else "
                                "the system's CAs)")

    def open(self, url: str, args: argparse.Namespace, status: Status) -> Opened:
        parsed = ImapUrl.parse(url)
        cafile = args.imap_cafile or os.environ.get(CAFILE_ENV) or None
        if cafile is not None and not Path(cafile).is_file():
            raise SourceError(f"{parsed.label}: CA file {cafile}: no such file")
        return open_imap(parsed, password(parsed), limit=args.limit, cafile=cafile)


SOURCE = ImapSource()
