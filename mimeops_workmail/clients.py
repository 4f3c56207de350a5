"""boto3 clients with timeouts that fit WorkMail's 15 s, one per service per container."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Each call is bounded (connect 1 s, read 4 s, 3 attempts in standard mode, set
# explicitly: older botocore defaults to legacy mode with 5 attempts and long
# backoff). The handler also enforces an overall deadline on top.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=4,
    retries={"max_attempts": 3, "mode": "standard"},
)


@cache
def client(service: str) -> Any:
    """Endpoints come from the standard botocore settings (AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW, ...), read when the client is made."""
    return boto3.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


# `mimeops preview workmail://` runs on an operator's machine, not in the 15 s of an
# invocation: longer reads (a zip range of megabytes), standard retries.
PREVIEW_CONFIG = Config(
    connect_timeout=10,
    read_timeout=60,
    retries={"max_attempts": 5, "mode": "standard"},
)


def preview_client(service: str) -> Any:
    """A client for `mimeops preview`; endpoints as for `client`."""
    return boto3.client(service, config=PREVIEW_CONFIG)  # type: ignore[call-overload]
