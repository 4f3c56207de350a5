"""A processed-marker header that nobody without the key can forge or reuse.

Each rule that changed a message leaves `X-Mimeops-Processed: v1; rule=NAME;
mac=...`, an HMAC-SHA256 over the rule, the flow direction, the message's
immutable identity (Message-ID, Date, From: WorkMail refuses changes to those)
and a digest of its content as the flow left it (`content`). A WorkMail retry
after a successful Put sees the marker and applies nothing again. A marker a
sender wrote, copied from another message or direction, or replayed on new
content under the same identity (a sender who got hold of a marked copy of
their own message) does not verify: it is removed and the rule applies as if
it were absent.

Keys rotate without double banners: markers are written with the first key
and verified with any key given ("NEW OLD", whitespace-separated, in
MIMEOPS_MARKER_KEY or its secret), for as long as WorkMail may still retry
(about 24 h). The transports find the keys (`mimeops.cli.marker_key`,
`mimeops_workmail.config`); this module only signs and verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from mimeops.errors import UndecodableBody
from mimeops.mime import Message
from mimeops.mime.header_rules import IDENTITY, MARKER, MERGED, UNIQUE
from mimeops.mime.headers import HeaderBlock

HEADER = MARKER
_HEADER_KEY = HEADER.lower()
# Fields `content` leaves out: the markers themselves; what the output check may merge
# (repeated To, Cc, ...; of Subjects the first stays); what re-encoding a part rewrites;
# what MTAs add in transit.
_UNBOUND = frozenset({_HEADER_KEY, *(key for key, sep in MERGED.items() if sep is not None),
                      "content-transfer-encoding", "received", "return-path"})


Keys = tuple[bytes, ...]


def keys_from_text(text: str) -> Keys:
    """Keys from a setting: one key, or several separated by whitespace (newest first)."""
    return tuple(k.encode("utf-8") for k in text.split())


def content(message: Message) -> bytes:
    """A digest of what a rule's ops wrote and a client shows: every header field of
    every part (white space removed: folding may add some; the first of a unique
    field) but `_UNBOUND`, and the decoded text of the bodies a client shows.

    Reading it costs the header blocks and the text parts, never the attachments'
    bytes. What the output check may still do after the markers are written (merge
    repeated fields, fold long lines, re-encode a part losslessly) does not change it.
    """
    digest = hashlib.sha256()
    for part in message.root.walk():
        seen: set[str] = set()
        for field in part.header:
            if field.key in _UNBOUND or (field.key in UNIQUE and field.key in seen):
                continue
            seen.add(field.key)
            digest.update(b"".join(field.raw.split()) + b"\0")
        digest.update(b"\1")
    for kind, part in sorted(message.bodies().items()):
        try:
            shown = part.decoded()
        except UndecodableBody:
            shown = part.body()
        digest.update(kind.encode() + b"\0" + shown + b"\1")
    return digest.digest()


def _mac(key: bytes, block: HeaderBlock, direction: str, rule: str,
         bound: bytes = b"") -> str:
    # v2: bound to the content too (v1, identity only, remains for the guard's token).
    parts = [b"v2" if bound else b"v1", direction.encode(), rule.encode()]
    if bound:
        parts.append(bound)
    for name in IDENTITY:
        field = block.field(name)
        parts.append(field.raw_value().strip() if field else b"")
    digest = hmac.new(key, b"\0".join(parts), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def token(key: bytes, message: Message, direction: str) -> str:
    """A per-message secret ([a-z2-7], 24 characters) for the names the HTML guard gives
    its elements: the same for the same message and key (applying is deterministic),
    unpredictable to a sender without the key."""
    mac = _mac(key, message.root.header, direction, "\0guard")
    digest = hashlib.sha256(mac.encode("ascii")).digest()
    return base64.b32encode(digest[:15]).decode("ascii").lower()


def value(key: bytes, message: Message, direction: str, rule: str, bound: bytes) -> str:
    """The marker of `rule` for `message`, whose `content` is `bound`."""
    return f"v1; rule={rule}; mac={_mac(key, message.root.header, direction, rule, bound)}"


def verified(keys: Keys, message: Message, direction: str) -> set[str]:
    """Rules whose marker verifies with one of `keys`; every other marker is removed."""
    block = message.root.header
    good: set[str] = set()
    keep = []
    bound = content(message) if block.field(HEADER) is not None else b""
    for field in block:
        if field.key == _HEADER_KEY:
            attrs = dict(
                item.strip().partition("=")[::2] for item in field.value().split(";")[1:]
            )
            rule, mac = attrs.get("rule", ""), attrs.get("mac", "")
            if not rule or not any(
                hmac.compare_digest(mac, _mac(key, block, direction, rule, bound))
                for key in keys
            ):
                continue
            good.add(rule)
        keep.append(field)
    if len(keep) != len(block.fields):
        block.fields = keep
        block.dirty = True
    return good
