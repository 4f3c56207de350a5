"""An IMAP folder as a `mimeops preview` source: read-only, nothing marked as read.

imaps:// is TLS from the start; imap:// is plain IMAP, upgraded with STARTTLS when the
server refuses to log in without TLS. The folder is opened with EXAMINE (read-only:
the server changes no flag, not even \\Recent) and messages are fetched with
`BODY.PEEK[]` (which, unlike `BODY[]`, does not set \\Seen), in batches of bounded
size, oldest first (or the newest N, newest first, with a limit). Only the standard
library's `imaplib` and `ssl` are used; certificates are verified against the system's
CAs, or the CA file given. The password is a parameter: where it comes from (the
environment, a prompt) is the command line's business.
"""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from mimeops.errors import SourceError, SourceFailure
from mimeops.preview.sources import Item, Opened

PORTS = {"imap": 143, "imaps": 993}
BATCH_BYTES = 8 * 1024 * 1024  # fetched per command, at most (one larger message alone)
BATCH_COUNT = 64
TIMEOUT = 60.0  # seconds a read or connect may take before the connection counts as lost
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class ImapUrl:
    """`imap[s]://USER@HOST[:PORT]/FOLDER`: the user may be an address (its @ kept)."""

    secure: bool
    user: str
    host: str
    port: int
    folder: str

    @classmethod
    def parse(cls, url: str) -> ImapUrl:
        """The parts of `url`, or SourceError naming what is missing."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in PORTS:
            raise SourceError(f"{url}: not an imap:// or imaps:// URL")
        try:
            port = parts.port or PORTS[scheme]
        except ValueError:
            raise SourceError(f"{url}: the port is not a number from 1 to 65535") from None
        if not parts.username or not parts.hostname:
            raise SourceError(f"{url}: give the user and the server: "
                              f"{scheme}://USER@HOST[:PORT]/FOLDER")
        if parts.password is not None:
            raise SourceError(f"{scheme}://{parts.username}@{parts.hostname}: no password in "
                              "the URL (it would show in shell history and process lists): "
                              "use MIMEOPS_IMAP_PASSWORD or the prompt")
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return cls(scheme == "imaps", unquote(parts.username), parts.hostname, port, folder)

    @property
    def label(self) -> str:
        """The URL as shown to people (never a password)."""
        scheme = "imaps" if self.secure else "imap"
        port = "" if self.port == PORTS[scheme] else f":{self.port}"
        return f"{scheme}://{self.user}@{self.host}{port}/{self.folder}"


def open_imap(url: ImapUrl, password: str, *, limit: int | None = None,
              cafile: str | None = None, timeout: float = TIMEOUT) -> Opened:
    """Log in, EXAMINE the folder and list its messages; SourceError when any of it fails."""
    connection = _connect(url, cafile, timeout)
    try:
        _login(connection, url, password)
        _examine(connection, url)
        uids = _uids(connection, url, limit)
        sizes = _sizes(connection, url, uids)
    except BaseException:
        _logout(connection)
        raise
    return Opened(url.label, len(uids), _messages(connection, url, uids, sizes),
                  close=lambda: _logout(connection))


def _connect(url: ImapUrl, cafile: str | None, timeout: float) -> imaplib.IMAP4:
    """A connection ready to log in: TLS from the start for imaps://; for imap://, plain
    unless the server refuses to log in without TLS and offers STARTTLS."""
    try:
        context = ssl.create_default_context(cafile=cafile)
        if url.secure:
            return imaplib.IMAP4_SSL(url.host, url.port, ssl_context=context, timeout=timeout)
        connection = imaplib.IMAP4(url.host, url.port, timeout=timeout)
        if "LOGINDISABLED" in connection.capabilities and "STARTTLS" in connection.capabilities:
            try:
                connection.starttls(context)
            except BaseException:
                _logout(connection)
                raise
        return connection
    except ssl.SSLCertVerificationError as error:
        raise SourceError(f"{url.label}: TLS failure: the server's certificate is not trusted "
                          f"({error.verify_message}); trust its CA with --imap-cafile CA.pem "
                          "or MIMEOPS_IMAP_CAFILE") from None
    except ssl.SSLError as error:
        raise SourceError(f"{url.label}: TLS failure: {error.reason or error}") from None
    except (OSError, imaplib.IMAP4.error) as error:
        raise SourceError(f"{url.label}: cannot connect: {_why(error)}") from None


def _login(connection: imaplib.IMAP4, url: ImapUrl, password: str) -> None:
    if "LOGINDISABLED" in connection.capabilities:
        raise SourceError(f"{url.label}: the server refuses to log in on an unencrypted "
                          "connection and offers no STARTTLS: use imaps://")
    try:
        if (url.user + password).isascii():
            connection.login(_quoted(url.user), password)
        else:  # LOGIN is ASCII only: SASL PLAIN carries UTF-8
            secret = f"\0{url.user}\0{password}".encode()
            connection.authenticate("PLAIN", lambda _: secret)
    except imaplib.IMAP4.error as error:
        raise SourceError(f"{url.label}: login failed: {_why(error)}") from None
    except OSError as error:
        raise SourceError(f"{url.label}: the connection was lost at login: {_why(error)}") from None


def _examine(connection: imaplib.IMAP4, url: ImapUrl) -> None:
    """Open the folder read-only; SourceError naming the folders there are if it is not."""
    name = url.folder
    delimiter = _delimiter(connection)
    if delimiter and delimiter != "/":
        name = name.replace("/", delimiter)
    status, data = connection.select(_quoted(modified_utf7(name)), readonly=True)
    if status != "OK":
        said = _text(data[0] if data else b"")
        folders = ", ".join(_folders(connection)[:12])
        raise SourceError(f"{url.label}: no folder {url.folder!r} on the server ({said}); "
                          f"its folders: {folders or 'none listed'}")


def _uids(connection: imaplib.IMAP4, url: ImapUrl, limit: int | None) -> list[bytes]:
    """The messages' UIDs: all in folder order, or the `limit` newest, newest first."""
    status, data = connection.uid("SEARCH", "ALL")
    if status != "OK":
        raise SourceError(f"{url.label}: the server refused to list the folder: "
                          f"{_text(data[0] if data else b'')}")
    uids = b" ".join(d for d in data if isinstance(d, bytes)).split()
    uids.sort(key=int)
    return uids if limit is None else uids[-limit:][::-1] if limit else []


