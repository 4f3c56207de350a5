"""Mail whose lines end in a bare CR, read the way mail clients read it.

SMTP requires CRLF, but a sender can still hand over a message whose line
breaks are lone CRs (old Mac software, or a phisher testing filters). Python's
email package and mail clients take a lone CR as a line break; a parser that
looks only for LF sees one endless first line, so a flow could neither read
the header nor add a banner, and the message would go out unwarned. Such a
message is read, and rewritten, with CRLF line breaks.
"""

from __future__ import annotations

import re

_BARE_CR = re.compile(rb"\r(?!\n)")
# A header field's name and colon, then text, up to a lone CR: how such mail starts.
_FIRST_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:[^\r\n]*\r(?!\n)")


def crlf(raw: bytes) -> bytes:
    """`raw` with every lone CR made CRLF when its first header field ends in a lone
    CR (binary data and CRLF mail never do); else `raw` itself."""
    if not _FIRST_FIELD.match(raw):
        return raw
    return _BARE_CR.sub(b"\r\n", raw)
