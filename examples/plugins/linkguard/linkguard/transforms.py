"""Transforms: objects with `apply(mail, context) -> bool` (True when they changed it)."""

from __future__ import annotations

import hashlib
import re

from linkguard.urls import defang
from mimeops import Context, Mail
from mimeops.errors import UndecodableBody

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")
_FIELD = re.compile(r"[!-9;-~]{1,76}")


class DefangUrls:
    """`defang_urls: {scheme: hxxp}`: every web address in the bodies a reader sees,
    plain text and HTML (links and images included), rewritten so that it is no longer
    a link: `hxxp://example[.]com/path`. Attachments are left as they are.

    `touches_body`: signed or encrypted mail is not edited (the flow's `protected`)."""

    touches_body = True

    def __init__(self, scheme: str = "hxxp") -> None:
        # Checked here, at load time: a flow with a bad value never reaches mail.
        if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme) \
                or scheme.lower().startswith("http"):
            raise ValueError(f"scheme: expected a word like hxxp (not http), got {scheme!r}")
        self.scheme = scheme

    def apply(self, mail: Mail, context: Context) -> bool:
        changed = False
        for body in mail.bodies:
            try:
                text = body.text
            except UndecodableBody as error:  # reported in the result's "bare" list
                mail.bare.append(f"{body.content_type}: {error}")
                continue
            new = defang(text, self.scheme)
            if new != text:
                body.text = new  # re-encodes this part only
                changed = True
        return changed


class AttachmentManifest:
    """`attachment_manifest: {header: X-Attachment-Manifest}`: one header field per
    attachment, `name; type; size; sha256=...`, for a journal or a DLP system to read."""

    def __init__(self, header: str = "X-Attachment-Manifest") -> None:
        if not isinstance(header, str) or not _FIELD.fullmatch(header):
            raise ValueError(f"header: expected a header field name, got {header!r}")
        self.header = header

    def apply(self, mail: Mail, context: Context) -> bool:
        # A sender's own copy of the field must not pass for ours (a retry never gets
        # here: the flow's marker says the rule ran).
        removed = mail.headers.remove(self.header)
        for attachment in mail.attachments:
            try:
                data = attachment.data
            except UndecodableBody:
                continue
            digest = hashlib.sha256(data).hexdigest()
            mail.headers.add(self.header, f"{attachment.filename or '(no name)'}; "
                             f"{attachment.content_type}; {len(data)} bytes; "
                             f"sha256={digest}")
        return removed > 0 or self.header in mail.headers
