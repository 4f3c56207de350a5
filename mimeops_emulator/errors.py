"""AWS-shaped service errors.

Every failure the emulator reports travels as a :class:`ServiceError` so that the HTTP
layer can turn it into exactly what AWS sends: a status code, an ``x-amzn-ErrorType``
header and a JSON body with ``__type`` and a message. botocore reads the error code from
those (header first for rest-json, ``__type`` for json-1.1), so
``ClientError.response["Error"]["Code"]`` is the bare code, e.g. ``"MessageRejected"``.
"""

from __future__ import annotations

from collections.abc import Sequence


class ServiceError(Exception):
    """An error response: AWS error code, HTTP status and human-readable message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message


def resource_not_found(message_id: str) -> ServiceError:
    """The message id is unknown (or, on AWS, older than about 24 hours)."""
    return ServiceError("ResourceNotFoundException", 404, f"Message {message_id} was not found.")


def invalid_content_location(detail: str) -> ServiceError:
    """WorkMail could not read the S3 object named in a Put."""
    return ServiceError(
        "InvalidContentLocation",
        400,
        f"WorkMail could not access the updated email content: {detail}",
    )


def message_rejected(reason: str) -> ServiceError:
    """The updated MIME breaks one of WorkMail's rules; the message names the rule."""
    return ServiceError("MessageRejected", 400, f"The updated message was rejected: {reason}")


def message_frozen(message_id: str) -> ServiceError:
    """The message can no longer be updated (typically redirected mail)."""
    return ServiceError("MessageFrozen", 400, f"Message {message_id} is not eligible for update.")


def throttling() -> ServiceError:
    """429 with a throttling code: botocore retries it (standard and legacy modes)."""
    return ServiceError("ThrottlingException", 429, "Rate exceeded")


def internal_error(detail: str = "An internal error occurred.") -> ServiceError:
    """500: botocore retries every 5xx before raising ClientError."""
    return ServiceError("InternalServerException", 500, detail)


def serialization_error(detail: str) -> ServiceError:
    """The request body is not the JSON the operation expects."""
    return ServiceError("SerializationException", 400, detail)


def unknown_operation(detail: str) -> ServiceError:
    """No operation (or admin endpoint) answers this method and path / target."""
    return ServiceError("UnknownOperationException", 404, detail)


def validation_error(violations: Sequence[str]) -> ServiceError:
    """AWS's aggregated shape-violation message.

    The text follows the AWS convention exactly, e.g. ``1 validation error detected:
    Value 'a.b' at 'content.s3Reference.key' failed to satisfy constraint: Member must
    satisfy regular expression pattern: [a-zA-Z0-9\\-/]*``, so code that logs or matches
    it behaves the same against the emulator and AWS.
    """
    count = len(violations)
    noun = "validation error" if count == 1 else "validation errors"
    return ServiceError(
        "ValidationException", 400, f"{count} {noun} detected: " + "; ".join(violations)
    )


class DockerUnavailable(RuntimeError):
    """No Docker engine answers (or its bridge network has no IPv4 subnet): the one line
    ``mimeops serve --docker`` and ``make sam-local`` show before exiting 2."""


class SamLocalFailed(RuntimeError):
    """A step of ``make sam-local`` failed; the message is the one line the user sees."""
