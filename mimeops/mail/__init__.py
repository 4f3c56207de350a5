"""The message and its context as transforms and conditions see them (built-in or plugin).

A layer of its own between the flow and the MIME model: ops and plugins depend on it,
it depends only on `mimeops.mime` (and the directory records it answers with).
"""

from mimeops.mail.context import Context
from mimeops.mail.envelope import DIRECTIONS, Envelope
from mimeops.mail.headers import Headers
from mimeops.mail.parts import Attachment, Body
from mimeops.mail.protocols import (
    Condition,
    Transform,
    needs_directory,
    touches_body,
    transform_name,
)
from mimeops.mail.template import Template
from mimeops.mail.view import Mail

__all__ = ["DIRECTIONS", "Attachment", "Body", "Condition", "Context", "Envelope", "Headers",
           "Mail", "Template", "Transform", "needs_directory", "touches_body",
           "transform_name"]
