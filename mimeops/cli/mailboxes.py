"""Mailboxes `mimeops preview` reads beyond files: a URL scheme per plugin.

A plugin is an object registered in the `mimeops.preview_sources` entry-point group
with `schemes` (the URL schemes it reads), `extra` (the optional dependencies it
needs, or None), `add_options(command)` (its options on `mimeops preview`) and
`open(url, args, status)` -> `mimeops.preview.Opened`. IMAP comes with the engine;
`workmail://` with the AWS side (`mimeops_workmail`), so the engine never imports
boto3. A plugin imports its heavy dependencies in `open` only: `--help` and file
previews never load them, and a missing extra is one line naming it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from mimeops.cli.common import fail, missing_extra
from mimeops.errors import SourceError, SourceFailure
from mimeops.preview.sources import Opened, open_files

if TYPE_CHECKING:
    from mimeops.cli.common import Parser

GROUP = "mimeops.preview_sources"
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

#: How a source reports a long wait (an export job): what it is doing, and how far (%).
Status = Callable[[str, "int | None"], None]


class MailboxSource(Protocol):
    """A kind of mailbox `mimeops preview` can read, named by URL scheme."""

    schemes: tuple[str, ...]
    extra: str | None

    def add_options(self, command: Parser) -> None:
        """Add this source's options to `mimeops preview`."""

    def open(self, url: str, args: argparse.Namespace, status: Status) -> Opened:
        """Connect and list the messages; SourceError when that is impossible."""


@cache
def plugins() -> dict[str, MailboxSource]:
    """Scheme -> plugin, from every installed distribution."""
    found: dict[str, MailboxSource] = {}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        plugin: MailboxSource = entry.load()
        for scheme in plugin.schemes:
            found.setdefault(scheme, plugin)
    return found


def add_options(command: Parser) -> None:
    """Every plugin's options, once each."""
    for plugin in dict.fromkeys(plugins().values()):
        plugin.add_options(command)


def open_path(path: str, args: argparse.Namespace, status: Status) -> Opened:
    """A PATH of `mimeops preview` opened: a mailbox URL, else files; a one-line error
    (exit 2) when it cannot be opened."""
    match = _URL.match(path)
    plugin = plugins().get(match.group(1).lower()) if match else None
    try:
        if plugin is None:
            return open_files(path)
        return plugin.open(path, args, status)
    except SourceError as error:
        hint = ""
        if match and plugin is None:
            hint = f" (mailbox URLs: {', '.join(s + '://' for s in sorted(plugins()))})"
        fail(f"{error}{hint}")
    except SourceFailure as error:  # opened, then broke: an export job that failed
        fail(f"{path}: {error}", 1)
    except ModuleNotFoundError as error:
        if plugin is None or plugin.extra is None or match is None:
            raise  # not an optional dependency: a bug, reported as one
        missing_extra(f"preview {match.group(1)}://", plugin.extra, error)


class StatusLine:
    """A `Status` on stderr: a bar on a terminal, else one line per change (logs and
    CI see each step once)."""

    def __init__(self) -> None:
        self._last: tuple[str, int | None] | None = None
        self._bar: Any = None

    def __call__(self, note: str, percent: int | None) -> None:
        if (note, percent) == self._last:
            return
        self._last = (note, percent)
        if not sys.stderr.isatty():
            print(f"mimeops: {note}" + ("" if percent is None else f" ({percent}%)"),
                  file=sys.stderr, flush=True)
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=100, file=sys.stderr, leave=False, dynamic_ncols=True,
                             bar_format="{desc} {percentage:3.0f}%|{bar}|")
        self._bar.set_description_str(note, refresh=False)
        if percent is not None:
            self._bar.update(max(0, percent - self._bar.n))
        self._bar.refresh()

    def close(self) -> None:
        """Take the bar off the terminal."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
