"""Template text with `{field}` placeholders filled from the message and envelope.

Values come from senders and are untrusted: line breaks and bidi controls are removed
from every value (a value can never start a header line or fake a banner line), and in
HTML templates every value is escaped. Unknown fields fail at load time.

A template line with directory fields (`{sender.job_title}`, ...) that are all
empty is dropped, line break included: a signature has no "Tel: " line for a user
without a telephone number. Lines without directory fields always stay.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping

from mimeops.errors import FlowError

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
    # docs/directory.md: the envelope sender's directory record (empty when not a user)
    "sender.display_name": "the sender's display name from the directory",
    "sender.first_name": "the sender's first name",
    "sender.last_name": "the sender's last name",
    "sender.initials": "the sender's initials (else first letters of first and last name)",
    "sender.job_title": "the sender's job title",
    "sender.department": "the sender's department",
    "sender.company": "the sender's company",
    "sender.office": "the sender's office",
    "sender.telephone": "the sender's telephone number",
    "sender.street": "the sender's street address",
    "sender.city": "the sender's city",
    "sender.zip_code": "the sender's postal code",
    "sender.country": "the sender's country",
    "sender.email": "the sender's primary address in the directory",
}
DIRECTORY_PREFIX = "sender."
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
# Bidi controls (embeddings, overrides, isolates, marks): in a sender's value they would
# reorder the rest of a banner line ("...unless you trust the sender" read backwards).
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Template:
    """A parsed template; `render` never lets a value inject markup or lines."""

    __slots__ = ("directory", "lines", "parts", "source")

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
        self.directory = any(f and f.startswith(DIRECTORY_PREFIX) for _, f in self.parts)
        # Per line, for dropping lines whose directory fields are all empty.
        self.lines: list[list[tuple[str, str | None]]] = []
        if self.directory:
            for line in source.split("\n"):
                self.lines.append([(lit, f) for lit, f, _, _ in string.Formatter().parse(line)])

    def directory_values(self, values: Mapping[str, str]) -> bool:
        """Whether any directory field this template uses has a value."""
        return any(values.get(f, "").strip() for _, f in self.parts
                   if f and f.startswith(DIRECTORY_PREFIX))

    def render(self, values: Mapping[str, str], *, escape_html: bool = False) -> str:
        if self.directory:
            kept = []
            for line in self.lines:
                fields = [f for _, f in line if f and f.startswith(DIRECTORY_PREFIX)]
                if fields and not any(values.get(f, "").strip() for f in fields):
                    continue
                kept.append(_fill(line, values, escape_html))
            return "\n".join(kept)
        return _fill(self.parts, values, escape_html)


def _displayable(value: str) -> str:
    """A sender's undecodable header bytes (lone surrogates) become U+FFFD: a value that
    cannot be encoded must never stop the banner it goes into."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _fill(parts: list[tuple[str, str | None]], values: Mapping[str, str],
          escape_html: bool) -> str:
    out = []
    for literal, field in parts:
        out.append(literal)
        if field is not None:
            value = _BIDI.sub("", _BREAKS.sub(" ", _displayable(values.get(field, ""))))
            out.append(html.escape(value, quote=True) if escape_html else value)
    return "".join(out)
