"""The envelope a message's own headers imply, for tools that have no SMTP envelope.

`mimeops apply`, `explain` and `preview` run a flow on files: the envelope sender
defaults to the From address and the recipients to To + Cc, unless given.
"""

from __future__ import annotations

from collections.abc import Sequence

from mimeops.mail import Envelope
from mimeops.mime.addresses import header_addresses
from mimeops.mime.headers import HeaderBlock


def implied_envelope(header: HeaderBlock, direction: str = "INBOUND",
                     mail_from: str | None = None,
                     recipients: Sequence[str] = ()) -> Envelope:
    """An Envelope: `mail_from` or the From address; `recipients` or To + Cc."""
    if mail_from is None:
        senders = header_addresses(header.get_all("from"))
        mail_from = senders[0][1] if senders else ""
    if not recipients:
        recipients = [a for _, a in header_addresses(header.get_all("to") + header.get_all("cc"))]
    return Envelope(direction, mail_from, recipients)
