"""The :class:`Emulator`: WorkMail Message Flow on a local HTTP port, plus test hooks.

An unmodified boto3 client reaches it through ``endpoint_url=emu.url`` or the
``AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW`` / ``AWS_ENDPOINT_URL_WORKMAIL`` environment
variables, so the code under test is exactly the code that runs on AWS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from mimeops.directory import StaticDirectory, load_directory
from mimeops.preview.sources import find

from .api import Api
from .directory import DirectoryBook
from .export import CONCURRENT_JOBS, ExportBook, Job
from .faults import Fault, FaultBook, make_fault
from .s3 import S3Store
from .server import EmulatorHTTPServer
from .state import State

DEFAULT_ORGANIZATION = "m-00000000000000000000000000000000"


class Emulator:
    """In-process WorkMail Message Flow (+ ListMailDomains) server.

    ``s3_endpoint_url`` is where Puts read the updated message from (moto's S3 server
    in :class:`~mimeops_emulator.LocalAWS`) and export jobs write their zip to; None
    means the standard boto3 resolution (``AWS_ENDPOINT_URL_S3`` or real S3 with your
    credentials). ``port=0`` picks a free port, which keeps parallel test runs from
    colliding. An export job runs for ``export_seconds`` of ``clock`` (tests pass their
    own clock), at most ``export_limit`` at once per organization.
    """

    def __init__(
        self,
        s3_endpoint_url: str | None = None,
        region: str = "us-east-1",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        export_seconds: float = 2.0,
        export_limit: int = CONCURRENT_JOBS,
    ) -> None:
        self.region = region
        self.s3_endpoint_url = s3_endpoint_url
        self._host = host
        self._port = port
        self._state = State()
        self._faults = FaultBook()
        self._directories = DirectoryBook()
        s3 = S3Store(s3_endpoint_url, region)
        self._exports = ExportBook(self._state, self._directories, s3, clock=clock,
                                   seconds=export_seconds, limit=export_limit)
        self._api = Api(self._state, self._faults, s3, directories=self._directories,
                        exports=self._exports)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> str:
        """Start serving on a daemon thread; return the base URL. Idempotent."""
        with self._lifecycle:
            if self._server is None:
                server = EmulatorHTTPServer((self._host, self._port), self._api)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name="workmail-emulator",
                    daemon=True,
                )
                thread.start()
                self._server, self._thread = server, thread
            return self.url

    def stop(self) -> None:
        """Stop serving and disconnect clients; state is kept, ``start()`` may follow."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43117``; RuntimeError before ``start()``."""
        server = self._server
        if server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        address, port = server.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); RuntimeError before ``start()``."""
        server = self._server
        if server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(server.server_address[1])

    # -- messages -------------------------------------------------------------------

    def add_message(self, raw: bytes, message_id: str | None = None) -> str:
        """Make ``raw`` an in-transit message; return its id (a new uuid4 when None).

        Adding an existing id replaces it (content, original and Put history).
        ValueError for an id the API could never address (see ``messageIdType``).
        """
        return self._state.add_message(raw, message_id)

    def message(self, message_id: str) -> bytes:
        """The current content: the original, or the last accepted Put. KeyError if unknown."""
        return self._state.content(message_id)

    def original(self, message_id: str) -> bytes:
        """The content as added, before any Put. KeyError if unknown."""
        return self._state.original(message_id)

    def puts(self, message_id: str) -> list[dict[str, str]]:
        """The accepted Puts' ``s3Reference`` dicts, in order. KeyError if unknown."""
        return self._state.puts(message_id)

    def add_organization(self, org_id: str, domains: list[str]) -> None:
        """Register a WorkMail organization for ListMailDomains; first domain is default."""
        self._state.add_organization(org_id, domains)

    def add_directory(self, org_id: str, source: str | Path | StaticDirectory) -> None:
        """Serve a directory file's users and groups for `org_id` (DescribeEntity,
        DescribeUser, ListGroupsForEntity, ListUsers, ListGroupMembers). The
        organization is registered too (its domains: the file's address domains),
        unless it already is. DirectoryError for a bad file."""
        directory = source if isinstance(source, StaticDirectory) else load_directory(source)
        self._directories.add(org_id, directory)
        if self._state.domains(org_id) is None:
            self._state.add_organization(org_id, sorted(directory.domains()))

    def add_mailbox(self, email: str, messages: Sequence[bytes] | str | Path,
                    org_id: str = DEFAULT_ORGANIZATION) -> None:
        """Give the user `email` a mailbox that StartMailboxExportJob exports: the
        messages themselves, or a PATH as `mimeops preview` reads it (.eml files,
        folders, mbox, Maildir; read when a job completes). The organization and the
        user are registered when missing. SourceError for a PATH that is not there."""
        if isinstance(messages, str | Path):
            path = str(messages)
            find([path])  # a missing PATH is an error now, not when a job runs

            def read() -> Iterator[bytes]:
                return (item.read() for item in find([path]).items)
        else:
            kept = [bytes(raw) for raw in messages]

            def read() -> Iterator[bytes]:
                return iter(kept)
        if self._state.domains(org_id) is None:
            self._state.add_organization(org_id, [email.rpartition("@")[2]])
        self._directories.add_users(org_id, [email])
        entity = self._directories.organization(org_id).find(email)
        self._exports.add_mailbox(org_id, entity.id, read)

    def export_jobs(self) -> list[Job]:
        """Every mailbox export job started, oldest first (state as last observed)."""
        return self._exports.jobs()

    # -- faults ---------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        op: str = "any",
        message_id: str | None = None,
        times: int = 1,
        seconds: float = 0.0,
    ) -> None:
        """Make the next ``times`` matching requests fail (``times=-1``: all of them).

        Kinds: ``frozen`` (Put -> MessageFrozen), ``rejected`` (Put -> MessageRejected),
        ``error5xx`` (500 InternalServerException), ``throttle`` (429
        ThrottlingException), ``latency`` (sleep ``seconds``, then serve normally).
        ``op`` is ``get``, ``put``, ``list_mail_domains``, a directory operation
        (``describe_entity``, ``describe_user``, ``list_groups_for_entity``, ``list_users``,
        ``list_group_members``), ``directory`` (all five) or ``any``; ``message_id``
        limits the fault to one message. Unknown kind or op -> ValueError.
        """
        self._faults.add(make_fault(kind, op, message_id, times, seconds))

    def faults(self) -> list[Fault]:
        """Pending faults (copies), in the order they fire."""
        return self._faults.pending()

    def clear_faults(self) -> None:
        """Drop every pending fault; call between tests sharing one emulator."""
        self._faults.clear()

    # -- observation ----------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every API request served, oldest first.

        Admin requests under ``/_emulator`` are not included, so counting retries stays
        simple.
        """
        return self._state.requests()

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._state.clear_requests()

    def reset(self) -> None:
        """Forget messages, organizations, directories, mailboxes, export jobs, faults
        and the request log."""
        self._state.reset()
        self._directories.clear()
        self._exports.clear()
        self._faults.clear()
