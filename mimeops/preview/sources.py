"""Where `mimeops preview` finds messages: .eml files, folders, mbox files, Maildirs.

Detection, by content rather than by name where names lie:
- a folder with `cur/` and `new/` sub-folders is a Maildir (stdlib `mailbox`),
  its Maildir++ sub-folders (`.Sent`, ...) included;
- any other folder is walked recursively (hidden names skipped);
- a file named `*.mbox` / `*.mbx`, or starting with an mbox `From ` line, is an
  mbox (stdlib `mailbox`), unless it is named `*.eml`: that is one message
  saved with its envelope line;
- any other file is one message.
Inside folders, a file is taken for a message when its first 64 KiB hold a
header field line (From:, To:, Subject:, Received:, ...) or start with `From `,
or when another file with the same extension in the same folder does (a folder
of exported messages); the rest (READMEs, licences, indexes) is ignored and
listed as such. Files named on the command line are always read.
A leading mbox `From ` envelope line is not part of the message: it is dropped,
so a message gives the same result from a file, an mbox or a Maildir.
"""

from __future__ import annotations

import mailbox
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from mimeops.errors import SourceError

_PROBE = 64 * 1024
_HEADER_LINE = re.compile(
    rb"(?im)^(?:\xef\xbb\xbf)?[ \t]*(?:from|to|cc|subject|date|message-id|received|"
    rb"mime-version|content-type|return-path|sender|reply-to|delivered-to)[ \t]*:")
_MBOX_LINE = b"From "
_MBOX_SUFFIXES = (".mbox", ".mbx")


@dataclass(frozen=True, slots=True)
class Item:
    """One message to read: a label for people, and how to get its bytes."""

    label: str
    load: Callable[[], bytes]

    def read(self) -> bytes:
        """The message bytes, without an mbox `From ` envelope line."""
        return strip_envelope_line(self.load())


@dataclass
class Sources:
    """Every message found under the paths, and what was passed over."""

    items: list[Item] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Opened:
    """A PATH ready to read: how many messages it holds, and them, one at a time.

    `items` may raise SourceFailure after yielding some; `close` releases what the
    source holds (a connection, a download)."""

    label: str
    total: int
    items: Iterable[Item]
    ignored: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def open_files(path: str) -> Opened:
    """`find` for one PATH, as an Opened source."""
    found = find([path])
    return Opened(path, len(found.items), found.items, found.ignored, found.unreadable)


def strip_envelope_line(raw: bytes) -> bytes:
    """Drop an mbox `From sender date` first line (not a header: it has no colon after From)."""
    if raw.startswith(_MBOX_LINE):
        end = raw.find(b"\n")
        return b"" if end < 0 else raw[end + 1:]
    return raw


def find(paths: list[str]) -> Sources:
    """The messages under `paths`, in a stable order; SourceError for a missing path."""
    found = Sources()
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise SourceError(f"{text}: no such file or directory")
        if path.is_dir():
            _folder(path, found)
        else:
            _file(text, found, _probe(text, found))
    return found


@dataclass(frozen=True)
class _Head:
    """What a file's first bytes say; the bytes are not kept (a folder may hold many)."""

    mbox_line: bool  # starts with an mbox `From ` envelope line
    mail_like: bool  # ... or holds a header field line


def _probe(path: str, found: Sources) -> _Head | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(_PROBE)
    except OSError as error:
        found.unreadable.append((path, error.strerror or str(error)))
        return None
    return _Head(head.startswith(_MBOX_LINE), _looks(head))


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _file(path: str, found: Sources, head: _Head | None) -> None:
    """One file: an mbox of messages, or one message. Paths are kept as plain strings:
    a folder of a hundred thousand messages costs a string and an Item each."""
    if head is None:
        return
    suffix = _suffix(path)
    if suffix in _MBOX_SUFFIXES or (head.mbox_line and suffix != ".eml"):
        _mbox(Path(path), found)
    else:
        found.items.append(Item(path, partial(_read, path)))


def _folder(root: Path, found: Sources) -> None:
    if _is_maildir(root):
        _maildir(root, found)
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as error:
        found.unreadable.append((str(root), error.strerror or str(error)))
        return
    files: list[tuple[str, _Head | None]] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            _folder(Path(entry.path), found)
        elif entry.is_file():
            files.append((entry.path, _probe(entry.path, found)))
    mail_like = {_suffix(p) for p, head in files if head is not None and head.mail_like}
    for path, head in files:
        if head is None:
            continue
        if head.mail_like or _suffix(path) in (*mail_like, *_MBOX_SUFFIXES):
            _file(path, found, head)
        else:
            found.ignored.append(path)


def _looks(head: bytes) -> bool:
    return head.startswith(_MBOX_LINE) or _HEADER_LINE.search(head) is not None


def _mbox(path: Path, found: Sources) -> None:
    try:
        box = mailbox.mbox(str(path), create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as error:
        found.unreadable.append((str(path), str(error)))
        return
    for number, key in enumerate(keys, 1):
        found.items.append(Item(f"{path}#{number}", _getter(box, key)))


def _maildir(path: Path, found: Sources) -> None:
    try:
        box = mailbox.Maildir(str(path), factory=None, create=False)
        folders = sorted(box.list_folders())
        keys = sorted(box.keys())
    except (OSError, mailbox.Error) as error:
        found.unreadable.append((str(path), str(error)))
        return
    for key in keys:
        found.items.append(Item(f"{path}:{key}", _getter(box, key)))
    for name in folders:
        _maildir(path / f".{name}", found)


def _getter(box: mailbox.Mailbox[mailbox.Message], key: str) -> Callable[[], bytes]:
    return lambda: box.get_bytes(key)
