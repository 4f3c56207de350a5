"""The fast paths of the output check give the answers of the slow, obvious ones.

`Flow.apply` proves every update acceptable before reporting it: a line-length pass
over the whole output (`long_line`, strided slices over runs of equal lines) and a
second parse of it that skips the untouched parts the first parse already searched
(`render`'s spans). Both are checked here against brute force: a split into lines,
and a second parse from the bytes alone, on generated, hostile and real mail.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mimeops.flow.core as core
from mimeops import load_flow
from mimeops.mime import model
from mimeops.mime.model import Part, Verbatim, parse
from mimeops.mime.validate import MAX_LINE_OCTETS, long_line, structure_reason
from tests.conftest import corpus_params
from tests.engine_checks import ENVELOPE
from tests.mime_strategies import messages
from tests.test_corpus import INBOUND, MARKED_FLOW
from tests.test_hostile_properties import hostile

EXAMPLES = int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None)
# The patched check is the same for every example: the fixture need not be reset.
PATCHED = settings(max_examples=EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
ROOT = Path(__file__).resolve().parent.parent
WARNING = load_flow((ROOT / "examples/flows/external-warning.yaml").read_text(),
                    marker_key=b"fast-checks")
MARKED = load_flow(MARKED_FLOW, marker_key=b"fast-checks")


# -- long_line against a split into lines ------------------------------------------------


def _oracle(raw: bytes) -> bool:
    """A line over 998 octets, its line break (LF, or CR LF) not counted."""
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if len(line[:-1] if not last and line.endswith(b"\r") else line) > MAX_LINE_OCTETS:
            return True
    return False


@st.composite
def runs_of_lines(draw: st.DrawFn) -> bytes:
    """Runs of equal-length lines (as base64 writes them) next to ragged text, with
    widths around the limit and a line that breaks the run at a random place."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 6))):
        width = draw(st.sampled_from([1, 2, 77, 78, 997, 998, 999, 1000, 1001])
                     | st.integers(1, 1100))
        eol = draw(st.sampled_from([b"\n", b"\r\n"]))
        count = draw(st.integers(0, 120))
        line = b"x" * max(0, width - len(eol)) + eol
        block = bytearray(line * count)
        if block and draw(st.booleans()):
            # One line of the run is longer or shorter than the others.
            at = draw(st.integers(0, count - 1)) * len(line)
            change = draw(st.integers(-len(line) + 1, 1200))
            block[at:at] = b"y" * change if change > 0 else b""
            if change < 0:
                del block[at : at - change]
        out += block
        if draw(st.booleans()):
            out += draw(st.binary(max_size=3000).map(
                lambda b: b.replace(b"\x00", b"\n")))
    return bytes(out)


@FUZZ
@given(runs_of_lines())
def test_long_line_agrees_with_splitting_into_lines(raw: bytes) -> None:
    assert (long_line(raw) is not None) == _oracle(raw)


def test_long_line_random_inputs_agree_with_splitting_into_lines() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        pieces = []
        for _ in range(rng.randrange(1, 8)):
            width = rng.choice([1, 78, 998, 999, 1000, rng.randrange(1, 1100)])
            eol = rng.choice([b"\n", b"\r\n"])
            pieces.append((b"x" * max(0, width - len(eol)) + eol) * rng.randrange(0, 200))
            pieces.append(bytes(rng.choice(b"x\r\n") for _ in range(rng.randrange(0, 500))))
        raw = b"".join(pieces)
        assert (long_line(raw) is not None) == _oracle(raw), raw[:200]


def test_a_long_line_deep_in_a_run_of_base64_is_found() -> None:
    run = b"QUJD" * 19 + b"\r\n"
    for at in (0, 1, 4095, 4096, 70_000):
        raw = run * at + b"A" * 999 + b"\r\n" + run * 100
        assert long_line(raw) == (
            f"line {at + 1} is 999 octets long; lines must not exceed 998 octets plus "
            "CRLF (RFC 5321 section 4.5.3.1.6)")
        assert long_line(run * at + b"A" * 998 + b"\r\n" + run * 100) is None


# -- the delimiter search ---------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=400).map(lambda b: b.replace(b"\x00", b"-")),
       st.binary(min_size=1, max_size=6).map(lambda b: b"--" + b), st.integers(0, 400),
       st.integers(0, 400))
def test_delimiter_search_is_bytes_find(buf: bytes, delimiter: bytes, pos: int,
                                        end: int) -> None:
    buf = buf * 200 + delimiter + buf  # past the search window too
    for window in (1 << 16, 8):
        model._WINDOW = window
        try:
            assert model._find(buf, delimiter, pos, len(buf) - end) == buf.find(
                delimiter, pos, len(buf) - end)
        finally:
            model._WINDOW = 1 << 16


# -- the second parse, with and without the untouched spans --------------------------------


