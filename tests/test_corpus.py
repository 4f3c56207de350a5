"""Every real-world message of ../shared/corpus: exact round trip, safe edits, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimeops import Envelope, load_flow
from mimeops.cli import main
from mimeops.mime import Message
from tests.conftest import corpus_params
from tests.engine_checks import MINIMAL_WARNING
from tests.invariants import check, check_structure

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


RECIPE = Path(__file__).parent.parent / "examples" / "flows" / "external-warning.yaml"


@pytest.mark.parametrize("path", corpus_params())
def test_explain_ends_with_the_summary_apply_prints(
        path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`mimeops explain` runs what `mimeops apply` runs: its last line is apply's summary,
    for the shipped recipe, on every message (the CLI itself, in this process)."""
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "corpus-explain")
    applied = _run(["apply", "--config", str(RECIPE), str(path), "-o", str(tmp_path / "o.eml")])
    summary = capsys.readouterr().out.splitlines()
    explained = _run(["explain", "--config", str(RECIPE), str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert explained == applied
    if applied == 0:
        assert lines[-1] == summary[-1]
        assert len(lines) == 2  # the recipe's one rule, then the summary


def _run(argv: list[str]) -> int:
    """The exit code of the command (a usage error leaves by SystemExit)."""
    try:
        return main(argv)
    except SystemExit as leaving:
        return int(leaving.code or 0)


@pytest.mark.parametrize("path", corpus_params())
def test_the_recipe_and_a_minimal_flow_are_idempotent_and_warn(path: Path) -> None:
    raw = path.read_bytes()
    for flow in (RECIPE_FLOW, MINIMAL_FLOW):
        once = flow.apply(raw, INBOUND)
        twice = flow.apply(once.message, INBOUND)
        assert not twice.changed, twice.summary()
        if once.changed:
            check_structure(raw, once.message)
        else:  # nothing to warn with: unreadable mail goes to Junk
            assert once.fallback == "junk", once.summary()


RECIPE_FLOW = load_flow(RECIPE, marker_key=b"corpus-test-key")
MINIMAL_FLOW = load_flow(MINIMAL_WARNING, marker_key=b"corpus-test-key")
