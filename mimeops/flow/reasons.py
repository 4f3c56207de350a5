"""Why a flow left a message's body alone: a typed reason, and the words callers show.

`Result.skip` holds a `Reason`; `Result.skipped` (docs/api.md, the CLI summary) is
its text, as it always was ("signed message (multipart/signed)", "invalid-output: line
7 is 1200 octets long; ..."). Callers that count or branch use `kind` (and `label`, a
low-cardinality text for a metric dimension), never a split string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Skip(StrEnum):
    """The kinds of reason."""

    #: Empty, binary, or no header block: nothing to rewrite.
    NOT_A_MESSAGE = "not-a-message"
    #: A header block that cannot be read with certainty (a field could be lost).
    MALFORMED_HEADER = "malformed-header"
    #: Every recipient is bounced or dropped: nobody reads a rewrite.
    NOBODY = "every recipient is bounced or dropped"
    #: Signed, encrypted, a report, an invitation, inline PGP (`detail` says which).
    PROTECTED = "protected"
    #: The rewrite would break WorkMail's rules (`detail` says how): sent unchanged.
    INVALID_OUTPUT = "invalid-output"


@dataclass(frozen=True)
class Reason:
    """A `Skip` kind and its detail."""

    kind: Skip
    detail: str = ""

    def __str__(self) -> str:
        if self.kind is Skip.PROTECTED:
            return self.detail
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    @property
    def label(self) -> str:
        """The reason without a message's particulars: the kind, or which protection
        (a short, fixed set of texts), for counting."""
        return self.detail if self.kind is Skip.PROTECTED else self.kind.value


def unreadable(why: str) -> Reason:
    """The reason for `Message.unreadable()`'s answer."""
    return Reason(Skip(why))
