"""A delivery status notification (RFC 3464) for recipients refused after DATA.

SMTP has one reply for the whole message after DATA. When a flow bounces some
recipients and delivers to others, the filter accepts the message (250), relays
it to the others and tells the sender about the rest itself, as Postfix would:
a multipart/report from MAILER-DAEMON, sent with the null sender so it can never
bounce back in a loop.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from email.utils import formatdate

from mimeops_smtp.relay import Reply

ENHANCED = "5.7.1"  # delivery not authorized, message refused (a flow's BOUNCE)
_STATUS = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")


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


def status(reply: Reply) -> str:
    """The enhanced status code a reply carries (`5.1.1 ...`), else the generic 5.0.0."""
    found = _STATUS.match(reply.text)
    return found.group(1) if found else "5.0.0"


def report(original: bytes, mail_from: str, refused: Mapping[str, Reply], hostname: str
           ) -> bytes:
    """The DSN for `refused` (recipient -> the reply that refused it), to `mail_from`."""
    boundary = f"mimeops-dsn-{uuid.uuid4().hex}"
    host = ascii_line(hostname, 200) or "localhost"
    explanation = "\n".join(
        ["This is the mail system at host " + host + ".", "",
         "Your message could not be delivered to one or more recipients.",
         "The message was delivered to any other recipients.", ""]
        + [f"<{recipient}>: {reply.code} {reply.text}" for recipient, reply in refused.items()])
    per_recipient = "\r\n".join(
        [f"Reporting-MTA: dns; {host}", f"Arrival-Date: {formatdate()}", ""]
        + [line for recipient, reply in refused.items() for line in (
            f"Final-Recipient: rfc822; {ascii_line(recipient, 300)}",
            "Action: failed",
            f"Status: {status(reply)}",
            f"Diagnostic-Code: smtp; {reply.code} {ascii_line(reply.text)}",
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
        per_recipient,
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "Content-Transfer-Encoding: 8bit",
        "",
        "",
    ]
    closing = f"\r\n--{boundary}--\r\n".encode("ascii")
    return "\r\n".join(lines).encode("ascii") + header_block(original) + closing