def _sizes(connection: imaplib.IMAP4, url: ImapUrl, uids: list[bytes]) -> dict[bytes, int]:
    """Each message's size, to fetch them in batches of bounded size."""
    if not uids:
        return {}
    status, data = connection.uid("FETCH", f"{min(uids, key=int).decode()}:*", "(RFC822.SIZE)")
    if status != "OK":
        raise SourceError(f"{url.label}: the server refused to list message sizes")
    sizes: dict[bytes, int] = {}
    for line in data:
        head = line[0] if isinstance(line, tuple) else line
        uid, size = _UID.search(head or b""), _SIZE.search(head or b"")
        if uid and size:
            sizes[uid.group(1)] = int(size.group(1))
    return sizes


def _batches(uids: list[bytes], sizes: dict[bytes, int]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (weight + size > BATCH_BYTES or len(batch) == BATCH_COUNT):
            yield batch
            batch, weight = [], 0
        batch.append(uid)
        weight += size
    if batch:
        yield batch


def _messages(connection: imaplib.IMAP4, url: ImapUrl, uids: list[bytes],
              sizes: dict[bytes, int]) -> Iterator[Item]:
    """The messages, batch by batch; SourceFailure when the connection is lost."""
    done = 0
    for batch in _batches(uids, sizes):
        try:
            status, data = connection.uid("FETCH", b",".join(batch).decode(), "(BODY.PEEK[])")
        except (imaplib.IMAP4.abort, OSError) as error:
            raise SourceFailure(f"the connection was lost after {done} of {len(uids)} "
                                f"messages: {_why(error)}") from None
        if status != "OK":
            said = _text(data[0] if data else b"")
            raise SourceFailure(f"the server refused to send messages after {done} of "
                                f"{len(uids)}: {said}")
        bodies = {}
        for part in data:
            if isinstance(part, tuple) and b"BODY[]" in part[0]:
                found = _UID.search(part[0])
                if found:
                    bodies[found.group(1)] = part[1]
        for uid in batch:
            yield _item(f"{url.label}/;UID={uid.decode()}", bodies.get(uid))
            done += 1


def _item(label: str, raw: bytes | None) -> Item:
    if raw is None:
        def gone() -> bytes:
            raise LookupError("the server sent no content: the message was deleted "
                              "while previewing")
        return Item(label, gone)
    return Item(label, lambda: raw)


def _delimiter(connection: imaplib.IMAP4) -> str | None:
    with suppress(imaplib.IMAP4.error, OSError):
        status, data = connection.list('""', '""')
        line = data[0] if status == "OK" and data else None
        if isinstance(line, bytes):
            found = re.match(rb'\([^)]*\) "((?:[^"\\]|\\.))"', line)
            return found.group(1).decode().replace("\\", "") if found else None
    return None


def _folders(connection: imaplib.IMAP4) -> list[str]:
    with suppress(imaplib.IMAP4.error, OSError):
        status, data = connection.list()
        if status == "OK":
            names = []
            for line in data:
                if isinstance(line, bytes):
                    match = re.search(rb'(?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
                    if match:
                        names.append((match.group(1) or match.group(2)).decode("utf-8", "replace"))
            return sorted(names)
    return []


def _logout(connection: imaplib.IMAP4) -> None:
    with suppress(imaplib.IMAP4.error, OSError, ValueError):
        connection.logout()


def modified_utf7(name: str) -> str:
    """A folder name as IMAP writes it (RFC 3501 5.1.3): non-ASCII as `&...-`."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _quoted(text: str) -> str:
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: object) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def _why(error: BaseException) -> str:
    """What the server or the network said, on one line (imaplib wraps it in b'...')."""
    text = str(error.args[0]) if error.args else type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    match = re.fullmatch(r"b'(.*)'|b\"(.*)\"", text)
    if match:
        text = match.group(1) or match.group(2) or ""
    return " ".join(text.split()) or type(error).__name__
