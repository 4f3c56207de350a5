"""GetRawMessageContent / PutRawMessageContent (the WorkMail Message Flow API)."""

from __future__ import annotations

from mimeops_workmail.clients import client


def get(message_id: str) -> bytes:
    response = client("workmailmessageflow").get_raw_message_content(messageId=message_id)
    body: bytes = response["messageContent"].read()
    return body


def put(message_id: str, reference: dict[str, str]) -> None:
    client("workmailmessageflow").put_raw_message_content(
        messageId=message_id, content={"s3Reference": reference})
