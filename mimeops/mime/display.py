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
"""

from __future__ import annotations

from collections.abc import Iterable

from mimeops.mime.model import Part
from mimeops.mime.select import related_root

__all__ = ["shown_before", "shown_html"]

# Parts no client displays: detached signatures.
_NEVER_SHOWN = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                          "application/pgp-signature"})


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

