"""Template text with `{field}` placeholders filled from the message and envelope.

Values come from senders and are untrusted: line breaks and bidi controls are removed
from every value (a value can never start a header line or fake a banner line), and in
HTML templates every value is escaped. Unknown fields fail at load time.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping

from mimeops.flow.errors import FlowError

FIELDS = {
    "sender": "the From header's address",
    "sender_name": "the From header's display name (or the address)",
    "sender_domain": "the domain of the From address",
    "mail_from": "the envelope MAIL FROM address",
    "recipients": "the envelope recipients, comma-separated",
    "subject": "the decoded Subject",
    "date": "the Date header",
    "direction": "INBOUND or OUTBOUND",
    "message_id": "the Message-ID header",
}
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
# Bidi controls (embeddings, overrides, isolates, marks): in a sender's value they would
# reorder the rest of a banner line ("...unless you trust the sender" read backwards).
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Template:
    """A parsed template; `render` never lets a value inject markup or lines."""

    __slots__ = ("parts", "source")

    def __init__(self, source: str, where: str) -> None:
        if isinstance(source, bool):
            raise FlowError(f"{where}: put the text in quotes "
                            "(YAML reads yes/no/true/false as booleans)")
        if not isinstance(source, str):
            raise FlowError(f"{where}: must be a string, got {type(source).__name__}")
        self.source = source
        self.parts: list[tuple[str, str | None]] = []
        try:
            parsed = list(string.Formatter().parse(source))
        except ValueError as error:
            raise FlowError(f"{where}: {error} (write {{{{ and }}}} for literal braces)") from None
        for literal, field, spec, conversion in parsed:
            if field is not None and (field not in FIELDS or spec or conversion):
                known = ", ".join(sorted(FIELDS))
                raise FlowError(f"{where}: unknown template field {{{field}}} (known: {known})")
            self.parts.append((literal, field))

    def render(self, values: Mapping[str, str], *, escape_html: bool = False) -> str:
        out = []
        for literal, field in self.parts:
            out.append(literal)
            if field is not None:
                value = _BIDI.sub("", _BREAKS.sub(" ", values.get(field, "")))
                out.append(html.escape(value, quote=True) if escape_html else value)
        return "".join(out)
