"""LocalAWS and ``serve``: moto's S3 server and the emulator wired together.

moto (and boto3) are imported inside the functions that need them, so importing
``mimeops_emulator`` costs a few milliseconds and the Lambda package never needs moto.
moto's in-process server keeps its state in process-wide backends: two LocalAWS
instances in one process see the same buckets, and so does ``moto.mock_aws``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from .emulator import DEFAULT_ORGANIZATION, Emulator
from .s3 import DUMMY_CREDENTIAL
from .sam_env import sam_env_vars, write_env_vars_file

if TYPE_CHECKING:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from mimeops.directory import StaticDirectory

DEFAULT_BUCKET = "mimeops-local"

INTERFERING_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
"""Removed by ``patch_env``: a named profile makes botocore skip the environment
credentials, a session token would be sent with the dummy keys, and the last one makes
botocore ignore ``AWS_ENDPOINT_URL_*`` altogether."""


def build_env(
    s3_endpoint: str, workmail_endpoint: str, region: str, bucket: str | None
) -> dict[str, str]:
    """The environment that points an unmodified boto3 at the local services.

    SSM goes to the moto server too (it serves every moto backend on one port), so a
    handler configured with ``ssm:/name`` works locally.
    """
    env = {
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ENDPOINT_URL_SSM": s3_endpoint,
        "AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW": workmail_endpoint,
        "AWS_ENDPOINT_URL_WORKMAIL": workmail_endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
    }
    if bucket is not None:
        env["MIMEOPS_BUCKET"] = bucket
    return env


@contextlib.contextmanager
def patched_environ(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` (and drop INTERFERING_ENV) in os.environ; restore everything after."""
    names = set(env) | set(INTERFERING_ENV)
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in INTERFERING_ENV:
            os.environ.pop(name, None)
        os.environ.update(env)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_moto(host: str) -> tuple[ThreadedMotoServer, str]:
    """Start moto's server on a free port; return it and its URL."""
    # werkzeug logs every request at INFO to stderr unless its logger is configured.
    werkzeug_logger = logging.getLogger("werkzeug")
    if werkzeug_logger.level == logging.NOTSET:
        werkzeug_logger.setLevel(logging.WARNING)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, port = server.get_host_and_port()
    if bound_host in ("0.0.0.0", "::"):
        bound_host = "127.0.0.1"
    return server, f"http://{bound_host}:{port}"


def _client(service: str, endpoint: str, region: str, **kwargs: Any) -> Any:
    import boto3

    session: Any = boto3.session.Session()  # Any: service is a runtime string
    return session.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIAL,
        aws_secret_access_key=DUMMY_CREDENTIAL,
        **kwargs,
    )


def _create_versioned_bucket(endpoint: str, region: str, bucket: str) -> None:
    from botocore.exceptions import ClientError

    s3 = _client("s3", endpoint, region)
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
    except ClientError as exc:  # moto state is per process: the bucket may exist
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


