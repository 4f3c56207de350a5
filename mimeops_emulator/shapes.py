"""Request shape checks that AWS performs server-side.

botocore validates only required members, types and minimum lengths before sending;
maximum lengths and regular-expression patterns are enforced by the service. A handler
that builds an S3 key with a dot or an underscore therefore passes botocore and fails on
AWS with ValidationException. The emulator repeats those checks so that such bugs show
up locally. The constants mirror botocore's service-2.json for workmailmessageflow
2019-05-01 and workmail 2017-10-01.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from .errors import ServiceError, serialization_error, validation_error


@dataclass(frozen=True)
class StringShape:
    """Length bounds and a (fully matching) pattern, as in the service model."""

    min_length: int
    max_length: int
    pattern: str

    def violations(self, value: str, path: str) -> list[str]:
        """AWS-formatted constraint violations of ``value`` found at member ``path``."""
        found: list[str] = []
        prefix = f"Value '{value}' at '{path}' failed to satisfy constraint: "
        if len(value) < self.min_length:
            found.append(
                prefix + f"Member must have length greater than or equal to {self.min_length}"
            )
        if len(value) > self.max_length:
            found.append(
                prefix + f"Member must have length less than or equal to {self.max_length}"
            )
        if re.fullmatch(self.pattern, value) is None:
            found.append(prefix + f"Member must satisfy regular expression pattern: {self.pattern}")
        return found


MESSAGE_ID = StringShape(1, 120, r"[a-z0-9\-]*")
BUCKET = StringShape(3, 63, r"^[a-z0-9][a-z0-9\-]*")
KEY = StringShape(1, 1024, r"[a-zA-Z0-9\-/]*")
OBJECT_VERSION = StringShape(1, 1024, r".+")
ORGANIZATION_ID = StringShape(34, 34, r"^m-[0-9a-f]{32}$")
NEXT_TOKEN = StringShape(1, 1024, r"[\S\s]*|[a-zA-Z0-9/+=]{1,1024}")
MAX_RESULTS_RANGE = (1, 100)


def _null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def _string_member(
    data: dict[str, Any], name: str, path: str, shape: StringShape, required: bool
) -> tuple[str | None, list[str]]:
    value = data.get(name)
    if value is None:
        return None, [_null(path)] if required else []
    if not isinstance(value, str):
        raise serialization_error(f"Expected a string for '{path}'")
    return value, shape.violations(value, path)


def check_message_id(message_id: str) -> None:
    """Raise ValidationException when the URI label breaks ``messageIdType``."""
    problems = MESSAGE_ID.violations(message_id, "messageId")
    if problems:
        raise validation_error(problems)


def parse_put_request(message_id: str, body: Any) -> dict[str, str]:
    """Validate a PutRawMessageContent request; return its ``s3Reference`` member.

    All violations are reported together, as AWS does, so one round trip shows every
    problem with the request.
    """
    if not isinstance(body, dict):
        raise serialization_error("Request body must be a JSON object")
    problems = MESSAGE_ID.violations(message_id, "messageId")
    content = body.get("content")
    if content is None:
        raise validation_error([*problems, _null("content")])
    if not isinstance(content, dict):
        raise serialization_error("Expected an object for 'content'")
    ref = content.get("s3Reference")
    if ref is None:
        raise validation_error([*problems, _null("content.s3Reference")])
    if not isinstance(ref, dict):
        raise serialization_error("Expected an object for 'content.s3Reference'")
    result: dict[str, str] = {}
    for name, shape, required in (
        ("bucket", BUCKET, True),
        ("key", KEY, True),
        ("objectVersion", OBJECT_VERSION, False),
    ):
        value, found = _string_member(ref, name, f"content.s3Reference.{name}", shape, required)
        problems.extend(found)
        if value is not None:
            result[name] = value
    if problems:
        raise validation_error(problems)
    return result


def parse_list_mail_domains(body: Any) -> tuple[str, int | None, str | None]:
    """Validate a ListMailDomains request: (OrganizationId, MaxResults, NextToken)."""
    if not isinstance(body, dict):
        raise serialization_error("Request body must be a JSON object")
    org_id, problems = _string_member(
        body, "OrganizationId", "organizationId", ORGANIZATION_ID, True
    )
    token, found = _string_member(body, "NextToken", "nextToken", NEXT_TOKEN, False)
    problems.extend(found)
    max_results = body.get("MaxResults")
    if max_results is not None:
        if not isinstance(max_results, int) or isinstance(max_results, bool):
            raise serialization_error("Expected an integer for 'MaxResults'")
        low, high = MAX_RESULTS_RANGE
        prefix = f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
        if max_results < low:
            problems.append(prefix + f"Member must have value greater than or equal to {low}")
        if max_results > high:
            problems.append(prefix + f"Member must have value less than or equal to {high}")
    if problems:
        raise validation_error(problems)
    assert org_id is not None
    return org_id, max_results, token


def require(body: Any, *members: tuple[str, StringShape]) -> list[str]:
    """The required string members of a JSON 1.1 request, checked against their shapes
    (and MaxResults when present); ValidationException listing every violation."""
    if not isinstance(body, dict):
        raise serialization_error("Request body must be a JSON object")
    values: list[str] = []
    problems: list[str] = []
    for name, shape in members:
        path = name[0].lower() + name[1:]
        value = body.get(name)
        if value is None:
            problems.append(f"Value null at '{path}' failed to satisfy constraint: "
                            "Member must not be null")
            continue
        if not isinstance(value, str):
            raise serialization_error(f"Expected a string for '{path}'")
        problems.extend(shape.violations(value, path))
        values.append(value)
    max_results = body.get("MaxResults")
    if max_results is not None:
        low, high = MAX_RESULTS_RANGE
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise serialization_error("Expected an integer for 'MaxResults'")
        if not low <= max_results <= high:
            problems.append(f"Value '{max_results}' at 'maxResults' failed to satisfy "
                            f"constraint: Member must have value between {low} and {high}")
    if problems:
        raise validation_error(problems)
    return values


def page(body: dict[str, Any], key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of `items` under `key`, with NextToken when more follow."""
    token = body.get("NextToken")
    start = decode_token(token) if token else 0
    size = body.get("MaxResults") or MAX_RESULTS_RANGE[1]
    result: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        result["NextToken"] = encode_token(start + size)
    return result


def encode_token(offset: int) -> str:
    """A NextToken for the page starting at `offset`."""
    return base64.b64encode(str(offset).encode()).decode()


def decode_token(token: Any) -> int:
    """The offset a NextToken stands for; InvalidParameterException when it is not ours."""
    try:
        value = int(base64.b64decode(str(token), validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = -1
    if value < 0:
        raise ServiceError("InvalidParameterException", 400, "The NextToken is not valid.")
    return value
