"""The three ways of applying the example flow that the benchmark compares.

* engine: `mimeops` itself (`flow.apply`).
* stdlib: what the AWS WorkMail "update email" sample does: parse with
  `email.policy.SMTP`, `get_content` / `set_content` on every text/plain and
  text/html part that is not an attachment, replace the Subject, `as_bytes`.
* floor: what a splitter that searches for its delimiter must at least do: one
  `bytes.find` pass over the whole message for a delimiter (absent, so the scan
  runs to the end) and one copy of the message into the output. (mimeops jumps
  between "-" bytes with memchr, so its own search costs less than this one.)
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage

from bench.messages import RECIPIENT, SENDER
from mimeops import Envelope, Flow, load_flow

# The demo flow's external-warning rule (banner, subject prefix, header) plus a footer.
FLOW_YAML = """\
internal_domains: [example.com, example.org]
rules:
  - name: external-warning
    when: {direction: INBOUND, sender: external}
    apply:
      - banner: {text: "CAUTION: external sender {sender}",
                 html: "<div>CAUTION: external sender {sender}</div>"}
      - subject_prefix: "[EXTERNAL]"
      - add_header: {name: X-External-Sender, value: "yes"}
      - footer: {text: "Confidential.", html: "<p>Confidential.</p>"}
"""
MARKER_KEY = b"bench"
ENVELOPE = Envelope("INBOUND", SENDER, [RECIPIENT])

BANNER_TEXT = f"CAUTION: external sender {SENDER}"
BANNER_HTML = f"<div>CAUTION: external sender {SENDER}</div>"
FOOTER_TEXT = "Confidential."
FOOTER_HTML = "<p>Confidential.</p>"
SUBJECT_PREFIX = "[EXTERNAL]"
_BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)', re.IGNORECASE)

Approach = Callable[[bytes], "bytes | bytearray"]


def load_bench_flow() -> Flow:
    return load_flow(FLOW_YAML, marker_key=MARKER_KEY)


def engine(flow: Flow) -> Approach:
    def apply(raw: bytes) -> bytes:
        result = flow.apply(raw, ENVELOPE)
        if not result.changed:
            raise RuntimeError(f"the bench flow did not change the message ({result.skipped})")
        return result.message

    return apply


def stdlib(raw: bytes) -> bytes:
    """The AWS sample's approach, with the same banner, footer and subject prefix."""
    msg = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert isinstance(msg, EmailMessage)
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        subtype = part.get_content_subtype()
        if subtype not in ("plain", "html"):
            continue
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        if subtype == "plain":
            new = f"{BANNER_TEXT}\n\n{content}\n{FOOTER_TEXT}\n"
        else:
            new = BANNER_HTML + content + FOOTER_HTML
        part.set_content(new, subtype=subtype, charset="utf-8")
    subject = msg["Subject"]
    del msg["Subject"]
    msg["Subject"] = f"{SUBJECT_PREFIX} {subject}"
    return msg.as_bytes()


def stdlib_has_banner(out: bytes) -> bool:
    """The stdlib approach's output shows the banner in both bodies (decoded)."""
    msg = email.message_from_bytes(out, policy=email.policy.default)
    seen = set()
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            assert isinstance(part, EmailMessage)
            content = part.get_content()
            subtype = part.get_content_subtype()
            if (BANNER_TEXT if subtype == "plain" else BANNER_HTML) in content:
                seen.add(subtype)
    return seen == {"plain", "html"} and SUBJECT_PREFIX in str(msg["Subject"])


def absent_delimiter(raw: bytes) -> bytes:
    """A delimiter like the message's own (same length, same alphabet) that it lacks.

    `bytes.find` skips ahead by up to the needle's length, so the floor must look
    for a needle as long as the one the engine looks for, or it is not the floor.
    """
    match = _BOUNDARY.search(raw)
    boundary = match.group(1) if match else b"000000000000b7f1e2061a8b3c7d"
    for last in b"0123456789abcdefghijklmnopqrstuvwxyz":
        needle = b"--" + boundary[:-1] + bytes([last])
        if needle not in raw:
            return needle
    raise RuntimeError("no absent delimiter found")


def floor(needle: bytes) -> Approach:
    """One delimiter scan over every byte (`needle` is absent), and one copy of every byte."""

    def scan_and_copy(raw: bytes) -> bytearray:
        if raw.find(needle) >= 0:
            raise RuntimeError("the floor's delimiter must not occur in the message")
        return bytearray(raw)

    return scan_and_copy