class LocalAWS:
    """moto's S3 server and an :class:`Emulator` on 127.0.0.1, ports picked free.

    The bucket is created with versioning enabled, as a production bucket for updated
    messages should be (a Put can then pin ``objectVersion``).
    """

    def __init__(
        self, bucket: str = DEFAULT_BUCKET, region: str = "us-east-1", host: str = "127.0.0.1",
        **emulator_options: Any,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.host = host
        self.emulator_options = emulator_options  # Emulator(clock=..., export_seconds=...)
        self._moto: ThreadedMotoServer | None = None
        self._s3_endpoint: str | None = None
        self._emulator: Emulator | None = None

    def start(self) -> LocalAWS:
        """Start both servers and create the bucket; returns self."""
        if self._emulator is not None:
            return self
        self._moto, self._s3_endpoint = _start_moto(self.host)
        try:
            _create_versioned_bucket(self._s3_endpoint, self.region, self.bucket)
            emulator = Emulator(self._s3_endpoint, self.region, host=self.host,
                                **self.emulator_options)
            emulator.start()
        except BaseException:
            self._moto.stop()
            self._moto = None
            raise
        self._emulator = emulator
        return self

    def stop(self) -> None:
        """Stop both servers (moto's takes up to half a second to notice)."""
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def emulator(self) -> Emulator:
        """The running WorkMail emulator."""
        if self._emulator is None:
            raise RuntimeError("LocalAWS is not running; use it as a context manager")
        return self._emulator

    @property
    def s3_endpoint(self) -> str:
        """URL of moto's server (S3, and every other moto service)."""
        if self._s3_endpoint is None or self._emulator is None:
            raise RuntimeError("LocalAWS is not running; use it as a context manager")
        return self._s3_endpoint

    @property
    def workmail_endpoint(self) -> str:
        """URL of the emulator (WorkMail Message Flow and WorkMail)."""
        return self.emulator.url

    @property
    def env(self) -> dict[str, str]:
        """Environment for boto3: endpoints, region, dummy credentials, MIMEOPS_BUCKET."""
        return build_env(self.s3_endpoint, self.workmail_endpoint, self.region, self.bucket)

    def patch_env(self) -> contextlib.AbstractContextManager[None]:
        """Context manager: ``env`` in os.environ (profiles/tokens removed), then restore.

        boto3 reads endpoints when a client is created: create clients (or import code
        that creates them at import time) inside the block.
        """
        return patched_environ(self.env)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` wired to the local endpoints.

        workmail and workmailmessageflow go to the emulator, everything else to moto.
        Extra keyword arguments (e.g. ``config=``) go to ``boto3.client``.
        """
        local = ("workmail", "workmailmessageflow")
        endpoint = self.workmail_endpoint if service in local else self.s3_endpoint
        return _client(service, endpoint, self.region, **kwargs)


def serve(
    host: str = "127.0.0.1",
    port: int = 8687,
    s3_endpoint_url: str | None = None,
    *,
    bucket: str = DEFAULT_BUCKET,
    region: str = "us-east-1",
    out: TextIO | None = None,
    env_vars_file: str | None = None,
    messages: Sequence[tuple[str, bytes]] = (),
    directories: Mapping[str, StaticDirectory] | None = None,
    mailboxes: Mapping[str, str] | None = None,
    organization_id: str = DEFAULT_ORGANIZATION,
    export_seconds: float = 2.0,
) -> None:
    """Run the emulator in the foreground until Ctrl-C (or SIGTERM).

    Without ``s3_endpoint_url`` moto's S3 server starts in-process on the same host
    (a free port) with a versioned ``bucket``. Prints one ``NAME=value`` line per
    environment variable a handler needs (on ``out``, default stdout), then logs each
    request to stderr. ``messages`` (id, raw MIME) are in transit from the start;
    ``directories`` (organization id -> directory) are served through the WorkMail
    directory API; ``mailboxes`` (address -> PATH as `mimeops preview` reads it) are
    the users of ``organization_id`` whose mailbox an export job exports, in
    ``export_seconds``.

    For ``sam local invoke`` the Lambda runs in a container: bind the Docker bridge
    address (``sam_env.docker_bridge_address()``), and ``env_vars_file`` gets a ready
    ``--env-vars`` file (written once the servers answer, so its presence means ready).
    """
    out = out if out is not None else sys.stdout
    moto = None
    created_bucket: str | None = None
    if s3_endpoint_url is None:
        moto, s3_endpoint_url = _start_moto(host)
        _create_versioned_bucket(s3_endpoint_url, region, bucket)
        created_bucket = bucket
    emulator = Emulator(s3_endpoint_url, region, host=host, port=port,
                        export_seconds=export_seconds)
    for org_id, directory in (directories or {}).items():
        emulator.add_directory(org_id, directory)
    for email, path in (mailboxes or {}).items():
        emulator.add_mailbox(email, path, organization_id)
    stop = threading.Event()
    previous = _install_sigterm(stop)
    try:
        emulator.start()
        for message_id, raw in messages:
            emulator.add_message(raw, message_id=message_id)
        env = build_env(s3_endpoint_url, emulator.url, region, created_bucket)
        if env_vars_file is not None:
            write_env_vars_file(env_vars_file, sam_env_vars(env))
        for name, value in env.items():
            print(f"{name}={value}", file=out, flush=True)
        _configure_request_log()
        print(
            f"WorkMail Message Flow emulator on {emulator.url} "
            f"(admin: {emulator.url}/_emulator); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        for email in mailboxes or {}:
            print(f"mailbox export: mimeops preview workmail://{organization_id}/{email} "
                  f"--export-bucket {created_bucket or 'BUCKET'} ...", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop
    finally:
        emulator.stop()
        if moto is not None:
            moto.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _install_sigterm(stop: threading.Event) -> Any:
    """Let SIGTERM end ``serve`` cleanly (signals can only be set on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, _handler)


def _configure_request_log() -> None:
    logger = logging.getLogger("mimeops_emulator")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
