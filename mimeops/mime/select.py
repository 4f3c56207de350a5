"""Which parts a mail client shows as the body, and which messages to leave alone."""

from __future__ import annotations

from mimeops.errors import UndecodableBody
from mimeops.mime.model import MAX_DEPTH, Part

_SIGNED_OR_ENCRYPTED = {
    "multipart/signed": "signed message (multipart/signed)",
    "multipart/encrypted": "encrypted message (multipart/encrypted)",
    "application/pkcs7-mime": "S/MIME message (application/pkcs7-mime)",
    "application/x-pkcs7-mime": "S/MIME message (application/x-pkcs7-mime)",
}
_PGP_ARMOUR = (b"-----BEGIN PGP MESSAGE-----", b"-----BEGIN PGP SIGNED MESSAGE-----")


def bodies(root: Part, skip: Part | None = None) -> dict[str, Part]:
    """The main `plain` and `html` parts, as a client displays them.

    Through multipart/alternative (the last of each kind wins, as in clients),
    /related (its root part; the first displayable child when the root is no
    text) and /mixed (the first displayable child); never an
    attachment and never inside an attached message. Never `skip` either (the part
    the flow put in front: the bodies the sender wrote are the ones after it).
    """
    return _bodies(root, [], skip)


def unreachable(root: Part) -> list[tuple[Part, str]]:
    """Each multipart on the way to the shown body whose parts cannot be read (nested
    past `MAX_DEPTH`, or no delimiter found), with "<content-type>: <reason>"."""
    return selection(root)[1]


def selection(root: Part, skip: Part | None = None) -> tuple[dict[str, Part],
                                                            list[tuple[Part, str]]]:
    """`bodies` and `unreachable` from one walk (`Message` keeps it: a flow asks both
    several times of a tree whose structure its edits never change)."""
    out: list[tuple[Part, str]] = []
    found = _bodies(root, out, skip)
    return found, out


def bare_parts(root: Part, bare: list[str], skip: Part | None = None) -> list[Part]:
    """The parts that `bare` ("<content-type>: <reason>", as transforms report a body
    they could not enter) names: a shown body of that type (never `skip`, the part the
    flow put in front), a multipart `unreachable` names with that reason, or the message
    itself when it shows no text at all."""
    shown = {part.ctype: part for part in bodies(root, skip).values()}
    hidden = dict((why, part) for part, why in unreachable(root))
    found: list[Part] = []
    for entry in bare:
        ctype = entry.partition(": ")[0]
        part = hidden.get(entry) or shown.get(ctype)
        if part is None and entry == f"{root.ctype}: {NO_TEXT}":
            part = root
        if part is not None and all(part is not other for other in found):
            found.append(part)
    return found


NO_TEXT = "no text part a client shows"


def _bodies(part: Part, bare: list[tuple[Part, str]],
            skip: Part | None = None) -> dict[str, Part]:
    if part.is_attachment or part is skip:
        return {}
    if part.maintype == "text":
        return {part.subtype: part} if part.subtype in ("plain", "html") else {}
    if part.maintype != "multipart":
        return {}
    if not part.children:
        why = "nesting limit" if part.depth >= MAX_DEPTH else "no parts found"
        bare.append((part, f"{part.ctype}: {why}"))
        return {}
    if part.subtype == "alternative":
        found: dict[str, Part] = {}
        for child in part.children:
            found.update(_bodies(child, bare, skip))
        return found
    if part.subtype == "related":
        found = _bodies(related_root(part, part.children), bare, skip)
        if found:
            return found
        # A root that is no text (an image first): clients still show the text part,
        # so it is the body, as under /mixed; a sender cannot park the HTML behind one.
    for child in part.children:
        found = _bodies(child, bare, skip)
        if found:
            return found
    return {}


def related_root(part: Part, children: list[Part]) -> Part:
    """The root of a multipart/related: the child its `start` parameter names, else
    the first (RFC 2387)."""
    start = part.params.get("start", "").strip("<> ")
    if start:
        for child in children:
            if (child.header.get("content-id") or "").strip("<> ") == start:
                return child
    return children[0]


def hands_off(root: Part, reports: bool = True,
              shown: dict[str, Part] | None = None) -> str | None:
    """Why this message must not be rewritten, or None.

    Signed or encrypted content breaks when touched, reports and calendar
    invitations are read by software, inline PGP armour would no longer verify.
    `reports=False` when a report is to be treated as mail like any other.
    """
    for part in root.walk():
        if part.ctype in _SIGNED_OR_ENCRYPTED:
            return _SIGNED_OR_ENCRYPTED[part.ctype]
        if part.ctype == "multipart/report" and reports:
            return "delivery or disposition report (multipart/report)"
        if part.ctype == "text/calendar" and not part.is_attachment:
            return "calendar invitation (text/calendar)"
    for part in (bodies(root) if shown is None else shown).values():
        try:
            text = part.decoded()
        except UndecodableBody:
            continue
        if any(marker in text for marker in _PGP_ARMOUR):
            return "inline PGP message"
    return None
