"""A delivery status notification (RFC 3464) for recipients refused after DATA.

SMTP has one reply for the whole message after DATA. When a flow bounces some
recipients and delivers to others, the filter accepts the message (250), relays
it to the others and tells the sender about the rest itself, as Postfix would:
a multipart/report from MAILER-DAEMON, sent with the null sender so it can never
bounce back in a loop.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from email.utils import formatdate

ENHANCED = "5.7.1"  # delivery not authorized, message refused


def ascii_line(text: str, limit: int = 400) -> str:
    """One printable ASCII line (SMTP replies and DSN fields), at most `limit` characters."""
    flat = " ".join(text.split())
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in flat)[:limit]


def header_block(message: bytes) -> bytes:
    """The message's header section, without the blank line that ends it."""
    for end in (b"\r\n\r\n", b"\n\n"):
        at = message.find(end)
        if at >= 0:
            return message[:at]
    return message


def report(original: bytes, mail_from: str, refused: Mapping[str, str], hostname: str) -> bytes:
    """The DSN for `refused` (recipient -> reason), addressed to `mail_from`."""
    boundary = f"mimeops-dsn-{uuid.uuid4().hex}"
    host = ascii_line(hostname, 200) or "localhost"
    explanation = "\n".join(
        ["This is the mail system at host " + host + ".", "",
         "Your message could not be delivered to one or more recipients.",
         "The message was delivered to any other recipients.", ""]
        + [f"<{recipient}>: {reason}" for recipient, reason in refused.items()])
    status = "\r\n".join(
        [f"Reporting-MTA: dns; {host}", f"Arrival-Date: {formatdate()}", ""]
        + [line for recipient, reason in refused.items() for line in (
            f"Final-Recipient: rfc822; {ascii_line(recipient, 300)}",
            "Action: failed",
            f"Status: {ENHANCED}",
            f"Diagnostic-Code: smtp; 550 {ENHANCED} {ascii_line(reason)}",
            "")])
    text = base64.encodebytes(explanation.replace("\n", "\r\n").encode("utf-8"))
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{host}>",
        f"To: <{ascii_line(mail_from, 300)}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {formatdate()}",
        f"Message-ID: <{uuid.uuid4().hex}@{host}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        text.decode("ascii").replace("\n", "\r\n").rstrip("\r\n"),
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        status,
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "Content-Transfer-Encoding: 8bit",
        "",
        "",
    ]
    closing = f"\r\n--{boundary}--\r\n".encode("ascii")
    return "\r\n".join(lines).encode("ascii") + header_block(original) + closing
