"""Local AWS WorkMail Message Flow API on the real wire protocol.

``Emulator`` serves GetRawMessageContent / PutRawMessageContent (rest-json, API
2019-05-01) and WorkMail's ListMailDomains (json-1.1) over HTTP, so unmodified boto3
code runs against it via ``endpoint_url`` or ``AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW``.
``LocalAWS`` adds moto's S3 server for the updated-message bucket; ``serve`` runs both in
the foreground for ``mimeops serve`` / ``sam local invoke``.

Only the standard library is imported here; boto3 and moto load on first use.
"""

from __future__ import annotations

from .emulator import Emulator
from .errors import ServiceError
from .faults import FAULT_KINDS, FAULT_OPS, Fault
from .local import LocalAWS, serve

__all__ = ["FAULT_KINDS", "FAULT_OPS", "Emulator", "Fault", "LocalAWS", "ServiceError", "serve"]
