"""The SMTP envelope of one message in transit, and the flow direction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DIRECTIONS = ("INBOUND", "OUTBOUND")


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope WorkMail reports, and the flow direction.

    Its own value, not the message's headers: the envelope says who really sent the
    message and who receives it (Bcc included), which the headers may not.
    """

    direction: str = "INBOUND"
    mail_from: str = ""
    recipients: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be INBOUND or OUTBOUND, not {self.direction!r}")
        # A str is a Sequence[str] too: "a@b" would be read one character at a time.
        recipients = self.recipients
        if isinstance(recipients, str | bytes) or not all(isinstance(r, str) for r in recipients):
            hint = f" (write [{recipients!r}])" if isinstance(recipients, str) else ""
            raise TypeError("Envelope recipients must be a list of address strings, "
                            f"got {recipients!r}{hint}")
