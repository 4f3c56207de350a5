"""What a client that shows every inline part shows first: before the banner, or after.

`select.bodies` names the bodies the banner enters, the ones a client shows as *the*
body. Thunderbird and Apple Mail show more: every inline part of a message, one after
another, in their own order. Whatever they show before the first body the banner
enters pushes the warning down the reading pane, and a sender chooses what that is (a
tall "Verified internal sender" image, an attached message, a padded text part). So
the flow asks `shown_before` and, when something comes first, puts a part carrying the
banner in front of everything (`mimeops.mime.wrap.front`).

The display order, measured in Thunderbird 153 (tests/test_thunderbird.py):

- multipart/mixed, /digest, /report and unknown multiparts: every child, in order;
  images inline whatever their Content-Disposition; attached messages (message/*)
  inline, also with `Content-Disposition: attachment`;
- multipart/alternative: one child, the one it judges best; that is not always the
  last (a /related before a last text/plain is shown), so any of them may be, but
  an earlier one of the same type as a later one;
- multipart/related: first every child with neither Content-ID nor Content-Location
  (nothing the root can reference), in order, then the root (the `start` parameter's,
  else the first child);
- multipart/signed: the signed content (the signature is no display).

Where clients differ, the answer leans to "shown": Apple Mail also shows attachment
icons and PDF pages where they stand, so any part but a signature counts as shown, and a
multipart whose parts cannot be read may show anything. A needless front part costs a
few lines; a missing one costs the warning.

Thunderbird puts every part it shows into one page, so the stylesheet and fixed boxes of
any HTML among them reach the banner. The guard confines the sender's HTML parts
(`shown_html`); `unconfined` names what else Thunderbird renders as HTML in that page,
as measured in Thunderbird 153:

- an attached message (message/rfc822 or message/news, whatever its
  Content-Disposition) with HTML anywhere inside: its bytes must stay as they are;
- a part Thunderbird reads as HTML though its declared type says otherwise: it reads
  the type after the last "?" (`=?us-ascii?q?text/html`), and the type of an
  application/octet-stream (or application/x-unknown-content-type) part from its name
  (`report.html`, `X.HTM`, `a.shtml`; a name ending in .eml makes an attached message,
  unless the part is in base64), the name where Thunderbird looks for it: the
  disposition's filename, the type's name, a Content-Name or X-Sun-Data-Name field;
  such a part is shown unless its disposition is `attachment`;
- text/html with a name and no disposition (an attachment to other clients);
- a multipart Thunderbird reads that is no multipart to us (`=?x?q?multipart/mixed`).

`draws_html` asks the same of a message shown whole as an attached message (nothing in
it is guarded there): a wrap attaches the original as message/rfc822 only when it says
no (mimeops.mime.wrap).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mimeops.errors import UndecodableBody
from mimeops.mime import transfer
from mimeops.mime.model import Part, parse
from mimeops.mime.select import related_root

__all__ = ["draws_html", "read_as", "shown_before", "shown_html", "unconfined"]

# Parts no client displays: detached signatures.
_NEVER_SHOWN = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                          "application/pgp-signature"})


# Types Thunderbird replaces with one guessed from the part's name.
_GUESSED = frozenset({"application/octet-stream", "application/x-unknown-content-type"})
# Names it reads as HTML or as a message (measured: .html, .htm, .shtml; .eml; the rest
# are what other systems map to those types, in case their type tables say so).
_HTML_NAMES = frozenset({"htm", "html", "shtm", "shtml", "xht", "xhtml"})
_MESSAGE_NAMES = frozenset({"eml", "mht", "mhtml", "nws"})
_MESSAGES = frozenset({"message/rfc822", "message/news"})
# What it decrypts or unwraps and then shows: nothing we can look into.
_OPAQUE = frozenset({"multipart/encrypted", "application/pkcs7-mime",
                     "application/x-pkcs7-mime"})
# Attached messages inside attached messages looked into; deeper counts as HTML.
_NESTING = 8
_EXPOSED = "in the page the banner is in, where its stylesheet can hide the banner"


def read_as(part: Part) -> str:
    """The content type Thunderbird renders `part` as (see the module doc)."""
    ctype = part.ctype.rpartition("?")[2]
    name = _name(part) if ctype in _GUESSED else None
    if not name or "." not in name:
        return ctype
    extension = name.rpartition(".")[2].strip().lower()
    if extension in _HTML_NAMES:
        return "text/html"
    if extension in _MESSAGE_NAMES and part.cte != "base64":
        return "message/rfc822"
    return ctype


def _name(part: Part) -> str | None:
    """The name Thunderbird guesses a type from, in its order: the disposition's
    filename, the type's name, then the old Content-Name and X-Sun-Data-Name fields
    (measured: a part named only there is shown as HTML)."""
    if part.filename:
        return part.filename
    field = part.header.field("content-name") or part.header.field("x-sun-data-name")
    return field.decoded() if field else None


def unconfined(root: Part) -> list[tuple[Part, str]]:
    """Each part a client that shows every inline part renders as HTML in the page the
    banner is in, which the guard does not confine (not in `shown_html`), with why ("an
    attached message with HTML, shown in the page the banner is in, ..."). Reads attached
    messages' bodies, nothing else."""
    guarded = {id(part) for part in shown_html(root)}
    found = []
    for part in _leaves(root):
        what = _draws(part, 0, strict=False)
        if what and id(part) not in guarded:
            found.append((part, f"{what} {_EXPOSED}"))
    return found


def draws_html(root: Part) -> bool:
    """Whether a client showing the message `root` whole (as an attached message, where
    nothing is guarded) may put HTML of it into its page: text/html it shows, an attached
    message that does, or what cannot be looked into (encrypted or unwrapped content, a
    multipart whose parts cannot be read)."""
    return _html_inside(root, 0)


def _html_inside(root: Part, depth: int) -> bool:
    return any(_draws(part, depth, strict=True) for part in _leaves(root))


def _leaves(part: Part) -> Iterator[Part]:
    """The parts Thunderbird shows, in order, multiparts opened (an encrypted one, or one
    it reads that we cannot, as itself)."""
    if part.children is None or not read_as(part).startswith("multipart/") \
            or part.subtype == "encrypted":
        yield part
        return
    for child in _chosen(part.children) if part.subtype == "alternative" else _order(part):
        yield from _leaves(child)


def _draws(part: Part, depth: int, strict: bool) -> str | None:
    """What `part` is when it puts HTML into the page (None: it does not). `strict`: also
    what cannot be looked into (inside an attached message, nothing is guarded)."""
    ctype = read_as(part)
    if ctype == "text/html":
        return None if part.disposition[0] == "attachment" else "shown as HTML"
    if ctype in _MESSAGES:
        return "an attached message with HTML, shown" if _message_html(part, depth) else None
    if ctype.startswith("multipart/") and (part.children is None or ctype != part.ctype):
        unread = "a multipart we cannot read, shown"
        return unread if strict or ctype != part.ctype else None
    return "encrypted or wrapped content, shown" if strict and ctype in _OPAQUE else None


def _message_html(part: Part, depth: int) -> bool:
    """Whether the attached message `part` holds HTML a client shows (beyond `_NESTING`
    levels, or not decodable: assume it does)."""
    if depth >= _NESTING:
        return True
    try:
        inner = transfer.decode(part.cte, part.body())
    except UndecodableBody:
        return True
    return _html_inside(parse(inner), depth + 1)


def shown_before(root: Part, bodies: Iterable[Part]) -> Part | None:
    """The first part a client that shows every inline part may show before any of
    `bodies` (the parts the banner enters), or None when a body comes first or nothing
    shows at all. Reads the part tree only (no body bytes)."""
    targets = {id(part) for part in bodies}
    first = _first(root, targets)
    return None if first is None or id(first) in targets else first


def shown_html(root: Part) -> list[Part]:
    """Every text/html part such a client may show (outside attached messages, which
    are opaque here): Thunderbird renders them all into one document, where the
    stylesheet of each reaches the others."""
    found: list[Part] = []
    _collect_html(root, found)
    return found


def _collect_html(part: Part, found: list[Part]) -> None:
    if part.ctype == "text/html":
        if not part.is_attachment:
            found.append(part)
        return
    if part.maintype != "multipart" or not part.children or part.subtype == "encrypted":
        return
    shown = _chosen(part.children) if part.subtype == "alternative" else _order(part)
    for child in shown:
        _collect_html(child, found)


def _first(part: Part, targets: set[int]) -> Part | None:
    """The first thing `part` shows: a body, another part, or None (nothing)."""
    if id(part) in targets:
        return part
    if part.maintype != "multipart":
        return None if part.ctype in _NEVER_SHOWN else part
    if not part.children:
        return part  # unreadable (no delimiter, nesting limit): it may show anything
    if part.subtype == "alternative":
        shown = [f for child in _chosen(part.children)
                 if (f := _first(child, targets)) is not None]
        others = [f for f in shown if id(f) not in targets]
        return next(iter(others or shown), None)
    if part.subtype == "encrypted":
        return None  # a client shows no content of it without the key
    for child in _order(part):
        found = _first(child, targets)
        if found is not None:
            return found
    return None


def _chosen(children: list[Part]) -> list[Part]:
    """The alternatives a client may pick: the last of each content type."""
    last = {child.ctype: child for child in children}
    return [child for child in children if last[child.ctype] is child]


def _order(part: Part) -> list[Part]:
    """The children of a multipart other than /alternative, in display order."""
    children = part.children or []
    if part.subtype == "signed":
        return children[:1]
    if part.subtype != "related":
        return children
    root = related_root(part, children)
    loose = [child for child in children if child is not root
             and child.header.get("content-id") is None
             and child.header.get("content-location") is None]
    return [*loose, root]

