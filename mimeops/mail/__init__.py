"""The message and its context as transforms and conditions see them (built-in or plugin).

A layer of its own between the flow and the MIME model: ops and plugins depend on it,
it depends only on `mimeops.mime`.
"""

from mimeops.mail.context import Context
from mimeops.mail.envelope import DIRECTIONS, Envelope
from mimeops.mail.protocols import Condition, Transform, touches_body, transform_name
from mimeops.mail.view import Mail

__all__ = ["DIRECTIONS", "Condition", "Context", "Envelope", "Mail", "Transform",
           "touches_body", "transform_name"]
