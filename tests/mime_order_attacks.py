"""Ways a sender orders MIME parts so that a mail client shows something of theirs before
the body the banner enters, as data for tests/test_thunderbird.py.

Thunderbird (and Apple Mail) show the inline parts of a message one after another: a tall
"Verified internal sender" image first pushes a banner in the body below the first
screen. Each entry is (name, what it tries, the raw message from outside); the HTML
body carries ORIGINAL, text the reader must still see. CONTROLS are ordinary messages
whose body already comes first: they get no part in front.
"""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

from tests.banner_attacks import ORIGINAL

_BODY = (f"<!DOCTYPE html><html><body><p>{ORIGINAL}</p>"
         "<p>Wire the amount to the account below.</p></body></html>")


def _strip(width: int = 880, height: int = 1400) -> bytes:
    """A tall PNG whose top says the message is safe: what a sender puts first."""
    img = Image.new("RGB", (width, height), "#e8f5e9")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width - 1, 90), fill="#2e7d32")
    draw.text((20, 30), "Verified internal sender - this message is safe", fill="#ffffff")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


_PNG = base64.encodebytes(_strip()).replace(b"\n", b"\r\n")
_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="880" height="1400">'
        b'<rect width="880" height="1400" fill="#e8f5e9"/><text x="20" y="50">'
        b"Verified internal sender</text></svg>")


def _image(disposition: bytes = b"inline", extra: bytes = b"") -> bytes:
    return (b'Content-Type: image/png; name="verified.png"\r\n'
            b"Content-Disposition: " + disposition + b'; filename="verified.png"\r\n'
            + extra + b"Content-Transfer-Encoding: base64\r\n\r\n" + _PNG)


def _html(extra: bytes = b"", body: str = _BODY) -> bytes:
    return (b"Content-Type: text/html; charset=utf-8\r\n" + extra
            + b"\r\n" + body.encode() + b"\r\n")


_PLAIN = (b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + ORIGINAL.encode()
          + b"\r\nWire the amount to the account below.\r\n")
_INNER = (b"From: IT Security <security@example.com>\r\nTo: user@example.com\r\n"
          b"Subject: Verified internal sender\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: text/html; charset=utf-8\r\n\r\n"
          b'<div style="background:#e8f5e9;height:1400px;font-size:32px">Verified internal '
          b"sender: this message is safe.</div>\r\n")


_INNER_PLAIN = (b"From: IT Security <security@example.com>\r\nTo: user@example.com\r\n"
                b"Subject: Forwarded\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe forwarded text.\r\n")


def _attached(disposition: bytes | None) -> bytes:
    header = b"Content-Type: message/rfc822\r\n"
    if disposition:
        header += b"Content-Disposition: " + disposition + b"\r\n"
    return header + b"\r\n" + _INNER


def _padded(ctype: bytes) -> bytes:
    return (b"Content-Type: " + ctype + b"\r\n\r\n" + b"\r\n" * 120
            + b"Verified internal sender: this message is safe.\r\n")


def multipart(subtype: str, *parts: bytes, boundary: str = "b1", params: str = "") -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part for part in parts)
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"{params}\r\n\r\n'
            .encode() + body + b"--" + boundary.encode() + b"--\r\n")


def message(name: str, entity: bytes) -> bytes:
    """A message from outside whose MIME entity (header and body) is `entity`."""
    return ("From: Billing <billing@outside.example.net>\r\nTo: user@example.com\r\n"
            "Subject: Invoice\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
            f"Message-ID: <{name}@outside.example.net>\r\nMIME-Version: 1.0\r\n"
            ).encode() + entity


