"""`mimeops preview`: run a flow over real mail (files, folders, mbox, Maildir, and
mailbox URLs such as imaps:// and workmail://) and count what it would do, without
sending or writing anything but the report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from mimeops.cli import mailboxes
from mimeops.cli.common import flow_options, load, positive
from mimeops.errors import SourceFailure
from mimeops.preview import Tally
from mimeops.preview.report import Report
from mimeops.preview.runner import default_jobs, outcomes
from mimeops.preview.sources import Opened

if TYPE_CHECKING:
    from mimeops.cli.common import Parser


def _progress(total: int) -> Any:
    """A progress bar on a terminal (stderr), None otherwise: logs stay clean."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", file=sys.stderr, leave=False, dynamic_ncols=True)


def _each(opened: list[Opened], failures: list[str]) -> Iterator[Any]:
    """Every source's messages in turn; a source that breaks off is noted, not fatal."""
    for source in opened:
        try:
            yield from source.items
        except SourceFailure as error:
            failures.append(f"{source.label}: {error}")


def run(args: argparse.Namespace) -> int:
    """Tally (and report) the flow over every message; the JSON tally is the last line."""
    flow = load(args)
    with ExitStack() as stack:
        opened = _open_all(args, stack)
        report = Report(f"mimeops preview: {args.config}") if args.report else None
        if report is not None:
            stack.callback(report.close)
        code = _preview(args, flow, opened, report)
    return code


def _open_all(args: argparse.Namespace, stack: ExitStack) -> list[Opened]:
    """Every PATH opened before any is read: a wrong password or a missing folder stops
    the preview at once (exit 2), before minutes of work on the other PATHs."""
    status = mailboxes.StatusLine()
    opened = []
    try:
        for path in args.paths:
            source = mailboxes.open_path(path, args, status)
            stack.callback(source.close)
            opened.append(source)
    finally:
        status.close()
    return opened


def _preview(args: argparse.Namespace, flow: Any, opened: list[Opened],
             report: Report | None) -> int:
    tally = Tally.for_flow(flow)
    total = sum(source.total for source in opened)
    failures: list[str] = []
    unread = sum(len(source.unreadable) for source in opened)
    bar = _progress(total)
    try:
        for outcome in outcomes(flow, _each(opened, failures), args.direction,
                                jobs=args.jobs, total=total):
            tally.add(outcome)
            unread += outcome.unread
            if report is not None:
                report.add(outcome)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    _say_what_was_passed_over(opened, failures, tally)
    summary = json.dumps(tally.as_dict(), separators=(",", ":"))
    written = True
    if report is not None:
        try:
            report.write(args.report, tally)
        except OSError as error:
            print(f"mimeops: error: cannot write {args.report}: {error.strerror}",
                  file=sys.stderr)
            written = False
    print(summary, flush=True)
    return 1 if unread or failures or not written else 0


def _say_what_was_passed_over(opened: list[Opened], failures: list[str], tally: Tally) -> None:
    for source in opened:
        for label, reason in source.unreadable:
            print(f"mimeops: cannot read {label}: {reason}", file=sys.stderr)
            tally.errors += 1
    for failure in failures:
        print(f"mimeops: error: {failure}", file=sys.stderr)
    ignored = [path for source in opened for path in source.ignored]
    if ignored:
        print(f"mimeops: ignored {len(ignored)} file(s) that are not messages, "
              f"e.g. {ignored[0]}", file=sys.stderr)


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    command = commands.add_parser(
        "preview", help="run a flow over files, folders, mbox, Maildir and mailboxes "
                        "(imaps://, workmail://); tally and report")
    flow_options(command)
    command.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    command.add_argument("--report", metavar="REPORT.html",
                         help="write an HTML report of every message (one page, or an index "
                              "and pages beside it past a few hundred messages)")
    command.add_argument("--jobs", type=positive, default=default_jobs(), metavar="N",
                         help="worker processes (default: the number of cores)")
    mailboxes.add_options(command)
    command.add_argument("paths", nargs="+", metavar="PATH",
                         help=".eml files, folders of them, mbox files, Maildir folders, "
                              "imap[s]://USER@HOST/FOLDER or workmail://ORG/USER")
    command.set_defaults(run=run)
