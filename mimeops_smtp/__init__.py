"""mimeops_smtp: the flows as an SMTP content filter, for Postfix or any other MTA.

A second transport next to the WorkMail handler: the MTA hands each message over
SMTP with its envelope, the same flow file rewrites it, and the filter relays it
to the next hop with the same envelope — answering 250 only once the next hop has
it. Started with `mimeops smtp-filter`; needs the `smtp` extra (aiosmtpd).
"""

from mimeops_smtp.settings import Settings

__all__ = ["Settings"]
