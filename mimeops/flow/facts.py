"""What conditions look at: one message in transit, with its envelope.

Its own module so that conditions and the explain observers (observed.py) both
read it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from mimeops.directory.base import Directory
from mimeops.errors import UndecodableBody
from mimeops.flow import who as directory_facts
from mimeops.mime import Message, Part, transfer
from mimeops.mime.addresses import domain_of


@dataclass
class Facts:
    """What conditions look at: the envelope, the From address and the message."""

    message: Message
    direction: str
    mail_from: str
    sender: str
    recipients: list[str]
    internal_domains: frozenset[str] = field(default_factory=frozenset)
    directory: Directory | None = None
    sender_name: str = ""  # the From display name, decoded

    @cached_property
    def who(self) -> directory_facts.Who:
        """Directory answers about this message, looked up on first use."""
        return directory_facts.Who(self, self.directory)

    @cached_property
    def sender_internal(self) -> bool:
        """Internal only when the envelope AND the From header are ours.

        A From that claims our domain over an outside envelope is external:
        that is what spoofing looks like.
        """
        return (
            domain_of(self.mail_from) in self.internal_domains
            and domain_of(self.sender) in self.internal_domains
        )

    @cached_property
    def attachments(self) -> list[tuple[str, str]]:
        """(lower-cased file name, content type) of every named part, attached
        messages included: an .exe inside a forwarded message is still sent."""
        out: list[tuple[str, str]] = []
        _collect(self.message.root, out, depth=0)
        return out


def _collect(root: Part, out: list[tuple[str, str]], depth: int) -> None:
    for part in root.walk():
        name = part.filename
        if name or part.is_attachment:
            # Windows drops trailing dots and spaces: "setup.exe. " is setup.exe.
            out.append(((name or "").rstrip(". ").lower(), part.ctype))
        if part.ctype == "message/rfc822" and depth < 8:
            try:
                inner = transfer.decode(part.cte, part.body())
            except UndecodableBody:
                continue
            _collect(Message(inner).root, out, depth + 1)


Predicate = Callable[[Facts], bool]
