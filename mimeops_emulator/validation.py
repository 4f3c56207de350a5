"""Checks WorkMail applies to the MIME of a PutRawMessageContent.

The rules live in the engine (`mimeops.mime.validate`), shared with the flow and
the Lambda handler, which check their output with the same function before a
Put: the emulator answers MessageRejected exactly when the handler would refuse
to send the update.
"""

from __future__ import annotations

from mimeops.mime.validate import (
    IMMUTABLE_HEADERS,
    MAX_LINE_OCTETS,
    UNIQUE_HEADERS,
    rejection_reason,
)

__all__ = ["IMMUTABLE_HEADERS", "MAX_LINE_OCTETS", "UNIQUE_HEADERS", "rejection_reason"]