ATTACKS: list[tuple[str, str, bytes]] = [
    ("image-first", "a tall inline image before the body",
     message("image-first", multipart("mixed", _image(), _html()))),
    ("image-attachment-first", "an image with disposition attachment (shown inline anyway)",
     message("image-att", multipart("mixed", _image(b"attachment"), _html()))),
    ("svg-first", "an SVG image before the body",
     message("svg-first", multipart("mixed", b"Content-Type: image/svg+xml\r\n"
                                    b"Content-Disposition: inline\r\n\r\n" + _SVG + b"\r\n",
                                    _html()))),
    ("image-before-alternative", "an image before a plain/HTML alternative",
     message("image-alt", multipart("mixed", _image(),
                                    multipart("alternative", _PLAIN, _html(), boundary="b2")))),
    ("nested-image-first", "the image one multipart down",
     message("nested", multipart("mixed", multipart("mixed", _image(), boundary="b2"),
                                 _html()))),
    ("attached-message-first", "an attached message shown inline before the body",
     message("msg-first", multipart("mixed", _attached(b"inline"), _html()))),
    ("attached-message-as-attachment", "the same with disposition attachment",
     message("msg-att", multipart("mixed", _attached(b"attachment"), _html()))),
    ("digest-first", "a digest of one message before the body",
     message("digest", multipart("mixed", multipart("digest", b"\r\n" + _INNER,
                                                    boundary="b2"), _html()))),
    ("padded-text-first", "a padded text part of a type the banner never enters",
     message("padded", multipart("mixed", _padded(b"text/x-note; charset=utf-8"), _html()))),
    ("padded-enriched-alternative", "text/enriched as the last alternative",
     message("enriched", multipart("alternative", _PLAIN,
                                   _padded(b"text/enriched; charset=utf-8")))),
    ("related-unreferenced-image", "a /related image the HTML does not reference",
     message("related", multipart("related", _html(), _image()))),
    ("related-start-image-first", "a /related whose root is its second part",
     message("related-start", multipart("related", _image(),
                                        _html(b"Content-ID: <root@outside.example.net>\r\n"),
                                        params='; start="<root@outside.example.net>"'))),
    ("alternative-related-image", "the HTML alternative's /related image first",
     message("alt-related", multipart("alternative", _PLAIN,
                                      multipart("related", _html(), _image(), boundary="b2")))),
    ("unknown-multipart", "an unknown multipart (shown as mixed)",
     message("unknown", multipart("x-parallel-ish", _image(), _html()))),
    ("related-text-before-root", "a /related text part with no Content-ID before the root",
     message("related-text", multipart("related", _html(),
                                       _padded(b"text/plain; charset=utf-8")))),
]

# Bodies that come first already: no part in front, the message as before.
CONTROLS: list[tuple[str, str, bytes]] = [
    ("html-then-image", "the body first, an image after it",
     message("c1", multipart("mixed", _html(), _image()))),
    ("alternative", "plain and HTML alternatives",
     message("c2", multipart("alternative", _PLAIN, _html()))),
    ("related-referenced", "a /related image the HTML references",
     message("c3", multipart("related", _html(body=_BODY.replace(
         "</body>", '<img src="cid:img@outside.example.net"></body>')),
         _image(extra=b"Content-ID: <img@outside.example.net>\r\n")))),
    ("body-then-attached-message", "the body, then a forwarded plain-text message",
     message("c4", multipart("mixed", _html(), b"Content-Type: message/rfc822\r\n"
                             b"Content-Disposition: attachment\r\n\r\n" + _INNER_PLAIN))),
]

ATTACKS += [
    ("named-text-first", "a padded text part with a name and no disposition",
     message("named-text", multipart("mixed", _padded(
         b'text/plain; charset=utf-8; name="verified.txt"'), _html()))),
    ("alternative-image-richest", "an alternative whose richest version is an image",
     message("alt-image", multipart("mixed", multipart("alternative", _PLAIN, _image(),
                                                       boundary="b2"), _html()))),
    ("deep-image-first", "the image three multiparts down",
     message("deep", multipart("mixed", multipart("mixed", multipart(
         "related", _image(), boundary="b3"), boundary="b2"), _html()))),
]

# A second HTML part is shown in the same document as the first (Thunderbird puts every
# part in one page): its stylesheet and its fixed boxes reach the banner unless guarded.
_LEAK_CSS = ("<style>.moz-text-html:first-of-type,.moz-text-plain,pre,"
             "body>div:first-of-type{display:none!important}</style>")
_COVER = ('<div style="position:fixed;top:0;left:0;width:100%;height:400px;background:#fff;'
          'z-index:2147483647">Verified internal sender</div>')
ATTACKS += [
    ("second-html-stylesheet", "a second HTML part whose stylesheet hides the first",
     message("second-css", multipart("mixed", _html(), _html(body=_LEAK_CSS + "<p>More</p>")))),
    ("second-html-cover", "a second HTML part with a fixed white box over the top",
     message("second-cover", multipart("mixed", _html(), _html(body=_COVER + "<p>More</p>")))),
    ("padded-text-then-html-css", "a text body first, then HTML that hides text parts",
     message("text-css", multipart("mixed", _padded(b"text/plain; charset=utf-8"),
                                   _html(body=_LEAK_CSS + _BODY)))),
    ("related-loose-html-css", "an unreferenced /related HTML part with a stylesheet",
     message("rel-css", multipart("related", _html(),
                                  _html(body=_LEAK_CSS + _COVER + "<p>More</p>")))),
]

