"""Run the real Lambda handler on this machine, against the embedded emulator.

`mimeops invoke`, `make demo` and the `workmail` pytest fixture (`mimeops_workmail.pytest_plugin`)
use this: moto's S3 server and the WorkMail Message Flow emulator start on 127.0.0.1,
the handler reaches them through the standard AWS_ENDPOINT_URL_* settings, exactly as
it reaches AWS.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimeops.flow.implied import implied_envelope
from mimeops.mime import Message
from mimeops_emulator import LocalAWS
from mimeops_emulator.local import patched_environ

Flow = str | Path | Mapping[str, Any]
"""A flow as the test kit takes it: a path, YAML/JSON text, or a dict (transform and
condition objects allowed, docs/extending.md)."""


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handler and powertools read."""

    timeout_ms: int = 15_000
    function_name: str = "mimeops-local"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:mimeops-local")
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.timeout_ms - (time.monotonic() - self._started) * 1000))


LOCAL_ORGANIZATION = "m-00000000000000000000000000000000"
"""The emulated organization `invoke --directory` serves when the flow names none."""


@dataclass(frozen=True)
class Invocation:
    """What one run of the handler did."""

    #: The handler's synchronous response (`{"actions": [...]}`).
    response: dict[str, Any]
    #: The bytes WorkMail would deliver: the updated message, or the original.
    message: bytes
    #: Whether the handler updated the message (PutRawMessageContent).
    updated: bool
    #: Where the updated message was uploaded ("s3://bucket/key"), when it was.
    location: str | None


class LocalWorkMail:
    """The real handler against one running `LocalAWS`: each call is one invocation."""

    def __init__(self, aws: LocalAWS) -> None:
        self.aws = aws

    def invoke(self, raw: bytes, *, flow: Flow, direction: str = "INBOUND",
               mail_from: str | None = None, recipients: Sequence[str] = (),
               directory: str | Path | None = None,
               organization_id: str | None = None) -> Invocation:
        """Run the handler on `raw` as WorkMail would hand it over, with this envelope
        (mail_from: the From address; recipients: To + Cc, when not given)."""
        envelope = implied_envelope(Message(raw).root.header, direction, mail_from,
                                    list(recipients))
        event = {
            "summaryVersion": "2019-07-28",
            "envelope": {"mailFrom": {"address": envelope.mail_from},
                         "recipients": [{"address": r} for r in envelope.recipients]},
            "messageId": str(uuid.uuid4()),
            "invocationId": uuid.uuid4().hex,
            "flowDirection": envelope.direction,
            "truncated": False,
        }
        return self.run(event, raw, flow=flow, directory=directory,
                        organization_id=organization_id)

    def run(self, event: dict[str, Any], raw: bytes, *, flow: Flow | None = None,
            directory: str | Path | None = None, organization_id: str | None = None,
            context: LocalContext | None = None) -> Invocation:
        """Run the handler on a WorkMail event (`flow`: else $MIMEOPS_CONFIG).

        `directory`: a static directory file the emulator serves through the WorkMail
        directory API for `organization_id` (default LOCAL_ORGANIZATION, also put in
        MIMEOPS_ORGANIZATION_ID), so a `directory: workmail` flow reads it over HTTP.
        """
        message_id = event.get("messageId")
        if not isinstance(message_id, str):
            raise ValueError("event has no messageId")
        with self._handler(directory, organization_id) as app:
            app.reset(flow=dict(flow) if isinstance(flow, Mapping) else
                      (str(flow) if flow is not None else None))
            self.aws.emulator.add_message(raw, message_id=message_id)
            response = app.lambda_handler(event, context or LocalContext())
        puts = self.aws.emulator.puts(message_id)
        location = f"s3://{puts[-1]['bucket']}/{puts[-1]['key']}" if puts else None
        return Invocation(response, self.aws.emulator.message(message_id), bool(puts),
                          location)

    @contextlib.contextmanager
    def _handler(self, directory: str | Path | None,
                 organization_id: str | None) -> Iterator[Any]:
        """The handler module in this emulator's environment; everything restored after."""
        from mimeops_workmail import directory as workmail_directory

        env = {**self.aws.env, "POWERTOOLS_METRICS_DISABLED": "true"}
        if directory is not None:
            org = organization_id or LOCAL_ORGANIZATION
            self.aws.emulator.add_directory(org, str(directory))
            env[workmail_directory.ENV_ORGANIZATION] = org
        with patched_environ(env):
            from mimeops_workmail import app, clients

            try:
                app.reset()
                clients.client.cache_clear()  # clients for this emulator's endpoints
                workmail_directory.reset()
                yield app
            finally:
                app.reset()
                clients.client.cache_clear()
                workmail_directory.reset()


def invoke(event_bytes: bytes, raw: bytes, *, config: str | None = None,
           output: str | None = None, directory: str | None = None,
           organization_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """`mimeops invoke`: the handler's response, and where the rewritten message was
    written (None if unchanged). `config`: the flow (else $MIMEOPS_CONFIG)."""
    try:
        event = json.loads(event_bytes)
    except ValueError as error:
        raise ValueError(f"event is not valid JSON: {error}") from None
    if not isinstance(event, dict):
        raise ValueError("event has no messageId")
    # The handler's logs and metrics go to stderr: stdout is for the response alone.
    # (powertools binds its stream when handlers.app is first imported, in run.)
    with LocalAWS() as aws, contextlib.redirect_stdout(sys.stderr):
        done = LocalWorkMail(aws).run(event, raw, flow=config, directory=directory,
                                      organization_id=organization_id)
    written = done.location
    if written and output:
        Path(output).write_bytes(done.message)
        written = f"{output} (uploaded to {written})"
    return done.response, written
