"""Every real-world message of ../shared/corpus: exact round trip, safe edits, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimeops import Envelope, load_flow
from mimeops.mime import Message
from tests.conftest import corpus_params
from tests.invariants import check

MARKED_FLOW = """
internal_domains: [example.com]
rules:
  - name: mark
    apply:
      - banner: {text: "MIMEOPS-BANNER-TEXT", html: "<div>MIMEOPS-BANNER-HTML</div>",
                 guard: false}
      - footer: {text: "MIMEOPS-FOOTER-TEXT", html: "<p>MIMEOPS-FOOTER-HTML</p>",
                 guard: false}
      - subject_prefix: "[EXTERNAL]"
"""
INSERTED = {
    "plain": ["MIMEOPS-BANNER-TEXT", "MIMEOPS-FOOTER-TEXT"],
    "html": ["<div>MIMEOPS-BANNER-HTML</div>", "<p>MIMEOPS-FOOTER-HTML</p>"],
}
INBOUND = Envelope("INBOUND", "someone@outside.example.net", ["user@example.com"])


@pytest.fixture(scope="module")
def marked_flow():
    return load_flow(MARKED_FLOW, marker_key=b"corpus-test-key")


@pytest.mark.parametrize("path", corpus_params())
def test_unmodified_round_trip_is_byte_identical(path: Path) -> None:
    raw = path.read_bytes()
    message = Message(raw)
    for part in message.root.walk():
        part.header.dirty = True  # force the slow path: re-emit every part from the tree
    rebuilt = message.root.to_bytes()
    separators_added = any(
        p.header_end == p.body_start < p.end for p in message.root.walk())
    # A byte order mark before the header is no field: a rewritten header drops it.
    assert rebuilt == raw.removeprefix(b"\xef\xbb\xbf") or separators_added
    assert Message(raw).to_bytes() is raw


@pytest.mark.parametrize("path", corpus_params())
def test_banner_and_footer_keep_the_invariants(path: Path, marked_flow) -> None:
    raw = path.read_bytes()
    result = marked_flow.apply(raw, INBOUND)
    if result.skipped:
        assert not result.changed
        return
    check(raw, result.message, INSERTED)
    again = marked_flow.apply(result.message, INBOUND)
    assert not again.changed, "applying the flow twice changed the message again"
    assert again.message is result.message


@pytest.mark.parametrize("path", corpus_params())
def test_example_flow_is_idempotent(path: Path) -> None:
    flow = load_flow(Path(__file__).parent.parent / "examples" / "flows" / "demo.yaml",
                     marker_key=b"corpus-test-key")
    raw = path.read_bytes()
    for envelope in (INBOUND, Envelope("OUTBOUND", "me@example.com", ["you@example.net"])):
        once = flow.apply(raw, envelope)
        twice = flow.apply(once.message, envelope)
        assert twice.message == once.message
