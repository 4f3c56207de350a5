"""mimeops: byte-preserving MIME rewriting flows for mail in transit.

The engine, ops and flows import no AWS library, so a flow runs the same
under the WorkMail Lambda handler (`mimeops_workmail`), the CLI or any other transport.

    from mimeops import load_flow, Envelope
    flow = load_flow("flow.yaml")
    result = flow.apply(raw, Envelope("INBOUND", "a@example.net", ["b@example.com"]))
"""

from mimeops.flow import Flow, FlowError, Result, load_flow
from mimeops.mail import Context, Envelope, Mail

__all__ = ["Context", "Envelope", "Flow", "FlowError", "Mail", "Result", "load_flow"]
__version__ = "0.1.0"
