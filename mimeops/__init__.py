"""mimeops: byte-preserving MIME rewriting flows for mail in transit.

The engine, ops and flows import no AWS library, so a flow runs the same
under the WorkMail Lambda handler (`mimeops_workmail`), the CLI or any other transport.

    from mimeops import load_flow, Envelope
    flow = load_flow("flow.yaml")
    result = flow.apply(raw, Envelope("INBOUND", "a@example.net", ["b@example.com"]))

Extensions (docs/extending.md) are transforms and conditions written
against `Mail` and `Context`, the same API the built-ins use.
"""

from mimeops.flow import (
    ActionType,
    Flow,
    FlowError,
    Reason,
    RecipientAction,
    Result,
    Skip,
    load_flow,
)
from mimeops.mail import (
    Attachment,
    Body,
    Condition,
    Context,
    Envelope,
    Headers,
    Mail,
    Template,
    Transform,
)

__all__ = ["ActionType", "Attachment", "Body", "Condition", "Context", "Envelope", "Flow",
           "FlowError", "Headers", "Mail", "Reason", "RecipientAction", "Result", "Skip",
           "Template", "Transform", "load_flow"]
__version__ = "0.1.0"
