"""Write a rewritten message to S3 where WorkMail can read it."""

from __future__ import annotations

import re
import uuid
from typing import Any

_UNSAFE = re.compile(r"[^a-zA-Z0-9\-/]")


def object_key(prefix: str, message_id: str, invocation_id: str) -> str:
    """A key WorkMail accepts: only `[a-zA-Z0-9-/]` (no dots, no underscores)."""
    suffix = invocation_id or uuid.uuid4().hex
    return _UNSAFE.sub("-", f"{prefix}{message_id}/{suffix}")


def put(client: Any, bucket: str, key: str, body: bytes) -> dict[str, str]:
    """Upload, SSE-S3 encrypted; returns the S3 reference for PutRawMessageContent."""
    response = client.put_object(Bucket=bucket, Key=key, Body=body,
                                 ServerSideEncryption="AES256",
                                 ContentType="message/rfc822")
    reference = {"bucket": bucket, "key": key}
    version = response.get("VersionId")
    if version and version != "null":
        reference["objectVersion"] = version
    return reference
