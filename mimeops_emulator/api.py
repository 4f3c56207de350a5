"""The emulated operations, independent of the HTTP plumbing.

:class:`Api` turns a parsed :class:`Request` into a :class:`Response` the way AWS
would: WorkMail Message Flow (rest-json, ``/messages/{messageId}``), WorkMail's
ListMailDomains (json-1.1, dispatched on ``X-Amz-Target``), and the emulator's own
admin endpoints under ``/_emulator/`` (a prefix the real API never uses). Keeping this
apart from :mod:`mimeops_emulator.server` lets the routing be read (and tested) as a
table of operations rather than as socket code.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from . import admin
from .directory import DirectoryBook
from .errors import (
    ServiceError,
    internal_error,
    message_frozen,
    message_rejected,
    resource_not_found,
    serialization_error,
    throttling,
    unknown_operation,
)
from .export import ExportBook
from .faults import FRONT_DOOR_KINDS, PUT_ONLY_KINDS, FaultBook
from .s3 import S3Store
from .shapes import (
    check_message_id,
    decode_token,
    encode_token,
    parse_list_mail_domains,
    parse_put_request,
)
from .state import State
from .validation import rejection_reason
from .wire import AMZ_JSON, Request, Response, error_response, json_response

MESSAGES_PREFIX = "/messages/"
WORKMAIL_TARGET_PREFIX = "WorkMailService."
DEFAULT_PAGE_SIZE = 100


class Api:
    """Routes requests to operations and applies injected faults."""

    def __init__(
        self,
        state: State,
        faults: FaultBook,
        s3: S3Store,
        sleep: Callable[[float], None] = time.sleep,
        directories: DirectoryBook | None = None,
        exports: ExportBook | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.s3 = s3
        self._sleep = sleep
        self.directories = directories if directories is not None else DirectoryBook()
        self.exports = exports if exports is not None else ExportBook(state, self.directories, s3)

    def handle(self, request: Request) -> Response:
        """Answer one request; every failure becomes an AWS-shaped error response."""
        if request.path == admin.PREFIX or request.path.startswith(admin.PREFIX + "/"):
            return admin.handle(request, self.state, self.faults, self.directories)
        target = request.header("X-Amz-Target")
        if target is not None:
            self.state.log_request(request.method, request.path)
            try:
                return self._json_operation(request, target)
            except ServiceError as error:
                return error_response(error, json_protocol=True)
        self.state.log_request(request.method, request.path)
        try:
            return self._rest_operation(request)
        except ServiceError as error:
            return error_response(error)

    # -- dispatch -------------------------------------------------------------------

    def _rest_operation(self, request: Request) -> Response:
        if request.path.startswith(MESSAGES_PREFIX):
            raw_id = request.path[len(MESSAGES_PREFIX) :]
            if raw_id and "/" not in raw_id:
                message_id = unquote(raw_id)
                if request.method == "GET":
                    return self.get_raw_message_content(message_id)
                if request.method == "POST":
                    return self.put_raw_message_content(message_id, request.body)
        raise unknown_operation(
            f"No WorkMail Message Flow operation for {request.method} {request.path}"
        )

    def _json_operation(self, request: Request, target: str) -> Response:
        if request.method == "POST" and target == WORKMAIL_TARGET_PREFIX + "ListMailDomains":
            return self.list_mail_domains(request.body)
        operation = target.removeprefix(WORKMAIL_TARGET_PREFIX)
        operations = {**self.directories.operations(), **self.exports.operations()}
        if request.method == "POST" and target.startswith(WORKMAIL_TARGET_PREFIX) and (
                operation in operations):
            self._front_door(_fault_op(operation), None)
            answer = operations[operation](_load_json(request.body))
            return json_response(answer, content_type=AMZ_JSON)
        raise ServiceError(
            "UnknownOperationException",
            400,
            f"The emulator does not implement {target}; it serves "
            f"{WORKMAIL_TARGET_PREFIX}ListMailDomains and "
            f"{', '.join(operations)}",
        )

    def _front_door(self, op: str, message_id: str | None) -> None:
        """Latency, throttling and 5xx happen before AWS looks at the request."""
        delay = self.faults.latency(op, message_id)
        if delay > 0:
            self._sleep(delay)
        fault = self.faults.fire(op, message_id, FRONT_DOOR_KINDS)
        if fault is None:
            return
        if fault.kind == "throttle":
            raise throttling()
        raise internal_error("Injected fault: internal server error.")

    # -- operations -----------------------------------------------------------------

    def get_raw_message_content(self, message_id: str) -> Response:
        """GetRawMessageContent: the current MIME bytes as the body."""
        self._front_door("get", message_id)
        check_message_id(message_id)
        stored = self.state.get(message_id)
        if stored is None:
            raise resource_not_found(message_id)
        return Response(200, stored.content, "application/octet-stream")

    def put_raw_message_content(self, message_id: str, body: bytes) -> Response:
        """PutRawMessageContent: read the S3 object, validate it, make it the message.

        Order of checks follows the service: shape validation, then the message lookup,
        then whether it may be updated, then the S3 read, then the MIME rules.
        """
        self._front_door("put", message_id)
        reference = parse_put_request(message_id, _load_json(body))
        stored = self.state.get(message_id)
        if stored is None:
            raise resource_not_found(message_id)
        fault = self.faults.fire("put", message_id, PUT_ONLY_KINDS)
        if fault is not None and fault.kind == "frozen":
            raise message_frozen(message_id)
        if fault is not None:
            raise message_rejected("injected fault: the message was rejected")
        content = self.s3.read(reference)
        reason = rejection_reason(stored.original, content)
        if reason is not None:
            raise message_rejected(reason)
        self.state.accept_put(message_id, content, reference)
        return json_response({})

    def list_mail_domains(self, body: bytes) -> Response:
        """WorkMail ListMailDomains with MaxResults/NextToken paging."""
        self._front_door("list_mail_domains", None)
        org_id, max_results, token = parse_list_mail_domains(_load_json(body))
        domains = self.state.domains(org_id)
        if domains is None:
            raise ServiceError(
                "OrganizationNotFoundException", 400, f"Organization {org_id} does not exist."
            )
        start = decode_token(token) if token is not None else 0
        size = max_results or DEFAULT_PAGE_SIZE
        page = [
            {"DomainName": name, "DefaultDomain": index == 0} for index, name in enumerate(domains)
        ][start : start + size]
        result: dict[str, Any] = {"MailDomains": page}
        if start + size < len(domains):
            result["NextToken"] = encode_token(start + size)
        return json_response(result, content_type=AMZ_JSON)


def _fault_op(operation: str) -> str:
    """The `op` name faults use for a json-1.1 operation: DescribeUser -> describe_user,
    StartMailboxExportJob -> start_mailbox_export_job."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _load_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise serialization_error(f"Request body is not valid JSON: {exc}") from exc

