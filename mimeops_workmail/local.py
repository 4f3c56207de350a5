"""Run the real Lambda handler on this machine, against the embedded emulator.

`mimeops invoke` and `make demo` use this: moto's S3 server and the WorkMail
Message Flow emulator start on 127.0.0.1, the handler reaches them through
the standard AWS_ENDPOINT_URL_* settings, exactly as it reaches AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimeops_emulator import LocalAWS


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


def invoke(event_bytes: bytes, raw: bytes, *, config: str | None = None,
           output: str | None = None, directory: str | None = None,
           organization_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """Handler response, and where the rewritten message was written (None if unchanged).

    `directory`: a static directory file the emulator serves through the WorkMail
    directory API for `organization_id` (default LOCAL_ORGANIZATION, also put in
    MIMEOPS_ORGANIZATION_ID), so a `directory: workmail` flow reads it over HTTP.
    """
    try:
        event = json.loads(event_bytes)
    except ValueError as error:
        raise ValueError(f"event is not valid JSON: {error}") from None
    message_id = event.get("messageId") if isinstance(event, dict) else None
    if not isinstance(message_id, str):
        raise ValueError("event has no messageId")
    from mimeops_workmail import directory as workmail_directory

    names = ("MIMEOPS_CONFIG", "POWERTOOLS_METRICS_DISABLED", workmail_directory.ENV_ORGANIZATION)
    saved = {k: os.environ.get(k) for k in names}
    # The handler's logs and metrics go to stderr: stdout is for the response alone.
    # (powertools binds its stream when handlers.app is first imported, below.)
    with LocalAWS() as aws, aws.patch_env(), contextlib.redirect_stdout(sys.stderr):
        if config is not None:
            os.environ["MIMEOPS_CONFIG"] = config
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        from mimeops_workmail import app, clients

        try:
            app.reset()
            clients.client.cache_clear()  # clients for this emulator's endpoints
            workmail_directory.reset()
            if directory is not None:
                org = organization_id or LOCAL_ORGANIZATION
                aws.emulator.add_directory(org, directory)
                os.environ[workmail_directory.ENV_ORGANIZATION] = org
            aws.emulator.add_message(raw, message_id=message_id)
            response = app.lambda_handler(event, LocalContext())
            puts = aws.emulator.puts(message_id)
            written = None
            if puts:
                ref = puts[-1]
                written = f"s3://{ref['bucket']}/{ref['key']}"
                if output:
                    Path(output).write_bytes(aws.emulator.message(message_id))
                    written = f"{output} (uploaded to {written})"
        finally:
            app.reset()
            clients.client.cache_clear()
            workmail_directory.reset()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return response, written