def _shape(part: Part) -> tuple[object, ...]:
    return (part.start, part.header_end, part.body_start, part.end, part.ctype,
            tuple(_shape(child) for child in part.children or ()))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every check `Flow.apply` makes also parses the output without the spans: same tree,
    same verdict. Yields the number of spans seen (a check that skipped nothing proves
    nothing about skipping)."""
    seen = [0]

    def both(original: bytes, updated: bytes, known: list[Verbatim] | None = None) -> str | None:
        assert known is not None
        seen[0] += len(known)
        assert _shape(parse(updated, known)) == _shape(parse(updated))
        verdict = structure_reason(original, updated, known)
        assert verdict == structure_reason(original, updated)
        return verdict

    monkeypatch.setattr(core, "structure_reason", both)
    yield seen


@PATCHED
@given(generated=messages())
def test_second_parse_skipping_untouched_parts_is_the_full_parse(compared, generated) -> None:
    for flow in (MARKED, WARNING):
        flow.apply(generated.raw, ENVELOPE)


@PATCHED
@given(raw=hostile())
def test_second_parse_of_hostile_mail_is_the_full_parse(compared, raw: bytes) -> None:
    WARNING.apply(raw, ENVELOPE)


@pytest.mark.parametrize("path", corpus_params())
def test_second_parse_of_real_mail_is_the_full_parse(path: Path, compared) -> None:
    raw = path.read_bytes()
    for flow in (MARKED, WARNING):
        flow.apply(raw, INBOUND)


def test_spans_are_used_and_cover_the_attachments(compared) -> None:
    attachment = b"QUJD" * 19 + b"\r\n"
    raw = (b"From: a@evil.example\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Message-ID: <1@evil.example>\r\nDate: Tue, 04 Jun 2024 09:15:00 +0200\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--B\r\nContent-Type: multipart/mixed; boundary=\"C\"\r\n\r\n"
           b"--C\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment * 50 +
           b"--C--\r\n--B--\r\n")
    result = WARNING.apply(raw, INBOUND)
    assert result.changed
    assert compared[0] == 2  # the inner multipart, and its attachment inside it


@pytest.mark.parametrize("inner", [b"B", b"C"])
def test_a_nested_multipart_reusing_the_outer_boundary(inner: bytes, compared) -> None:
    # Hostile: the inner multipart names the outer boundary; the outer split decides.
    raw = (b"From: a@evil.example\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--B\r\nContent-Type: multipart/mixed; boundary=\"" + inner + b"\"\r\n\r\n"
           b"--" + inner + b"\r\nContent-Type: text/plain\r\n\r\nx --B\r\n--B-- not\r\n"
           b"--" + inner + b"--\r\n--B--\r\n")
    WARNING.apply(raw, INBOUND)


# -- quoted-printable: only the changed lines are encoded again ----------------------------


def _foreign_qp(text: bytes, eol: bytes, width: int) -> bytes:
    """Quoted-printable as another mail program writes it: soft breaks at `width`,
    every non-ASCII byte and '=' escaped, trailing spaces escaped."""
    out = []
    for line in text.split(b"\n"):
        cells = [b"=%02X" % c if c > 126 or c == 61 else bytes([c]) for c in line]
        if cells and cells[-1] == b" ":
            cells[-1] = b"=20"
        physical, current = [], b""
        for cell in cells:
            if len(current) + len(cell) > width - 1:
                physical.append(current + b"=")
                current = b""
            current += cell
        physical.append(current)
        out.append(eol.join(physical))
    return eol.join(out)


@FUZZ
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"),
                        max_size=300), min_size=40, max_size=120),
       st.sampled_from([b"\r\n", b"\n"]), st.sampled_from([40, 76, 200]),
       st.text(max_size=200), st.text(max_size=200), st.integers(0, 3), st.integers(0, 3))
def test_requote_keeps_unchanged_lines_and_decodes_to_the_edit(
        lines: list[str], eol: bytes, width: int, top: str, bottom: str, cut_top: int,
        cut_bottom: int) -> None:
    from mimeops.mime import transfer

    text = "\n".join(lines).encode("utf-8")
    encoded = _foreign_qp(text, eol, width)
    before = transfer.decode("quoted-printable", encoded)
    rows = before.split(eol)
    # A banner and a footer, and lines at both ends changed or removed, as the guard does.
    def inserted(value: str) -> bytes:
        return value.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", eol)

    edited = [inserted(top), *rows[cut_top : len(rows) - cut_bottom], inserted(bottom)]
    after = eol.join(edited)
    out = transfer.requote(encoded, before, after, eol)
    if len(after) >= 4096 and len(text) > 8192:
        assert out is not None
    if out is None:
        return
    assert transfer.decode("quoted-printable", out) == after
    assert not any(len(line.rstrip(b"\r")) > 998 for line in out.split(b"\n"))
    # The middle of the sender's encoding is there byte for byte.
    middle = encoded[len(encoded) // 3 : 2 * len(encoded) // 3]
    assert middle in out


def test_a_banner_in_a_large_html_part_keeps_the_senders_encoded_lines() -> None:
    html = ("<html><head><style>p{color:red}</style></head><body>"
            + "".join(f"<p class=\"c{i}\">Zürich façade {i} " + "x" * 90 + "</p>\n"
                      for i in range(400)) + "</body></html>").encode("utf-8")
    body = _foreign_qp(html, b"\r\n", 76)
    raw = (b"From: a@evil.example\r\nTo: jane@example.com\r\nSubject: s\r\n"
           b"Message-ID: <q@evil.example>\r\nDate: Tue, 04 Jun 2024 09:15:00 +0200\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body)
    out = WARNING.apply(raw, INBOUND).message
    assert body[len(body) // 10 : 9 * len(body) // 10] in out
