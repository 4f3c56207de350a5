"""Protocol-neutral request/response values and AWS's error encoding.

Shared by the operations (:mod:`mimeops_emulator.api`), the admin endpoints and the
HTTP server, so that none of them depends on another's internals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ServiceError

REST_JSON = "application/json"
AMZ_JSON = "application/x-amz-json-1.1"


@dataclass
class Request:
    """An HTTP request as the operations see it (path without the query string)."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass
class Response:
    """Status, body and content type; the server adds Content-Length and a request id."""

    status: int
    body: bytes = b""
    content_type: str = REST_JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, content_type: str = REST_JSON) -> Response:
    """A JSON body with the given content type."""
    return Response(status, json.dumps(data).encode(), content_type)


def error_response(error: ServiceError, json_protocol: bool = False) -> Response:
    """The AWS error encoding botocore parses into ``ClientError.response["Error"]``.

    rest-json services send the code in ``x-amzn-ErrorType`` and the text in
    ``message``; json-1.1 services send ``__type`` and ``Message``. Both carry both the
    header and ``__type`` here, which botocore accepts either way.
    """
    message_key = "Message" if json_protocol else "message"
    body = {"__type": error.code, message_key: error.message}
    response = json_response(body, error.status, AMZ_JSON if json_protocol else REST_JSON)
    response.headers["x-amzn-ErrorType"] = error.code
    return response
