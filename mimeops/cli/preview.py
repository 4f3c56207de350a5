"""`mimeops preview`: run a flow over real mail (files, folders, mbox, Maildir) and
count what it would do, without sending or writing anything but the report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from mimeops.cli.common import fail, flow_options, load
from mimeops.errors import SourceError
from mimeops.preview import Tally, find, run_one
from mimeops.preview.report import Report

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def _progress(total: int) -> Any:
    """A progress bar on a terminal (stderr), None otherwise: logs stay clean."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", file=sys.stderr, leave=False, dynamic_ncols=True)


def run(args: argparse.Namespace) -> int:
    """Tally (and report) the flow over every message; the JSON tally is the last line."""
    flow = load(args)
    try:
        sources = find(args.paths)
    except SourceError as error:
        fail(str(error))
    tally = Tally.for_flow(flow)
    report = Report(f"mimeops preview: {args.config}") if args.report else None
    unread = len(sources.unreadable)
    bar = _progress(len(sources.items))
    try:
        for item in sources.items:
            outcome = run_one(flow, item, args.direction)
            tally.add(outcome)
            unread += outcome.unread
            if report is not None:
                report.add(outcome)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    for label, reason in sources.unreadable:
        print(f"mimeops: cannot read {label}: {reason}", file=sys.stderr)
        tally.errors += 1
    if sources.ignored:
        print(f"mimeops: ignored {len(sources.ignored)} file(s) that are not messages, "
              f"e.g. {sources.ignored[0]}", file=sys.stderr)
    summary = json.dumps(tally.as_dict(), separators=(",", ":"))
    written = True
    if report is not None:
        try:
            report.write(args.report, tally, summary)
        except OSError as error:
            print(f"mimeops: error: cannot write {args.report}: {error.strerror}",
                  file=sys.stderr)
            written = False
    print(summary, flush=True)
    return 1 if unread or not written else 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    command = commands.add_parser(
        "preview", help="run a flow over files, folders, mbox and Maildir; tally and report")
    flow_options(command)
    command.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    command.add_argument("--report", metavar="REPORT.html",
                         help="write one self-contained HTML page with every message")
    command.add_argument("paths", nargs="+", metavar="PATH",
                         help=".eml files, folders of them, mbox files or Maildir folders")
    command.set_defaults(run=run)
