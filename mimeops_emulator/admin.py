"""Admin endpoints under ``/_emulator/`` for people who run ``mimeops serve``.

They let a shell script (curl) or a handler running in ``sam local invoke`` load
messages, inspect results and inject faults without Python access to the Emulator
object. The real API never uses this prefix, so they cannot shadow an operation. They
are not logged in ``Emulator.requests`` and faults never apply to them.

    POST   /_emulator/messages[?id=ID]     raw MIME body -> {"messageId": ID}
    GET    /_emulator/messages/ID          current content (raw MIME)
    GET    /_emulator/messages/ID/puts     accepted Puts' s3Reference dicts (JSON list)
    POST   /_emulator/faults               {"kind", "op", "messageId", "times", "seconds"}
    GET    /_emulator/faults               pending faults (JSON list)
    DELETE /_emulator/faults               drop every pending fault
    POST   /_emulator/organizations        {"organizationId": ..., "domains": [...]}
    POST   /_emulator/directories          {"organizationId": ..., "directory": {"users": ...}}
    GET    /_emulator                      {"messages": [ids], "faults": [...]}
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from mimeops.directory import parse_directory

from .directory import DirectoryBook
from .errors import ServiceError, unknown_operation
from .faults import FaultBook, make_fault
from .state import State
from .wire import Request, Response, error_response, json_response

PREFIX = "/_emulator"


def handle(request: Request, state: State, faults: FaultBook,
           directories: DirectoryBook | None = None) -> Response:
    """Answer one admin request; bad input is a 400 naming the problem."""
    try:
        if request.path == PREFIX + "/directories" and directories is not None:
            return _directory(request, state, directories)
        return _route(request, state, faults)
    except ServiceError as error:
        return error_response(error)
    except (ValueError, TypeError) as exc:
        return error_response(ServiceError("ValidationException", 400, str(exc)))


def _route(request: Request, state: State, faults: FaultBook) -> Response:
    parts = [unquote(p) for p in request.path[len(PREFIX) :].split("/") if p]
    method = request.method
    if not parts and method == "GET":
        return json_response(
            {
                "messages": state.message_ids(),
                "faults": [f.to_dict() for f in faults.pending()],
            }
        )
    if parts == ["messages"] and method == "POST":
        wanted = request.query.get("id", [None])[0]
        return json_response({"messageId": state.add_message(request.body, wanted)})
    if len(parts) in (2, 3) and parts[0] == "messages" and method == "GET":
        message_id = parts[1]
        try:
            if len(parts) == 2:
                return Response(200, state.content(message_id), "application/octet-stream")
            if parts[2] == "puts":
                return json_response(state.puts(message_id))
        except KeyError:
            raise ServiceError(
                "ResourceNotFoundException", 404, f"Message {message_id} was not found."
            ) from None
    if parts == ["faults"]:
        if method == "POST":
            spec = _json_object(request.body)
            fault = make_fault(
                kind=spec.get("kind", ""),
                op=spec.get("op", "any"),
                message_id=spec.get("messageId"),
                times=spec.get("times", 1),
                seconds=spec.get("seconds", 0.0),
            )
            faults.add(fault)
            return json_response({"fault": fault.to_dict()})
        if method == "GET":
            return json_response([f.to_dict() for f in faults.pending()])
        if method == "DELETE":
            faults.clear()
            return json_response({})
    if parts == ["organizations"] and method == "POST":
        spec = _json_object(request.body)
        state.add_organization(spec.get("organizationId", ""), spec.get("domains", []))
        return json_response({})
    raise unknown_operation(f"No emulator admin endpoint for {method} {request.path}")


def _directory(request: Request, state: State, directories: DirectoryBook) -> Response:
    """POST a directory (the static file's content as JSON) for an organization."""
    if request.method != "POST":
        raise unknown_operation(f"No emulator admin endpoint for {request.method} "
                                f"{request.path}")
    spec = _json_object(request.body)
    org_id = spec.get("organizationId", "")
    directory = parse_directory(spec.get("directory"))  # DirectoryError is a ValueError
    if state.domains(org_id) is None:
        state.add_organization(org_id, sorted(directory.domains()))
    directories.add(org_id, directory)
    return json_response({})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("request body must be a JSON object")
    return data
