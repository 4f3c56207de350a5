"""Re-injection: hand a message to the next hop with its envelope (stdlib smtplib).

Blocking by design: the filter runs it in a worker thread, one connection per
transaction, so a slow or dead next hop holds up only the message it is sending.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mimeops.errors import MimeopsError, PermanentError, TransientError
from mimeops_smtp.settings import Settings

# MAIL FROM parameters that still hold after a rewrite (SIZE is recomputed by smtplib).
KEPT_OPTIONS = ("BODY=8BITMIME", "SMTPUTF8")


@dataclass(frozen=True)
class Reply:
    """An SMTP reply from the next hop (or what we make of a failure to get one)."""

    code: int
    text: str

    @property
    def permanent(self) -> bool:
        """A 5xx: retrying will not help."""
        return 500 <= self.code < 600


class NextHopError(MimeopsError):
    """The whole transaction failed at the next hop: `reply` says how. Raised as
    `NextHopRefused` (5xx: permanent) or `NextHopDeferred` (4xx: transient), by `failed`."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.text}")
        self.reply = reply


class NextHopRefused(NextHopError, PermanentError):
    """The next hop refused the transaction for good (5xx)."""


class NextHopDeferred(NextHopError, TransientError):
    """The next hop could not take the transaction now (4xx, or unreachable)."""


def failed(reply: Reply) -> NextHopError:
    """The error for a failed transaction, by the kind of `reply`."""
    return NextHopRefused(reply) if reply.permanent else NextHopDeferred(reply)


def options(mail_options: Sequence[str]) -> list[str]:
    """The client's MAIL FROM parameters worth passing on."""
    return [o for o in (m.upper() for m in mail_options) if o in KEPT_OPTIONS]


def _text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


def forward(smtp: smtplib.SMTP, attributes: Mapping[str, str]) -> None:
    """Pass Postfix's XFORWARD attributes on, as far as the next hop takes them.

    Informational only (Postfix logs and Received headers name the original
    client): a next hop that refuses them still gets the message.
    """
    if not attributes or not smtp.has_extn("xforward"):
        return
    offered = set(smtp.esmtp_features["xforward"].upper().split())
    kept = " ".join(f"{k}={v}" for k, v in attributes.items() if k in offered)
    if kept:
        smtp.docmd("XFORWARD", kept)


def send(settings: Settings, mail_from: str, recipients: Sequence[str], data: bytes,
         mail_options: Sequence[str] = (), xforward: Mapping[str, str] | None = None,
         ) -> dict[str, Reply]:
    """Deliver one transaction; returns the recipients the next hop refused (others got it).

    Raises NextHopError when nobody got it: a refused sender, a refused DATA, every
    recipient refused, or no answer at all (connection, timeout: 451).
    """
    host, port = settings.next_hop
    kept = options(mail_options)
    try:
        with smtplib.SMTP(host, port, local_hostname=settings.hostname,
                          timeout=settings.relay_timeout) as smtp:
            if "SMTPUTF8" in kept:
                smtp.command_encoding = "utf-8"
            smtp.ehlo_or_helo_if_needed()
            forward(smtp, xforward or {})
            refused = smtp.sendmail(mail_from, list(recipients), data, kept)
    except smtplib.SMTPRecipientsRefused as error:
        replies = {r: Reply(code, _text(text)) for r, (code, text) in error.recipients.items()}
        first = next(iter(replies.values()), Reply(451, "4.4.0 all recipients refused"))
        temporary = [r for r in replies.values() if not r.permanent]
        raise failed(temporary[0] if temporary else first) from error
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        raise failed(Reply(error.smtp_code, _text(error.smtp_error))) from error
    except smtplib.SMTPResponseException as error:
        code = error.smtp_code if 400 <= error.smtp_code < 600 else 451
        raise failed(Reply(code, _text(error.smtp_error))) from error
    except (OSError, smtplib.SMTPException) as error:  # refused, reset, timed out, garbled
        raise failed(Reply(451, f"4.4.1 next hop {host}:{port} unavailable: "
                                      f"{type(error).__name__}")) from error
    return {r: Reply(code, _text(text)) for r, (code, text) in refused.items()}