# An attached message is shown in the same page as the bodies, whatever its disposition,
# and its bytes must stay as they are: no guard can confine its stylesheet. Nor that of a
# part Thunderbird reads as HTML though its type says otherwise (measured in Thunderbird
# 153, docs/rendering.md). Such a message is attached whole as an .eml file under the
# banner (the wrap): each must show the banner first and list the original.
_SHOW_OWN = ":not(fieldset *):not(fieldset)"
_HIDING = {
    "stylesheet": (f"<style>.moz-text-plain{_SHOW_OWN},.moz-text-flowed{_SHOW_OWN},"
                   f".moz-text-html{_SHOW_OWN}{{display:none!important}}</style>"),
    "cover": _COVER,
    "visibility": ("<style>body *{visibility:hidden!important}</style>"
                   '<p style="visibility:visible!important">Verified internal sender</p>'),
    "pull-up": ('<div style="position:relative;z-index:2147483647;margin-top:-5000px;'
                'height:5000px;background:#fff">Verified internal sender</div>'),
    "structure": "<style>body>:not(:last-child){display:none!important}</style>",
}


def _inner(technique: str, entity: bytes | None = None) -> bytes:
    """A message whose HTML (or `entity`) goes for the page around it."""
    body = entity or (b"Content-Type: text/html; charset=utf-8\r\n\r\n"
                      + _HIDING[technique].encode() + b"<p>Verified internal sender.</p>\r\n")
    return (b"From: IT Security <security@example.com>\r\nTo: user@example.com\r\n"
            b"Subject: Verified internal sender\r\nMIME-Version: 1.0\r\n" + body)


def _forward(inner: bytes, ctype: bytes = b"message/rfc822",
             disposition: bytes = b"attachment") -> bytes:
    return (b"Content-Type: " + ctype + b"\r\nContent-Disposition: " + disposition
            + b"\r\n\r\n" + inner)


def _as_html(header: bytes, technique: str = "stylesheet") -> bytes:
    """A part of the sender's that Thunderbird renders as HTML, declared as `header`."""
    return header + b"\r\n" + _HIDING[technique].encode() + b"<p>Verified.</p>\r\n"


