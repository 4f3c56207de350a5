"""What a client that shows every inline part shows before the banner (mimeops.mime.display),
and the part in front that puts the banner first (Message.fronted). Thunderbird renders
the same cases in tests/test_thunderbird.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings

from mimeops.mime import Message
from mimeops.mime.display import draws_html, read_as, shown_before, unconfined
from tests.invariants import leaves
from tests.mime_strategies import messages

HEAD = (b"From: s@outside.example.net\r\nTo: b@example.com\r\n"
        b"Message-ID: <d@outside.example.net>\r\nMIME-Version: 1.0\r\n")
HTML = b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>body</p>\r\n"
PLAIN = b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
IMAGE = b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"


def multipart(subtype: str, *parts: bytes, params: str = "", boundary: str = "b") -> bytes:
    """A multipart entity (header and body) of `parts`."""
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p for p in parts)
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"{params}\r\n\r\n'
            .encode() + body + b"--" + boundary.encode() + b"--\r\n")


def first_shown(entity: bytes) -> str | None:
    message = Message(HEAD + entity)
    found = shown_before(message.root, message.bodies().values())
    return None if found is None else found.ctype


@pytest.mark.parametrize(("entity", "expected"), [
    (HTML, None),
    (multipart("mixed", HTML, IMAGE), None),
    (multipart("mixed", IMAGE, HTML), "image/png"),
    # Thunderbird shows images inline whatever their disposition, and attached messages.
    (multipart("mixed", b"Content-Disposition: attachment; filename=a.png\r\n" + IMAGE, HTML),
     "image/png"),
    (multipart("mixed", b"Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\nhi\r\n", HTML),
     "message/rfc822"),
    (multipart("mixed", b"Content-Type: text/x-note\r\n\r\n" + b"\r\n" * 80 + b"x\r\n", HTML),
     "text/x-note"),
    (multipart("mixed", multipart("mixed", IMAGE, boundary="c"), PLAIN), "image/png"),
    # /related: what the root cannot reference (no Content-ID, no Content-Location) first.
    (multipart("related", HTML, IMAGE), "image/png"),
    (multipart("related", HTML, b"Content-ID: <i@x>\r\n" + IMAGE), None),
    (multipart("related", HTML, b"Content-Location: http://x/a.png\r\n" + IMAGE), None),
    (multipart("related", IMAGE, b"Content-ID: <root@x>\r\n" + HTML,
               params='; start="<root@x>"'), "image/png"),
    # /alternative: any alternative may be the one shown, but an earlier one of a type.
    (multipart("alternative", PLAIN, HTML), None),
    (multipart("alternative", PLAIN, PLAIN), None),
    (multipart("alternative", PLAIN, b"Content-Type: text/enriched\r\n\r\nx\r\n"),
     "text/enriched"),
    (multipart("alternative", PLAIN, multipart("related", HTML, IMAGE, boundary="r")),
     "image/png"),
    (multipart("signed", HTML, b"Content-Type: application/pkcs7-signature\r\n\r\nx\r\n"),
     None),
    # Nothing a client shows as the body: whatever it shows comes first.
    (multipart("mixed", b"Content-Type: application/pdf\r\n\r\n%PDF\r\n"), "application/pdf"),
    (b"Content-Type: multipart/encrypted; boundary=b\r\n\r\n--b\r\n" + PLAIN + b"--b--\r\n",
     None),
], ids=lambda v: v if isinstance(v, str) or v is None else None)
def test_what_shows_before_the_first_body(entity: bytes, expected: str | None) -> None:
    assert first_shown(entity) == expected


@pytest.mark.parametrize("entity", [
    multipart("mixed", IMAGE, HTML),
    multipart("related", HTML, IMAGE),
    multipart("alternative", PLAIN, multipart("related", HTML, IMAGE, boundary="r")),
    IMAGE,
])
def test_the_part_in_front_comes_first_and_every_part_stays(entity: bytes) -> None:
    message = Message(HEAD + entity)
    fronted = message.fronted()
    assert fronted is not None and fronted.front is fronted.root.children[0]
    assert fronted.root.ctype == "multipart/mixed"
    assert fronted.shown_before_body() is None
    assert _leaf_bytes(fronted)[1:] == _leaf_bytes(message)
    assert _bytes(fronted.sender_bodies()) == _bytes(message.bodies())


def _bytes(bodies: dict[str, object]) -> dict[str, bytes]:
    return {kind: part.body() for kind, part in bodies.items()}  # type: ignore[attr-defined]


def _leaf_bytes(message: Message) -> list[bytes]:
    """Every leaf's body bytes and MIME fields (a wrapped root's move to its part)."""
    return [part.body() + b"".join(f.raw for f in part.header if f.key.startswith("content-"))
            for part in leaves(message.root)]


EXAMPLES = int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(messages())
def test_what_shows_first_is_a_part_of_the_message_and_no_body(generated) -> None:  # type: ignore[no-untyped-def]
    message = Message(generated.raw)
    bodies = list(message.bodies().values())
    found = shown_before(message.root, bodies)
    if found is not None:
        assert any(found is part for part in message.root.walk())
        assert all(found is not body for body in bodies)
    children = message.root.children or []
    if message.root.ctype == "multipart/mixed" and children and \
            any(children[0] is body for body in bodies):
        assert found is None  # a body first is shown first


@settings(max_examples=EXAMPLES, deadline=None)
@given(messages())
def test_a_part_in_front_puts_the_banner_first_and_keeps_every_part(generated) -> None:  # type: ignore[no-untyped-def]
    message = Message(generated.raw)
    if message.unreachable() or message.shown_before_body() is None:
        return
    fronted = message.fronted()
    assert fronted is not None
    assert fronted.shown_before_body() is None  # fronting once is enough: idempotent
    assert fronted.front is not None and fronted.front.body() == b""
    assert _leaf_bytes(fronted)[1:] == _leaf_bytes(message)
    assert _bytes(fronted.sender_bodies()) == _bytes(message.bodies())


# -- what no guard confines: measured in Thunderbird 153 (tests/test_thunderbird.py) ----------

HIDING = b"Content-Type: text/html\r\n\r\n<style>pre{display:none!important}</style>\r\n"
INNER_HTML = b"Subject: fwd\r\nMIME-Version: 1.0\r\n" + HIDING
INNER_PLAIN = b"Subject: fwd\r\nMIME-Version: 1.0\r\n" + PLAIN


def _part(header: bytes, body: bytes = b"<style>pre{display:none}</style>\r\n") -> bytes:
    return header + b"\r\n" + body


@pytest.mark.parametrize(("entity", "expected"), [
    # An attached message shows inline whatever its disposition: with HTML, it is exposed.
    (_part(b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n",
           INNER_HTML), "message/rfc822"),
    (_part(b"Content-Type: message/news\r\n", INNER_HTML), "message/news"),
    (_part(b"Content-Type: message/rfc822\r\n", INNER_PLAIN), None),
    (_part(b"Content-Type: message/global\r\n", INNER_HTML), None),  # shown as text
    (multipart("digest", b"\r\n" + INNER_HTML, boundary="d"), "message/rfc822"),
    # Two levels down.
    (_part(b"Content-Type: message/rfc822\r\n", b"Subject: a\r\nMIME-Version: 1.0\r\n"
           + multipart("mixed", PLAIN, _part(b"Content-Type: message/rfc822\r\n", INNER_HTML),
                       boundary="n")), "message/rfc822"),
    # Types it reads from the name, or after the last "?".
    (_part(b'Content-Type: application/octet-stream; name="a.html"\r\n'),
     "application/octet-stream"),
    (_part(b"Content-Type: application/octet-stream\r\n"
           b'Content-Disposition: inline; filename="A.HTM"\r\n'), "application/octet-stream"),
    (_part(b"Content-Type: application/octet-stream; name*=utf-8''a%2Eshtml\r\n"),
     "application/octet-stream"),
    (_part(b'Content-Type: application/x-unknown-content-type; name="a.html"\r\n'),
     "application/x-unknown-content-type"),
    (_part(b'Content-Type: application/octet-stream; name="a.eml"\r\n', INNER_HTML),
     "application/octet-stream"),
    (_part(b"Content-Type: =?us-ascii?q?text/html\r\n"), "=?us-ascii?q?text/html"),
    (_part(b"Content-Type: text/plain?text/html\r\n"), "text/plain?text/html"),
    (_part(b'Content-Type: text/html; name="a.html"\r\n'), "text/html"),
    (_part(b'Content-Type: =?x?q?multipart/mixed; boundary="q"\r\n',
           b"--q\r\n" + HIDING + b"--q--\r\n"), "=?x?q?multipart/mixed"),
    # What it lists, not shows, and what the guard confines.
    (_part(b'Content-Type: application/octet-stream; name="a.html"\r\n'
           b"Content-Disposition: attachment\r\n"), None),
    (_part(b'Content-Type: text/html; name="a.html"\r\nContent-Disposition: attachment\r\n'),
     None),
    (_part(b'Content-Type: application/octet-stream; name="a.eml"\r\n'
           b"Content-Transfer-Encoding: base64\r\n", b"U3ViamVjdDogeA0KDQp4DQo=\r\n"), None),
    (_part(b'Content-Type: binary/octet-stream; name="a.html"\r\n'), None),
    (_part(b'Content-Type: application/octet-stream; name="a.pdf"\r\n'), None),
    (_part(b"Content-Type: image/svg+xml\r\n"), None),  # an <img>: its style stays inside
    (HTML, None),  # a second HTML part: guarded
    # Not shown: a /related part the root may reference.
    (multipart("related", PLAIN, b"Content-ID: <m@x>\r\n"
               + _part(b"Content-Type: message/rfc822\r\n", INNER_HTML), boundary="r"), None),
], ids=lambda v: v if isinstance(v, str) or v is None else None)
def test_what_no_guard_confines(entity: bytes, expected: str | None) -> None:
    message = Message(HEAD + multipart("mixed", HTML, entity))
    found = [part.ctype for part, _ in unconfined(message.root)]
    assert found == ([] if expected is None else [expected])


def test_read_as_is_thunderbirds_type() -> None:
    root = Message(HEAD + _part(b'Content-Type: application/octet-stream; name="x.EML"\r\n'
                                b"Content-Transfer-Encoding: base64\r\n", b"eA==\r\n")).root
    assert read_as(root) == "application/octet-stream"  # a base64 .eml stays a file
    root = Message(HEAD + _part(b"Content-Type: =?utf-8?b?x?=?text/html\r\n")).root
    assert read_as(root) == "text/html"


@pytest.mark.parametrize(("fields", "expected"), [
    # Where Thunderbird looks for the name, in its order (measured in Thunderbird 153).
    (b'Content-Disposition: inline; filename="a.txt"\r\nContent-Name: a.html\r\n',
     "application/octet-stream"),
    (b"Content-Name: statement.html\r\n", "text/html"),
    (b"X-Sun-Data-Name: =?utf-8?q?statement=2Ehtml?=\r\n", "text/html"),
    (b"Content-Name: fwd.eml\r\n", "message/rfc822"),
    (b"Content-Name: statement.html\r\nContent-Disposition: attachment\r\n", "text/html"),
])
def test_read_as_takes_the_name_where_thunderbird_finds_it(fields: bytes, expected: str) -> None:
    root = Message(HEAD + _part(b"Content-Type: application/octet-stream\r\n" + fields)).root
    assert read_as(root) == expected
    shown = expected == "text/html" and b"attachment" not in fields
    assert bool(unconfined(root)) == shown


@pytest.mark.parametrize(("entity", "html"), [
    (PLAIN, False),
    (HTML, True),
    (multipart("alternative", PLAIN, HTML), True),
    (multipart("mixed", PLAIN, IMAGE), False),
    (multipart("mixed", PLAIN, _part(b"Content-Type: message/rfc822\r\n", INNER_PLAIN)), False),
    (multipart("mixed", PLAIN, _part(b"Content-Type: message/rfc822\r\n", INNER_HTML)), True),
    (multipart("signed", PLAIN, b"Content-Type: application/pkcs7-signature\r\n\r\nx\r\n"),
     False),
    (multipart("signed", HTML, b"Content-Type: application/pkcs7-signature\r\n\r\nx\r\n"),
     True),
    # What a client decrypts and then shows: nothing to look into.
    (_part(b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n", b"MIA\r\n"),
     True),
    (multipart("encrypted", b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"),
     True),
    # A multipart whose parts cannot be read, and an HTML attachment (listed, not shown).
    (b'Content-Type: multipart/mixed; boundary="gone"\r\n\r\nno delimiter\r\n', True),
    (_part(b"Content-Type: text/html\r\nContent-Disposition: attachment\r\n"), False),
], ids=lambda v: v if isinstance(v, bool) else None)
def test_draws_html_decides_how_a_wrap_attaches(entity: bytes, html: bool) -> None:
    assert draws_html(Message(HEAD + entity).root) is html
