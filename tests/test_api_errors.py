"""Python API mistakes caught with a clear message, and header regexes that a sender's
headers cannot stall (RE2, linear time)."""

from __future__ import annotations

import threading

import pytest

from mimeops import Envelope, FlowError, load_flow

RAW = (b"From: Mallory <m@evil.example>\r\nTo: b@example.com\r\nSubject: hello\r\n"
       b"X-Spam: " + b"a" * 5000 + b"!\r\n\r\nbody\r\n")
ENVELOPE = Envelope("INBOUND", "m@evil.example", ["b@example.com"])


def header_flow(pattern: str, header: str = "X-Spam") -> str:
    quoted = pattern.replace("'", "''")
    return (f"rules:\n  - name: tag\n    when: {{header: {{{header}: '{quoted}'}}}}\n"
            "    apply: [{subject_prefix: '[HIT]'}]\n")


def test_envelope_rejects_a_string_of_recipients() -> None:
    with pytest.raises(TypeError, match=r"list of address strings.*write \['a@b'\]"):
        Envelope("INBOUND", "x@y", "a@b")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of address strings"):
        Envelope("INBOUND", "x@y", [b"a@b"])  # type: ignore[list-item]
    assert Envelope("INBOUND", "x@y", ("a@b",)).recipients == ("a@b",)


def test_apply_rejects_text_with_a_clear_type_error() -> None:
    flow = load_flow(header_flow("x"))
    with pytest.raises(TypeError, match=r"takes the message as bytes, got str \(encode it"):
        flow.apply(RAW.decode(), ENVELOPE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes an Envelope, got dict"):
        flow.apply(RAW, {"direction": "INBOUND"})  # type: ignore[arg-type]
    assert flow.apply(bytearray(RAW), ENVELOPE).message == RAW  # bytes-like is fine


@pytest.mark.parametrize("given", ["*.exe", ".exe", "exe", "EXE", "*.EXE"])
def test_attachment_extension_spellings_all_match(given: str) -> None:
    raw = (b"From: a@evil.example\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n"
           b"\r\nhi\r\n--B\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Disposition: attachment; filename=\"setup.exe\"\r\n\r\nMZ\r\n--B--\r\n")
    flow = load_flow(f"rules:\n  - name: x\n    when: {{attachment_extension: ['{given}']}}\n"
                     "    action: {type: DROP}\n")
    assert flow.apply(raw, ENVELOPE).actions[0]["action"]["type"] == "DROP"


@pytest.mark.parametrize("given", ["*", "*.ex*", "ex?", "dir/x.exe", "."])
def test_attachment_extension_patterns_are_rejected_by_name(given: str) -> None:
    text = f"rules:\n  - name: x\n    when: {{attachment_extension: ['{given}']}}\n" \
           "    action: {type: DROP}\n"
    with pytest.raises(FlowError, match=r"rule 'x'.*attachment_extension: .* not a file ext"):
        load_flow(text)


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(a*)*b", r"(.*a){20}"])
def test_catastrophic_pattern_cannot_stall_on_a_hostile_header(pattern: str) -> None:
    flow = load_flow(header_flow(pattern))
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(flow.apply(RAW, ENVELOPE).changed),
                              daemon=True)
    worker.start()
    worker.join(60)  # Python's re needs ~2^5000 steps here; RE2 a few thousand
    assert results, f"{pattern} stalled on a 5000-character header"


@pytest.mark.parametrize(("pattern", "hits"), [
    (r"^a+!$", True), (r"(?i)A{1000}", True), (r"!\Z", True), (r"^b", False), ("", True),
])
def test_header_patterns_match_as_written(pattern: str, hits: bool) -> None:
    # `matched`, not `changed`: a 5000-octet line without whitespace cannot be folded, so
    # no output WorkMail accepts exists and the message stays as it was (invalid-output).
    assert ("tag" in load_flow(header_flow(pattern)).apply(RAW, ENVELOPE).matched) is hits


@pytest.mark.parametrize(("pattern", "reason"), [
    (r"(a)\1", "backreferences"), (r"foo(?=bar)", "look-around"), (r"(?<!x)y", "look-around"),
    ("[unclosed", "missing ]"), ("a{2,1}", "bad repetition"),
])
def test_bad_patterns_are_rejected_at_load_naming_rule_and_field(pattern: str,
                                                                 reason: str) -> None:
    with pytest.raises(FlowError) as caught:
        load_flow(header_flow(pattern, header="Subject"))
    message = str(caught.value)
    assert "rule 'tag'" in message and "when" in message and "header.Subject" in message
    assert "bad regular expression" in message and "\n" not in message
    assert reason in message or "no backreferences or look-around" in message


def test_undecodable_header_bytes_are_matched_not_an_error() -> None:
    raw = RAW.replace(b"Subject: hello", b"Subject: \xff\xfe caf\xe9 offer")
    assert load_flow(header_flow("offer", header="Subject")).apply(raw, ENVELOPE).matched