ATTACHED_HTML: list[tuple[str, str, bytes]] = [
    ("forward-stylesheet", "a forwarded message whose stylesheet hides the text parts",
     message("fwd-css", multipart("mixed", _html(), _forward(_inner("stylesheet"))))),
    ("forward-cover", "a forwarded message with a fixed white box over the page",
     message("fwd-cover", multipart("mixed", _html(), _forward(_inner("cover"))))),
    ("forward-first-visibility", "a forwarded message first that hides everything else",
     message("fwd-vis", multipart("mixed", _forward(_inner("visibility"), disposition=b"inline"),
                                  _html()))),
    ("forward-pull-up", "a forwarded message pulling a white box up over the banner",
     message("fwd-pull", multipart("mixed", _html(), _forward(_inner("pull-up"))))),
    ("digest-structure", "a digest whose message hides all but the last part",
     message("digest-css", multipart("mixed", _html(), multipart(
         "digest", b"\r\n" + _inner("structure"), boundary="b2")))),
    ("forward-in-forward", "the stylesheet two attached messages down",
     message("fwd-fwd", multipart("mixed", _html(), _forward(_inner("stylesheet", multipart(
         "mixed", _PLAIN, _forward(_inner("stylesheet")), boundary="b2")))))),
    ("forward-alternative", "a forwarded message whose HTML is an alternative",
     message("fwd-alt", multipart("mixed", _html(), _forward(_inner("cover", multipart(
         "alternative", _PLAIN, _html(body=_COVER + "<p>More</p>"), boundary="b2")))))),
    ("message-news", "an attached message/news part",
     message("news", multipart("mixed", _html(), _forward(_inner("stylesheet"),
                                                          b"message/news")))),
    ("octet-stream-html", "an application/octet-stream part named .html",
     message("octet-html", multipart("mixed", _html(), _as_html(
         b'Content-Type: application/octet-stream; name="statement.html"\r\n')))),
    ("octet-stream-htm-inline", "the same named .HTM in its inline disposition",
     message("octet-htm", multipart("mixed", _html(), _as_html(
         b"Content-Type: application/octet-stream\r\n"
         b'Content-Disposition: inline; filename="STATEMENT.HTM"\r\n', "cover")))),
    ("octet-stream-eml", "an application/octet-stream part named .eml, not in base64",
     message("octet-eml", multipart("mixed", _html(), _forward(
         _inner("stylesheet"), b'application/octet-stream; name="fwd.eml"')))),
    ("unknown-type-shtml", "Thunderbird's own unknown type, named .shtml",
     message("unknown-shtml", multipart("mixed", _html(), _as_html(
         b'Content-Type: application/x-unknown-content-type; name="a.shtml"\r\n')))),
    ("encoded-word-type", "a content type written as an encoded word",
     message("ew-type", multipart("mixed", _html(), _as_html(
         b"Content-Type: =?us-ascii?q?text/html\r\n")))),
    ("question-mark-type", "a type Thunderbird reads after the last question mark",
     message("q-type", multipart("mixed", _html(), _as_html(
         b"Content-Type: text/plain?text/html\r\n", "visibility")))),
    ("question-mark-multipart", "a multipart only Thunderbird reads, holding HTML",
     message("q-multi", multipart("mixed", _html(), multipart(
         "mixed", _as_html(b"Content-Type: text/html\r\n"), boundary="b2").replace(
         b"multipart/mixed", b"=?us-ascii?q?multipart/mixed", 1)))),
    ("content-name-html", "an octet-stream part named .html only in a Content-Name field",
     message("content-name", multipart("mixed", _html(), _as_html(
         b"Content-Type: application/octet-stream\r\nContent-Name: statement.html\r\n")))),
    ("sun-data-name-html", "an octet-stream part named .html only in X-Sun-Data-Name",
     message("sun-name", multipart("mixed", _html(), _as_html(
         b"Content-Type: application/octet-stream\r\nX-Sun-Data-Name: statement.html\r\n",
         "cover")))),
    # Types Thunderbird 153 turns into markup of its own, or lists: measured to keep the
    # sender's stylesheet out of the page (no wrap needed, none made).
    ("xhtml-part", "an application/xhtml+xml part with a stylesheet that hides the rest",
     message("xhtml", multipart("mixed", _html(), _as_html(
         b"Content-Type: application/xhtml+xml\r\n")))),
    ("enriched-param-injection", "text/enriched whose params try to close the markup",
     message("enriched-param", multipart("mixed", _html(), b"Content-Type: text/enriched\r\n"
         b"\r\n<fontfamily><param>x\"><style>" + _HIDING["stylesheet"][7:-8].encode()
         + b'</style><span a="</param>text</fontfamily>\r\n'))),
    ("richtext-style", "text/richtext carrying a raw stylesheet",
     message("richtext", multipart("mixed", _html(), _as_html(
         b"Content-Type: text/richtext\r\n")))),
    ("named-html-no-disposition", "text/html with a name and no disposition",
     message("named-html", multipart("mixed", _html(), _as_html(
         b'Content-Type: text/html; name="offer.html"\r\n', "pull-up")))),
]
ATTACKS += ATTACHED_HTML

# Parts Thunderbird lists, not shows: no wrap, nothing in front.
CONTROLS += [
    ("html-file-attachment", "an HTML file with disposition attachment",
     message("c5", multipart("mixed", _html(), _as_html(
         b'Content-Type: application/octet-stream; name="a.html"\r\n'
         b'Content-Disposition: attachment; filename="a.html"\r\n')))),
    # RFC 6532's message with UTF-8 header fields: Thunderbird 153 lists it, so its
    # stylesheet never reaches the page (measured): no wrap.
    ("message-global", "an attached message/global whose stylesheet hides the text parts",
     message("c7", multipart("mixed", _html(), _forward(_inner("stylesheet"),
                                                        b"message/global")))),
    ("eml-file-in-base64", "a forwarded message as a base64 .eml file",
     message("c6", multipart("mixed", _html(), b'Content-Type: application/octet-stream; '
                             b'name="fwd.eml"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                             + base64.encodebytes(_inner("stylesheet")).replace(b"\n", b"\r\n")))),
]

# `protected: wrap` (the default for signed mail from outside): a phish in a bogus
# signature whose HTML hides the text parts. Attached whole as message/rfc822, Thunderbird
# would show it in the page of the banner; attached as an .eml file, it shows nothing.
SIGNED_PHISH = message("signed-phish", multipart(
    "signed", _html(body=_HIDING["stylesheet"] + _BODY),
    b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n",
    params='; protocol="application/pkcs7-signature"; micalg=sha-256'))
