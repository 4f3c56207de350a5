"""GetRawMessageContent / PutRawMessageContent, with timeouts that fit WorkMail's 15 s."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Each call is bounded (connect 1 s, read 4 s, 3 attempts with backoff); the
# handler also enforces an overall deadline, so the sum can never pass 15 s.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=4,
    retries={"max_attempts": 3, "mode": "standard"},
)


@cache
def client(service: str) -> Any:
    """One client per service per container; endpoints from the standard
    botocore settings (AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW, AWS_ENDPOINT_URL_S3)."""
    return boto3.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def get(message_id: str) -> bytes:
    response = client("workmailmessageflow").get_raw_message_content(messageId=message_id)
    body: bytes = response["messageContent"].read()
    return body


def put(message_id: str, reference: dict[str, str]) -> None:
    client("workmailmessageflow").put_raw_message_content(
        messageId=message_id, content={"s3Reference": reference})


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
